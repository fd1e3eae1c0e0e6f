#!/usr/bin/env bash
# Make sure a Docker engine answers. Idempotent: does nothing when `docker info` already works.
# When no engine runs and we are root (a fresh CI machine), install docker.io and start dockerd.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "[docker] no Docker engine answers and we are not root: start Docker yourself (e.g. 'sudo systemctl start docker')" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "[docker] installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "[docker] starting dockerd (log: /var/log/dockerd.log)"
  # setsid: the engine outlives this script and the make target that called it.
  setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then echo "[docker] engine ready"; exit 0; fi
  sleep 1
done
echo "[docker] dockerd did not become ready in 60 s; see /var/log/dockerd.log" >&2
exit 1
