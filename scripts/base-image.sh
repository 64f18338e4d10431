#!/usr/bin/env bash
# Build (once) a Debian bookworm + Python 3.11 base image for machines that cannot pull
# python:3.11-slim, and print its name. CI passes it to the Dockerfiles as BASE_IMAGE:
#   docker build --build-arg BASE_IMAGE="$(scripts/base-image.sh)" -f services/serving-api/Dockerfile .
# Cached twice: the image itself (skipped when present) and the rootfs tarball under
# $CHURN_CACHE_DIR (default ~/.cache/churn-platform), so a wiped Docker store costs ~2 s, not a
# debootstrap. Everything but the image name goes to stderr. Needs root and debootstrap.
set -euo pipefail

suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What python:3.11-slim offers that the Dockerfiles use: python/python3, pip (to install uv),
# CA certificates, useradd/groupadd (passwd), and libgomp1 for LightGBM's wheel.
packages=python3,python3-pip,python-is-python3,ca-certificates,passwd,libgomp1
# The machine's CA bundle: on networks with a TLS-intercepting proxy, PyPI is reachable only
# with it. It is part of the cache key, so a changed bundle rebuilds the base.
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

cache_dir=${CHURN_CACHE_DIR:-$HOME/.cache/churn-platform}/base
key=$( { echo "$suite $mirror $packages v3"; cat "$ca_bundle"; } | sha256sum | cut -c1-12)
image=churn-platform-base:$suite-$key
tarball=$cache_dir/rootfs-$suite-$key.tar

log() { echo "base-image: $*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1; then
  log "$image already present"
  echo "$image"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  command -v debootstrap >/dev/null || { log "debootstrap not found (apt-get install debootstrap)"; exit 1; }
  mkdir -p "$cache_dir"
  rootfs=$(mktemp -d "$cache_dir/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap $suite into $rootfs (about a minute)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >&2
  # Like the official image: pip may install into the system Python (PEP 668 marker removed,
  # the builder stages install uv with pip), and no package caches, docs or apt lists.
  rm -f "$rootfs"/usr/lib/python3.*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
    "$rootfs"/usr/share/info/*
  # Message translations (33 MB): as in Debian's slim images, only locale.alias stays.
  find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  # apt in later layers leaves no caches behind either (what Debian's own images configure).
  cat >"$rootfs"/etc/apt/apt.conf.d/90-container-clean <<'APT'
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
Acquire::Languages "none";
APT::Install-Suggests "false";
APT
  # Kept under local certificates too, so an update-ca-certificates in a later layer keeps it.
  cp "$ca_bundle" "$rootfs"/usr/local/share/ca-certificates/host-bundle.crt
  cp "$ca_bundle" "$rootfs"/etc/ssl/certs/ca-certificates.crt
  # mktemp made the directory 0700; as the image's / it would lock out non-root users.
  chmod 0755 "$rootfs"
  tar -C "$rootfs" -cf "$tarball.part" .
  rm -f "$cache_dir"/rootfs-*.tar  # an outdated key's tarball
  mv "$tarball.part" "$tarball"
fi

log "importing $tarball as $image"
# An imported image has no config: set what the Dockerfiles expect from python:3.11-slim
# (PATH is extended with ENV PATH=...:$PATH). SSL_CERT_FILE makes uv trust the same bundle.
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  "$tarball" "$image" >&2
docker tag "$image" churn-platform-base:latest
# Untag bases of outdated keys (their layers stay while images built on them exist).
docker images churn-platform-base --format '{{.Repository}}:{{.Tag}}' \
  | grep -v -x -e "$image" -e churn-platform-base:latest | xargs -r docker rmi >&2 || true
echo "$image"
