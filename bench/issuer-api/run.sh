#!/usr/bin/env bash
# Licenses created per second through `issuer serve` (16 connections, wrk),
# against raw Ed25519 signing on the same machine in the same run.
# Usage: bash bench/issuer-api/run.sh   (needs wrk; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release --bin issuer
work=$(mktemp -d)
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
issuer=target/release/issuer
printf 'bench\n' > "$work/pass"
$issuer keygen --out "$work/keys" --passphrase-file "$work/pass" > /dev/null
export ISSUER_API_TOKEN=$($issuer --ledger "$work/ledger.sqlite3" serve token create --scope issue --json \
  | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
$issuer --ledger "$work/ledger.sqlite3" serve --key "$work/keys/issuer.key" --passphrase-file "$work/pass" \
  --catalog catalogs/data-platform.toml --listen 127.0.0.1:18739 > "$work/serve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 50); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
wrk -t2 -c16 -d${BENCH_SECONDS:-15}s --latency -s bench/issuer-api/create.lua http://127.0.0.1:18739 2>&1 | tee "$work/wrk.txt"
echo "licenses in the ledger: $($issuer --ledger "$work/ledger.sqlite3" ledger list --limit 1 --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["total"])')"
