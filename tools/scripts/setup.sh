#!/usr/bin/env bash
# Installs what the test suite needs beyond Node and npm, when it is missing:
#   pnpm 10 (from npm), nats-server, protoc and etcd (Debian packages nats-server,
#   protobuf-compiler, etcd-server) and redis-server (Debian package redis-server).
# Safe to run again: it installs nothing that is already there.
set -euo pipefail

PNPM_VERSION=10.34.8

if ! command -v pnpm >/dev/null 2>&1 || [[ "$(pnpm --version 2>/dev/null)" != 10.* ]]; then
  echo "setup: installing pnpm@${PNPM_VERSION}"
  npm install -g "pnpm@${PNPM_VERSION}" >/dev/null
fi

missing=()
[[ -x /usr/sbin/nats-server ]] || command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
[[ -x /usr/bin/etcd ]] || command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]} (Debian packages)"
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here; install ${missing[*]} yourself (the NATS, protoc, etcd and Redis tests need them)" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The whole output, then its first line: `| head -n 1` could exit before etcd finished writing,
# and under pipefail the SIGPIPE that etcd then got failed the script (seen: 1 run in 12).
etcd_version="$(/usr/bin/etcd --version 2>/dev/null || etcd --version)"
etcd_version="${etcd_version%%$'\n'*}"
echo "setup: pnpm $(pnpm --version), $(/usr/sbin/nats-server --version 2>/dev/null || nats-server --version), $(protoc --version), ${etcd_version}, $(redis-server --version | cut -d" " -f1-3)"
