#!/bin/sh
# Build the job image with the pins of tools/versions.env and tag it with the package version.
#   ci/build.sh [REPOSITORY] [--push]     e.g. ci/build.sh "$CI_REGISTRY_IMAGE/job" --push
set -eu
cd "$(dirname "$0")/.."
. tools/versions.env
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' cluster_mgmt/__init__.py)
image="${1:-cluster-mgmt-job}:${version}"
docker build --build-arg BASE_IMAGE="$BASE_IMAGE" -f ci/Dockerfile -t "$image" .
if [ "${2:-}" = "--push" ]; then
  docker push "$image"
fi
echo "$image"
