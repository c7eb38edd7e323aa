#!/usr/bin/env bash
# Measures `activator serve` with wrk on loopback, and the CLI's per-call
# cost beside it, on a fresh data-platform install. Run from the repository
# root after `cargo build --release --bins`; needs wrk (apt-get install wrk).
set -euo pipefail
root=$(pwd)
bin="$root/target/release"
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
echo pass > pass
"$bin/issuer" keygen --out keys --passphrase-file pass >/dev/null
export ISSUER_LEDGER="$work/ledger.sqlite3"
"$bin/issuer" issue --key keys/issuer.key --passphrase-file pass --catalog "$root/catalogs/data-platform.toml" \
  --account acct-bench --licensee Bench --region cn-hangzhou --edition intelligent_rnd --engine maxcompute \
  --plan subscription --quota processing_units=40 --package data_service=api.s1.small --out bench.lic >/dev/null
A="$bin/activator --state $work/state"
$A init --product data-platform --trust keys/issuer.pub >/dev/null
$A activate bench.lic >/dev/null
launcher=$($A serve token create --scope launcher --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
collector=$($A serve token create --scope collector --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
TOKIO_WORKER_THREADS=${WORKERS:-2} $A serve --listen 127.0.0.1:0 > serve.out 2> serve.log &
pid=$!
for _ in $(seq 50); do grep -q listening serve.out 2>/dev/null && break; sleep 0.1; done
base=$(sed 's/listening on //' serve.out)
echo "== service at $base (pid $pid), $(nproc) cores"
for c in 8 32; do
  echo "== GET /v1/check, keep-alive, 1 wrk thread, $c connections, 20 s"
  TOKEN=$launcher wrk -t1 -c$c -d20s --latency -s "$root/bench/service/check.lua" "$base/v1/check?package=data_service&tier=api.base"
done
echo "== the floor: GET /healthz (no token, no state), 1 wrk thread, 8 connections"
wrk -t1 -c8 -d10s --latency "$base/healthz"
echo "== the CLI: 200 runs of activator check (a process each)"
start=$(date +%s%N)
for _ in $(seq 200); do $A check data_service --tier api.base >/dev/null; done
end=$(date +%s%N)
echo "activator check: $(( (end - start) / 200000 )) µs per call"
echo "== POST check-ins from 10,000 distinct collectors, durable, 2 threads, 64 connections, 20 s"
TOKEN=$collector wrk -t2 -c64 -d20s --latency -s "$root/bench/service/checkin.lua" "$base"
echo "== memory of the service after 10,000 collectors"
grep -E 'VmRSS|VmHWM' /proc/$pid/status
curl -s -H "Authorization: Bearer $launcher" "$base/v1/collectors"; echo
