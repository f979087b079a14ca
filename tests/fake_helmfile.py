"""A recording fake of the helmfile binary, installed as `helmfile` on PATH by the tests.

Each call appends {"argv": [...], "env": {...}} to $FAKE_HELMFILE_LOG and answers from
$FAKE_HELMFILE_SCENARIO with output shaped like helmfile 0.16x/1.x with helm-diff 3.x:
  changes  diff/apply report cilium (upgraded) and gitlab-agent (first install)
  install  diff/apply report cilium's first install
  upgrade  diff/apply report cilium and prometheus (both upgraded)
  none     nothing differs
  error    exit 1, a Kubernetes error on stderr
  stream   print one line, then wait (bounded) for $FAKE_HELMFILE_MARKER, which the
           caller creates only after it has seen that line: proves output is streamed
With $FAKE_HELMFILE_HELM_UPGRADES=1, `apply` also runs `<--helm-binary> upgrade --install`
for each release of its UPDATED RELEASES table, as helmfile does (the recording fake helm
then holds the new revisions).
`build` and `template` run the real binary ($REAL_HELMFILE) when it is set. `diff` and
`apply` fail as the real one does (its requiredEnv error, exit 1) when GITLAB_AGENT_TOKEN
is unset, which tests/ci/test_deploy.py checks against the real binary. Every scenario
also prints the agent token once, as a careless tool might: callers must redact it.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

argv = sys.argv[1:]
with Path(os.environ["FAKE_HELMFILE_LOG"]).open("a") as log:
    keys = ("GITLAB_AGENT_TOKEN", "HELMFILE_V1MODE", "KUBECONFIG")
    log.write(json.dumps({"argv": argv, "env": {k: os.environ.get(k) for k in keys}}) + "\n")

command = next((a for a in argv if a in ("diff", "apply", "build", "template")), None)
real = os.environ.get("REAL_HELMFILE")
if command in ("build", "template") and real:
    os.execv(real, [real, *argv])

REQUIRED_ENV_ERROR = (
    'in ./helmfile.d/40-gitlab-agent.yaml.gotmpl: failed to render values files '
    '"../values/agent-token.yaml.gotmpl": failed to render [../values/agent-token.yaml.gotmpl], '
    'because of template: stringTemplate:4:12: executing "stringTemplate" at <requiredEnv '
    '"GITLAB_AGENT_TOKEN">: error calling requiredEnv: required env var `GITLAB_AGENT_TOKEN` '
    "is not set"
)
token = os.environ.get("GITLAB_AGENT_TOKEN", "")
if not token:
    print(REQUIRED_ENV_ERROR, file=sys.stderr, flush=True)
    sys.exit(1)
scenario = os.environ.get("FAKE_HELMFILE_SCENARIO", "none")
print(f"helmfile: using token {token} for the agent", file=sys.stderr, flush=True)

DIFF_CHANGES = """\
Comparing release=cilium, chart=cilium/cilium, namespace=kube-system
kube-system, cilium-config, ConfigMap (v1) has changed:
  # Source: cilium/templates/cilium-configmap.yaml
  apiVersion: v1
  data:
-   policy-audit-mode: "true"
+   policy-audit-mode: "false"
Comparing release=ingress, chart=traefik/traefik, namespace=ingress
Comparing release=gitlab-agent, chart=gitlab/gitlab-agent, namespace=gitlab-agent
********************

\tRelease was not present in Helm.  Diff will show entire contents as new.

********************
gitlab-agent, gitlab-agent-token, Secret (v1) has been added:
+ # Source: gitlab-agent/templates/secret.yaml
+ apiVersion: v1
+ kind: Secret
+ data:
+   token: '-------- # (26 bytes)'
"""
DIFF_NONE = """\
Comparing release=cilium, chart=cilium/cilium, namespace=kube-system
Comparing release=ingress, chart=traefik/traefik, namespace=ingress
"""
APPLY_TAIL = """\
Upgrading release=cilium, chart=cilium/cilium, namespace=kube-system
Release "cilium" has been upgraded. Happy Helming!
Upgrading release=gitlab-agent, chart=gitlab/gitlab-agent, namespace=gitlab-agent
Release "gitlab-agent" does not exist. Installing it now.

UPDATED RELEASES:
NAME           NAMESPACE      CHART                 VERSION   DURATION
cilium         kube-system    cilium/cilium         1.19.6         12s
gitlab-agent   gitlab-agent   gitlab/gitlab-agent   2.29.0          8s

"""

DIFF_INSTALL = """\
Comparing release=cilium, chart=cilium/cilium, namespace=kube-system
********************

\tRelease was not present in Helm.  Diff will show entire contents as new.

********************
kube-system, cilium, DaemonSet (apps) has been added:
+ # Source: cilium/templates/cilium-agent/daemonset.yaml
Comparing release=ingress, chart=traefik/traefik, namespace=ingress
"""
APPLY_INSTALL = """\
Upgrading release=cilium, chart=cilium/cilium, namespace=kube-system
Release "cilium" does not exist. Installing it now.

UPDATED RELEASES:
NAME     NAMESPACE     CHART           VERSION   DURATION
cilium   kube-system   cilium/cilium   1.19.6         40s

"""
DIFF_UPGRADE = """\
Comparing release=cilium, chart=cilium/cilium, namespace=kube-system
kube-system, cilium, DaemonSet (apps) has changed:
-         image: "quay.io/cilium/cilium:v1.19.5"
+         image: "quay.io/cilium/cilium:v1.19.6"
Comparing release=ingress, chart=traefik/traefik, namespace=ingress
Comparing release=prometheus, chart=prometheus-community/prometheus, namespace=monitoring
monitoring, prometheus-server, Deployment (apps) has changed:
-   helm.sh/chart: prometheus-29.26.0
+   helm.sh/chart: prometheus-29.27.0
"""
APPLY_UPGRADE = """\
Upgrading release=cilium, chart=cilium/cilium, namespace=kube-system
Release "cilium" has been upgraded. Happy Helming!
Upgrading release=prometheus, chart=prometheus-community/prometheus, namespace=monitoring
Release "prometheus" has been upgraded. Happy Helming!

UPDATED RELEASES:
NAME         NAMESPACE     CHART                             VERSION   DURATION
cilium       kube-system   cilium/cilium                     1.19.6         30s
prometheus   monitoring    prometheus-community/prometheus   29.27.0        20s

"""
OUTPUTS = {
    "changes": (DIFF_CHANGES, APPLY_TAIL),
    "install": (DIFF_INSTALL, APPLY_INSTALL),
    "upgrade": (DIFF_UPGRADE, APPLY_UPGRADE),
}


def upgrade_with_helm(table: str) -> None:
    """What helmfile does for each release it applies: helm upgrade --install."""
    helm = argv[argv.index("--helm-binary") + 1]
    context = argv[argv.index("--kube-context") + 1] if "--kube-context" in argv else None
    rows = table.split("UPDATED RELEASES:")[1].strip().splitlines()[1:]
    for row in rows:
        name, namespace, chart, version = row.split()[:4]
        helm_argv = [helm, "upgrade", name, chart, "--version", version, "--namespace",
                     namespace, "--install"]  # fmt: skip
        if context:
            helm_argv += ["--kube-context", context]
        subprocess.run(helm_argv, check=True, timeout=60, stdout=sys.stdout)


if scenario == "error":
    print("Error: Kubernetes cluster unreachable: context not found", file=sys.stderr)
    sys.exit(1)
if scenario == "stream":
    print("Comparing release=cilium, chart=cilium/cilium, namespace=kube-system", flush=True)
    marker = Path(os.environ["FAKE_HELMFILE_MARKER"])
    deadline = time.monotonic() + 20
    while not marker.exists():
        if time.monotonic() > deadline:
            print("the first line was not seen while helmfile ran", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.05)
    sys.exit(0)
if scenario in OUTPUTS:
    diff, applied = OUTPUTS[scenario]
    sys.stdout.write(diff)
    if command == "apply":
        sys.stdout.flush()
        if os.environ.get("FAKE_HELMFILE_HELM_UPGRADES") == "1":
            upgrade_with_helm(applied)
        sys.stdout.write(applied)
    sys.exit(2 if "--detailed-exitcode" in argv else 0)
sys.stdout.write(DIFF_NONE)
sys.exit(0)
