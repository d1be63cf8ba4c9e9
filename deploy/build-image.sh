#!/usr/bin/env bash
# Builds the distgan image (deploy/Dockerfile) from this checkout.
#
#   deploy/build-image.sh [TAG]     default TAG distgan:latest
#
# The base is BASE_IMAGE (default node:22-bookworm-slim). Where it cannot be pulled (no registry
# reachable), an equivalent is built locally first with deploy/base-image.sh. The build steps
# reach the package registries through the host's network (docker build --network host). A
# tensorflow-cpu wheel that `npm run native-backend` cached is handed to the build, so that the
# native backend is set up without downloading it again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tag="${1:-distgan:latest}"
base="${BASE_IMAGE:-node:22-bookworm-slim}"
say() { printf 'build-image: %s\n' "$*"; }

if ! docker image inspect "$base" >/dev/null 2>&1 && ! docker pull "$base" >/dev/null 2>&1; then
  local_base="distgan-base:node22-bookworm-slim"
  say "$base cannot be pulled here: using $local_base, built from Debian packages and the npm registry"
  docker image inspect "$local_base" >/dev/null 2>&1 || "$root/deploy/base-image.sh" "$local_base"
  base="$local_base"
fi

cache="${DISTGAN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/distgan}"
rm -rf "$root/deploy/wheels" && mkdir -p "$root/deploy/wheels"
trap 'rm -rf "$root/deploy/wheels"' EXIT
for wheel in "$cache"/wheels/tensorflow_cpu-*.whl; do
  [ -f "$wheel" ] && ln "$wheel" "$root/deploy/wheels/" 2>/dev/null || { [ -f "$wheel" ] && cp "$wheel" "$root/deploy/wheels/"; }
done

say "building $tag on $base"
docker build --network host --build-arg "BASE_IMAGE=$base" ${REQUIRE_NATIVE:+--build-arg "REQUIRE_NATIVE=$REQUIRE_NATIVE"} \
  -f "$root/deploy/Dockerfile" -t "$tag" "$root"
say "$tag: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')"
