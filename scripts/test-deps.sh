#!/usr/bin/env bash
# Installs the host packages the tests need, from Debian's packages, when they
# are missing: a real IPython kernel for Ship's in-process tests, the image
# build tool, iproute2 for the isolation tests' outside host (a network
# namespace), nft to check the network guards' rules, httpx and pytest for the
# Python SDK's tests, a headless Chromium for the /docs page test, and
# docker-compose for deploy/compose's test.
# Idempotent and quiet when everything is there.
set -euo pipefail

need=()
/usr/bin/python3 -c 'import ipykernel' >/dev/null 2>&1 || need+=(python3-ipykernel)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
/usr/bin/python3 -c 'import httpx' >/dev/null 2>&1 || need+=(python3-httpx)
/usr/bin/python3 -c 'import pytest' >/dev/null 2>&1 || need+=(python3-pytest)
command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 || need+=(chromium-headless-shell)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps.sh: missing ${need[*]}; install them with apt-get (needs root)" >&2
    exit 1
  fi
  echo "test-deps.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
docker info >/dev/null 2>&1 || { echo "test-deps.sh: the Docker daemon does not answer" >&2; exit 1; }
