#!/usr/bin/env bash
# Builds the `debian:bookworm-slim` base image offline, for machines that reach Debian's package
# mirror but no image registry: debootstrap a minimal bookworm into a temporary directory, trim it
# the way the official slim image is trimmed, and `docker import` it under the official tag.
# Users who can pull never need this: `docker build` pulls the official image instead.
#
# Usage: image/build-base.sh [TAG]   (default debian:bookworm-slim; needs root and debootstrap)
set -euo pipefail

tag="${1:-debian:bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag is already present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Building $tag offline needs root (debootstrap)." >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "Installing debootstrap ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  else
    echo "debootstrap is needed to build $tag offline." >&2
    exit 1
  fi
fi

root="$(mktemp -d /tmp/coderunner-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
started=$SECONDS
echo "debootstrap --variant=minbase bookworm ($mirror) ..."
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -n 20 "$root.log" >&2
  rm -f "$root.log"
  exit 1
}
rm -f "$root.log"

# The same trimming the official slim image does: no caches, no docs, no man pages, apt lists empty.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*

echo "docker import -> $tag ..."
tar --numeric-owner -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
echo "$tag built in $((SECONDS - started)) s"
