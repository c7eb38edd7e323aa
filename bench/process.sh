#!/usr/bin/env bash
# Whole-process figures: `activator status` and `activator check` wall time
# and peak memory, against `openssl pkeyutl -verify` on the same license, in
# the same run. Usage: bash bench/process.sh [RUNS]   (release binaries)
set -euo pipefail
runs=${1:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q --release --manifest-path "$root/Cargo.toml" --bin issuer --bin activator
bin="$root/target/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'bench-passphrase\n' > "$work/pass"
"$bin/issuer" keygen --out "$work/keys" --passphrase-file "$work/pass" >/dev/null
"$bin/issuer" --ledger "$work/ledger.sqlite3" issue --key "$work/keys/issuer.key" --passphrase-file "$work/pass" \
  --catalog "$root/catalogs/data-platform.toml" --account acct-1 --licensee Bench --region cn-hangzhou \
  --edition intelligent_rnd --engine maxcompute --plan subscription --quota processing_units=40 \
  --package data_service=api.s1.small --package asset_quality=standard --package asset_governance=standard > "$work/token"
"$bin/activator" --state "$work/state" init --product data-platform --trust "$work/keys/issuer.pub" >/dev/null
"$bin/activator" --state "$work/state" activate "$work/token" >/dev/null
token=$(cat "$work/token")
printf '%s' "${token%.*}" > "$work/signed.bin"
sig=${token##*.}; sig=$(printf '%s' "$sig" | tr '_-' '/+'); while [ $(( ${#sig} % 4 )) -ne 0 ]; do sig="$sig="; done
printf '%s' "$sig" | base64 -d > "$work/sig.bin"

measure() { # name, command...
  local name=$1; shift
  "$@" >/dev/null 2>&1 || true
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1; done
  end=$(date +%s%N)
  local rss
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1 || true
  rss=$(tail -n 1 "$work/rss")
  awk -v n="$name" -v t=$(( (end - start) / runs )) -v r="$rss" \
    'BEGIN { printf "| %s | %.2f ms | %.1f MiB |\n", n, t / 1e6, r / 1024 }'
}
echo "| command ($runs runs each) | mean wall time | peak RSS |"
echo "|---|---|---|"
measure "activator status" "$bin/activator" --state "$work/state" status
measure "activator check data_service" "$bin/activator" --state "$work/state" check data_service
measure "openssl pkeyutl -verify (peer)" openssl pkeyutl -verify -pubin -inkey "$work/keys/issuer.pub" -rawin -in "$work/signed.bin" -sigfile "$work/sig.bin"
