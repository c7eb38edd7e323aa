#!/usr/bin/env bash
# Licenses created per second through `issuer serve` (16 connections, wrk),
# against raw Ed25519 signing on the same machine in the same run.
# Usage: bash bench/issuer-api/run.sh   (needs wrk; builds the release binary)
#        BENCH_STORE=postgres bash bench/issuer-api/run.sh   (the ledger in a private
#        PostgreSQL server from Debian's package, durable settings: fsync and
#        synchronous_commit on)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release --bin issuer
work=$(mktemp -d)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true
  [ -d "$work/pg" ] && as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
ledger="$work/ledger.sqlite3"
if [ "${BENCH_STORE:-sqlite}" = postgres ]; then
  [ "$(id -u)" -eq 0 ] && chown postgres "$work"
  as_pg "$pgbin/initdb" -D "$work/pg" -U postgres -A trust --locale=C -E UTF8 --no-instructions >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -o "-c listen_addresses=127.0.0.1 -p 18740 -k $work" -w start >/dev/null
  "$pgbin/createdb" -h 127.0.0.1 -p 18740 -U postgres ledger
  ledger="postgres://postgres@127.0.0.1:18740/ledger"
fi
issuer=target/release/issuer
printf 'bench\n' > "$work/pass"
$issuer keygen --out "$work/keys" --passphrase-file "$work/pass" > /dev/null
export ISSUER_API_TOKEN=$($issuer --ledger "$ledger" serve token create --scope issue --json \
  | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
$issuer --ledger "$ledger" serve --key "$work/keys/issuer.key" --passphrase-file "$work/pass" \
  --catalog catalogs/data-platform.toml --listen 127.0.0.1:18739 > "$work/serve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 50); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
wrk -t2 -c16 -d${BENCH_SECONDS:-15}s --latency -s bench/issuer-api/create.lua http://127.0.0.1:18739 2>&1 | tee "$work/wrk.txt"
echo "licenses in the ledger: $($issuer --ledger "$ledger" ledger list --limit 1 --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["total"])')"
