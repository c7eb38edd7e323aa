#!/usr/bin/env bash
# Licenses created per second through `issuer serve` (16 connections, wrk),
# against raw Ed25519 signing on the same machine in the same run.
# Usage: bash bench/issuer-api/run.sh   (needs wrk; builds the release binary)
#        BENCH_STORE=postgres bash bench/issuer-api/run.sh   (the ledger in a private
#        PostgreSQL server from Debian's package, durable settings: fsync and
#        synchronous_commit on)
#        BENCH_STORE=postgres-tls bash bench/issuer-api/run.sh   (the same server with TLS
#        on, reached over verified TLS: sslmode=verify-full)
#        BENCH_KEY=softhsm bash bench/issuer-api/run.sh   (the signing key made inside a
#        SoftHSM2 token of the script's own, Debian's softhsm2; combines with BENCH_STORE)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release --bin issuer
source bench/lib.sh
ledger="$work/ledger.sqlite3"
store=${BENCH_STORE:-sqlite}
if [ "$store" = postgres ] || [ "$store" = postgres-tls ]; then
  tls=""
  if [ "$store" = postgres-tls ]; then
    # A certificate for localhost signed by an authority of the script's own.
    (cd "$work" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -keyout ca.key -out ca.pem -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign 2>/dev/null &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
        -subj /CN=localhost 2>/dev/null &&
      printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out server.pem \
        -extfile server.ext 2>/dev/null && chmod 600 server.key)
    tls=" -c ssl=on -c ssl_cert_file=$work/server.pem -c ssl_key_file=$work/server.key"
  fi
  start_postgres 18740 "$tls"
  ledger="postgres://postgres@127.0.0.1:18740/ledger"
  [ "$store" = postgres-tls ] && ledger="postgres://postgres@localhost:18740/ledger?sslmode=verify-full&sslrootcert=$work/ca.pem"
fi
issuer=target/release/issuer
printf 'bench\n' > "$work/pass"
$issuer keygen --out "$work/keys" --passphrase-file "$work/pass" > /dev/null
key=(--key "$work/keys/issuer.key" --passphrase-file "$work/pass")
pub="$work/keys/issuer.pub"
if [ "${BENCH_KEY:-file}" = softhsm ]; then
  mkdir "$work/tokens"
  printf 'directories.tokendir = %s\n' "$work/tokens" > "$work/softhsm2.conf"
  export SOFTHSM2_CONF="$work/softhsm2.conf" ISSUER_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
  softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin 123456 > /dev/null
  printf '123456\n' > "$work/pin"
  $issuer keygen --out "$work/hsm" --pkcs11 'pkcs11:token=bench;object=issuer' --passphrase-file "$work/pin" > /dev/null
  key=(--key 'pkcs11:token=bench;object=issuer' --passphrase-file "$work/pin")
  pub="$work/hsm/issuer.pub"
fi
export ISSUER_API_TOKEN=$($issuer --ledger "$ledger" serve token create --scope issue --json \
  | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
$issuer --ledger "$ledger" serve "${key[@]}" \
  --catalog catalogs/data-platform.toml --listen 127.0.0.1:18739 > "$work/serve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 50); do grep -q listening "$work/serve.log" && break; sleep 0.1; done
wrk -t2 -c16 -d${BENCH_SECONDS:-15}s --latency -s bench/issuer-api/create.lua http://127.0.0.1:18739 2>&1 | tee "$work/wrk.txt"
echo "licenses in the ledger: $($issuer --ledger "$ledger" ledger list --limit 1 --json | python3 -c 'import sys, json; print(json.load(sys.stdin)["total"])')"
# Every license signed by the key under test, and none spoiled.
$issuer --ledger "$ledger" ledger verify --pub "$pub" --json \
  | python3 -c 'import sys, json; r = json.load(sys.stdin); print("ledger verify:", r["licenses"], "licenses,", len(r["problems"]), "problems")'
