#!/usr/bin/env bash
# Install the Debian packages the integration tests use (a real Prometheus + promtool, a
# real Alertmanager, headless Chromium, rsyslog with its GnuTLS driver for the SIEM tests,
# stunnel for the mutual TLS tunnel, Ruby to run the Fluentd pipeline's record expressions;
# Node.js/npm, git, rsync and a C++ toolchain for gitlab-ci-local, which runs the pipeline
# tests and builds its re2 dependency). Runs apt-get only when something is missing and we are
# root; otherwise says what to install and carries on (the tests that need it skip, saying why).
set -euo pipefail
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
compgen -G "/usr/lib/*/rsyslog/lmnsd_gtls.so" >/dev/null || need+=(rsyslog-gnutls)
command -v ruby >/dev/null || need+=(ruby)
command -v rsync >/dev/null || need+=(rsync)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v git >/dev/null || need+=(git)
command -v npm >/dev/null || need+=(npm)
command -v stunnel4 >/dev/null || need+=(stunnel4)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "note: install ${need[*]} (Debian packages) to run every integration test" >&2
fi
