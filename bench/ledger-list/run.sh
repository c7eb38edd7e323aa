#!/usr/bin/env bash
# `issuer ledger list` over 100,000 licenses, in a SQLite file and in
# PostgreSQL (a private server from Debian's package), one page of 100:
# unfiltered, by status, by licensee. Each `issuer` binary named in
# BENCH_ISSUERS (default: this checkout's release build) runs every case in
# turn, round after round, and the medians are printed.
# Usage: bash bench/ledger-list/run.sh   (BENCH_ORDERS=N, BENCH_ROUNDS=N,
#        BENCH_ISSUERS="/path/to/issuer-before /path/to/issuer-after")
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${BENCH_ISSUERS:-}" ]; then
  cargo build -q --release --bin issuer
  BENCH_ISSUERS=target/release/issuer
fi
orders=${BENCH_ORDERS:-100000}
rounds=${BENCH_ROUNDS:-5}
source bench/lib.sh
start_postgres 18742
first=${BENCH_ISSUERS%% *}
printf 'bench\n' > "$work/pass"
"$first" keygen --out "$work/keys" --passphrase-file "$work/pass" > /dev/null
write_orders "$orders" "$work/orders.jsonl"
sqlite="$work/ledger.sqlite3"
postgres="postgres://postgres@127.0.0.1:18742/ledger"
for ledger in "$sqlite" "$postgres"; do
  "$first" --ledger "$ledger" issue --key "$work/keys/issuer.key" --passphrase-file "$work/pass" \
    --catalog catalogs/data-platform.toml --batch "$work/orders.jsonl" --out "$work/out.jsonl" --force --json > /dev/null
done
# Every binary opens each ledger once first (so that a migration is not timed).
for issuer in $BENCH_ISSUERS; do
  for ledger in "$sqlite" "$postgres"; do "$issuer" --ledger "$ledger" ledger list --limit 1 > /dev/null; done
done
python3 - "$rounds" "$sqlite" "$postgres" $BENCH_ISSUERS <<'PY'
import statistics, subprocess, sys, time
rounds, sqlite, postgres, issuers = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
cases = [("first page", []), ("status active", ["--status", "active"]), ("licensee contains", ["--licensee", "customer 1"])]
times = {}
for _ in range(rounds):
    for store, ledger in (("sqlite", sqlite), ("postgres", postgres)):
        for name, args in cases:
            for issuer in issuers:
                start = time.perf_counter()
                subprocess.run([issuer, "--ledger", ledger, "ledger", "list", "--limit", "100", "--json", *args],
                               check=True, stdout=subprocess.DEVNULL)
                times.setdefault((store, name, issuer), []).append((time.perf_counter() - start) * 1000)
print(f"ledger list, one page of 100, {rounds} rounds, medians (min-max), ms:")
for (store, name, issuer), t in times.items():
    print(f"  {store:<9} {name:<18} {issuer:<28} {statistics.median(t):9.1f}  ({min(t):.1f}-{max(t):.1f})")
PY
