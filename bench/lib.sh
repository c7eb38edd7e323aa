# Shared by the bench scripts (source it after `set -euo pipefail` and a
# `cd` to the repository): a work directory removed at exit, with the
# process in `$work/pid` killed and a PostgreSQL server in `$work/pg`
# stopped; a private PostgreSQL server from Debian's package; the benches'
# typical orders.

work=$(mktemp -d)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bench_cleanup() {
  kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true
  [ -d "$work/pg" ] && as_pg "$pgbin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap bench_cleanup EXIT

# start_postgres PORT [SETTINGS]: a new server in `$work/pg` on
# 127.0.0.1:PORT with durable settings (fsync and synchronous_commit on, the
# defaults), SETTINGS (` -c name=value …`) added, and a database `ledger`.
start_postgres() {
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$work"; fi
  as_pg "$pgbin/initdb" -D "$work/pg" -U postgres -A trust --locale=C -E UTF8 --no-instructions >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -o "-c listen_addresses=127.0.0.1 -p $1 -k $work${2:-}" \
    -w start >/dev/null
  "$pgbin/createdb" -h 127.0.0.1 -p "$1" -U postgres ledger
}

# write_orders N FILE: N of the benches' typical order
# (issuer/benches/fixture), one account each, as JSON Lines.
write_orders() {
  python3 - "$1" > "$2" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"account": f"acct-{i}", "licensee": f"Customer {i}", "region": "cn-hangzhou",
        "edition": "intelligent_rnd", "engine": "maxcompute", "plan": "subscription",
        "packages": {"data_service": "api.s1.small", "asset_quality": "standard", "asset_governance": "standard"},
        "quotas": {"processing_units": 40}, "months": 12}))
PY
}
