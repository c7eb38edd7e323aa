#!/usr/bin/env bash
# `issuer issue --batch` of 100,000 orders through the release binary, into a
# SQLite ledger and into PostgreSQL (a private server from Debian's package,
# durable settings: fsync and synchronous_commit on), alternately, in one run.
# Usage: bash bench/batch/run.sh   (BENCH_ORDERS=N, BENCH_ROUNDS=N)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release --bin issuer
orders=${BENCH_ORDERS:-100000}
rounds=${BENCH_ROUNDS:-2}
source bench/lib.sh
start_postgres 18741
issuer=target/release/issuer
printf 'bench\n' > "$work/pass"
$issuer keygen --out "$work/keys" --passphrase-file "$work/pass" > /dev/null
write_orders "$orders" "$work/orders.jsonl"
batch() { # batch STORE ROUND
  local ledger="$work/ledger-$2.sqlite3"
  if [ "$1" = postgres ]; then
    "$pgbin/createdb" -h 127.0.0.1 -p 18741 -U postgres "ledger_$2"
    ledger="postgres://postgres@127.0.0.1:18741/ledger_$2"
  fi
  local start end
  start=$(date +%s.%N)
  $issuer --ledger "$ledger" issue --key "$work/keys/issuer.key" --passphrase-file "$work/pass" \
    --catalog catalogs/data-platform.toml --batch "$work/orders.jsonl" --out "$work/out-$1-$2.jsonl" --json > /dev/null
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'$1 round $2: {s:.2f} s, {int(sys.argv[3])/s:,.0f} licenses/s')" "$start" "$end" "$orders"
  rm -f "$work/out-$1-$2.jsonl"
}
for r in $(seq "$rounds"); do
  batch sqlite "$r"
  batch postgres "$r"
done
