#!/usr/bin/env bash
# Builds the image from the Dockerfile with Debian's buildah, on a machine that reaches no container
# registry (tests/image/test_image.py runs this, and so `python -m pytest -q` and .ci/run do).
#
#   bash .ci/build-image.sh [TAG]      # default localhost/seasonal-engines:ci; prints the tag last
#
# No base image can be pulled, so the base is Debian bookworm made here with debootstrap (minbase) and
# imported as localhost/debian:bookworm-slim; its root tarball is cached outside the clone, keyed by
# Debian release, so a warm run skips debootstrap. The published build (.github/workflows/release.yaml)
# uses the Dockerfile's own pinned base instead. Needs root, buildah, podman and debootstrap
# (.ci/install.sh installs them).
#
# Environment: SEASONAL_IMAGE_CACHE (default ~/.cache/seasonal-engines/images), DEBIAN_MIRROR.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tag=${1:-localhost/seasonal-engines:ci}
release=bookworm
base=localhost/debian:$release-slim
cache=${SEASONAL_IMAGE_CACHE:-$HOME/.cache/seasonal-engines/images}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"

step() {  # step NAME COMMAND...: run it and print its duration
  local name=$1 start=${EPOCHREALTIME/./}
  shift
  "$@"
  local micros=$(( ${EPOCHREALTIME/./} - start ))
  printf '[image] %-30s %5d.%01ds\n' "$name" $(( micros / 1000000 )) $(( micros % 1000000 / 100000 )) >&2
}

for tool in buildah podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "[image] $tool is missing: run bash .ci/install.sh" >&2; exit 1; }
done

# crun's default ulimits exceed this machine's hard limit on open files; without any, builds run.
export CONTAINERS_CONF=$cache/containers.conf
printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF"

make_base_tarball() {
  local root
  root=$(mktemp -d "$cache/.rootfs-XXXXXX")
  debootstrap --variant=minbase "$release" "$root" "$mirror" > "$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$root"; return 1; }
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$cache/.debian-$release.tar.part" .
  mv "$cache/.debian-$release.tar.part" "$cache/debian-$release-minbase.tar"
  rm -rf "$root"
}

if ! podman image exists "$base"; then
  [ -s "$cache/debian-$release-minbase.tar" ] || step "debootstrap $release (minbase)" make_base_tarball
  step "import $base" podman import -q "$cache/debian-$release-minbase.tar" "$base" >/dev/null
fi
digest=$(podman image inspect --format '{{.Digest}}' "$base")

args=(--isolation chroot --layers -f Dockerfile -t "$tag"
      --build-arg "BASE_IMAGE=$base" --build-arg "BASE_DIGEST=$digest"
      --build-arg "VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
      --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
# A TLS-intercepting proxy's CA (this machine has one) reaches pip as a build secret, never a layer.
for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  if [ -s "$bundle" ]; then args+=(--secret "id=build-ca,src=$bundle"); break; fi
done
step "buildah bud $tag" buildah bud "${args[@]}" . >&2
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "[image] $tag: $(( size / 1000000 )) MB" >&2
echo "$tag"
