#!/bin/sh
# Build the job image with the pins of tools/versions.env and tag it with the package version.
#   ci/build.sh [REPOSITORY] [--push]     e.g. ci/build.sh "$CI_REGISTRY_IMAGE/job" --push
set -eu
cd "$(dirname "$0")/.."
. tools/versions.env
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' cluster_mgmt/__init__.py)
image="${1:-cluster-mgmt-job}:${version}"
# validate's chart data is packed at build time from ../shared/upstream (make venv builds it).
[ -f cluster_mgmt/_data/charts.zip ] ||
  echo "warning: cluster_mgmt/_data/charts.zip is missing: the image's validate will have no chart data" >&2
docker build --build-arg BASE_IMAGE="$BASE_IMAGE" -f ci/Dockerfile -t "$image" .
if [ "${2:-}" = "--push" ]; then
  docker push "$image"
fi
echo "$image"
