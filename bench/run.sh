#!/usr/bin/env bash
# One command for the whole benchmark: bench/run.sh [--smoke | --growth | run.py options]
# Installs wrk and the node-oidc-provider peer when missing, builds latchkey (release;
# debug for --smoke), runs every case on loopback with bounded durations, prints one
# table and writes it to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    echo "== installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if ! command -v node >/dev/null; then
    echo "== installing Node.js (for the node-oidc-provider peer)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d bench/peers/oidc-provider/node_modules/oidc-provider ]; then
    echo "== installing node-oidc-provider (bench/peers/oidc-provider)"
    (cd bench/peers/oidc-provider && npm install --no-audit --no-fund --silent)
fi
if [ "${1:-}" = "--smoke" ]; then
    cargo build --quiet
    exec python3 bench/run.py --binary target/debug/latchkey --duration 2 --runs 1 --smoke
fi
cargo build --release --quiet
exec python3 bench/run.py --binary target/release/latchkey "$@"
