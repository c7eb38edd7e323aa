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
work=$(mktemp -d)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -d "$work/pg" ] && as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
as_pg "$pgbin/initdb" -D "$work/pg" -U postgres -A trust --locale=C -E UTF8 --no-instructions >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -o "-c listen_addresses=127.0.0.1 -p 18742 -k $work" -w start >/dev/null
"$pgbin/createdb" -h 127.0.0.1 -p 18742 -U postgres ledger
first=${BENCH_ISSUERS%% *}
printf 'bench\n' > "$work/pass"
"$first" keygen --out "$work/keys" --passphrase-file "$work/pass" > /dev/null
# The benches' typical order (issuer/benches/fixture), one account each.
python3 - "$orders" > "$work/orders.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"account": f"acct-{i}", "licensee": f"Customer {i}", "region": "cn-hangzhou",
        "edition": "intelligent_rnd", "engine": "maxcompute", "plan": "subscription",
        "packages": {"data_service": "api.s1.small", "asset_quality": "standard", "asset_governance": "standard"},
        "quotas": {"processing_units": 40}, "months": 12}))
PY
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
