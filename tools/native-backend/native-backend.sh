#!/usr/bin/env bash
# Sets up @tensorflow/tfjs-node where its own install cannot download libtensorflow: takes the
# TensorFlow C library from the tensorflow-cpu Python wheel and builds tfjs-node's binding from
# source against it. Idempotent; the built binding and libraries are cached outside the checkout.
#
#   npm run native-backend            set up (or restore from the cache), then check it works
#   npm run native-backend -- --check only check; exit 1 when the node backend does not work
#
# Environment: DISTGAN_TF_WHEEL (a tensorflow-cpu wheel already on disk), DISTGAN_TF_VERSION
# (the wheel to download, default 2.21.0), DISTGAN_CACHE_DIR (default ~/.cache/distgan).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tf_version="${DISTGAN_TF_VERSION:-2.21.0}"
cache="${DISTGAN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/distgan}"
tfjs_node="$root/node_modules/@tensorflow/tfjs-node"

say() { printf 'native-backend: %s\n' "$*"; }
fail() { printf 'native-backend: error: %s\n' "$*" >&2; exit 1; }

# Loads the node backend through @distgan/runtime, which runs a forward and backward pass before
# it accepts a backend; prints its line and fails when the backend does not work.
check() {
  [ -f "$root/packages/runtime/dist/index.js" ] || fail "packages/runtime is not built: run npm ci (or npm run build) first"
  (cd "$root" && node tools/native-backend/check.mjs)
}

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  --check) check; exit ;;
  --help | -h) usage; exit 0 ;;
  "") ;;
  *) usage >&2; fail "unknown argument '$1'" ;;
esac

require() { command -v "$1" >/dev/null || fail "$1 not found: $2"; }
require node "install Node.js"
require npm "install npm"

if [ ! -f "$tfjs_node/package.json" ]; then
  # npm ci drops the optional package when its download fails; install it again without scripts.
  say "installing @tensorflow/tfjs-node from package-lock.json without its download script"
  (cd "$root" && npm install --ignore-scripts --no-save --no-audit --no-fund --loglevel=error)
  [ -f "$tfjs_node/package.json" ] || fail "npm did not install @tensorflow/tfjs-node"
fi
tfjs_version="$(node -p "require('$tfjs_node/package.json').version")"
napi="$(node -p "process.versions.napi >= 8 ? 8 : 0")"
[ "$napi" = 8 ] || fail "this Node.js lacks N-API 8, which tfjs-node's binding needs"
binding="lib/napi-v$napi/tfjs_binding.node"
slot="$cache/native-backend/tfjs-node-$tfjs_version-tensorflow-$tf_version-$(uname -s)-$(uname -m)"

if [ -f "$tfjs_node/$binding" ] && [ -f "$tfjs_node/deps/lib/libtensorflow.so.2" ] && works="$(check 2>/dev/null)"; then
  say "tfjs-node $tfjs_version is already set up"
  echo "$works"
  exit
fi

# Copies (hard-links where it can) the binding and libraries between tfjs-node and the cache.
copy_tree() { mkdir -p "$2"; cp -al "$1/." "$2/" 2>/dev/null || cp -a "$1/." "$2/"; }

if [ -f "$slot/$binding" ]; then
  say "restoring the built binding from $slot"
  rm -rf "$tfjs_node/deps" "$tfjs_node/lib"
  copy_tree "$slot/deps" "$tfjs_node/deps"
  copy_tree "$slot/lib" "$tfjs_node/lib"
  check
  exit
fi

require python3 "install Python 3 (it reads the tensorflow-cpu wheel)"
require make "install make (Debian: build-essential)"
require g++ "install a C++ compiler (Debian: build-essential)"
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
[ -f "$node_prefix/include/node/node_api.h" ] || fail "Node.js headers not found under $node_prefix/include/node (install the Node.js development headers)"

wheel="${DISTGAN_TF_WHEEL:-}"
if [ -z "$wheel" ]; then
  mkdir -p "$cache/wheels"
  wheel="$(ls "$cache"/wheels/tensorflow_cpu-"$tf_version"-*.whl 2>/dev/null | head -n 1 || true)"
  if [ -z "$wheel" ]; then
    say "downloading tensorflow-cpu $tf_version (about 270 MB) with pip"
    python3 -m pip download --quiet --no-deps --only-binary=:all: "tensorflow-cpu==$tf_version" -d "$cache/wheels" \
      || fail "pip could not download tensorflow-cpu==$tf_version: set DISTGAN_TF_WHEEL to a wheel on disk, or DISTGAN_TF_VERSION to one your index has"
    wheel="$(ls "$cache"/wheels/tensorflow_cpu-"$tf_version"-*.whl | head -n 1)"
  fi
fi
[ -f "$wheel" ] || fail "no wheel at $wheel"

say "extracting the TensorFlow C library from $(basename "$wheel")"
rm -rf "$tfjs_node/deps" "$tfjs_node/lib" "$tfjs_node/build"
python3 "$root/tools/native-backend/extract-wheel.py" "$wheel" "$tfjs_node/deps" "$tfjs_node/binding"

say "building tfjs-node's binding against it (about 20 s on 2 cores)"
(cd "$tfjs_node" && node "$root/node_modules/@mapbox/node-pre-gyp/bin/node-pre-gyp" install --build-from-source \
  --nodedir="$node_prefix" --loglevel=warn) || fail "the binding did not build (see the compiler output above)"
[ -f "$tfjs_node/$binding" ] || fail "the build finished without $binding"
rm -rf "$tfjs_node/build"

rm -rf "$slot.partial"
copy_tree "$tfjs_node/deps" "$slot.partial/deps"
copy_tree "$tfjs_node/lib" "$slot.partial/lib"
rm -rf "$slot" && mv "$slot.partial" "$slot"
say "cached in $slot"
check
