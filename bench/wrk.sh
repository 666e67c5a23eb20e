#!/usr/bin/env bash
# wrk.sh measures the gateway endpoints over HTTP the way issue 18 states its
# target: wrk -t2 -c32 -d5s against a cached valid API token, the bare hello
# handler (bench/load's, in its own process) and Keysmith alternated, for
# POST /v1/verify and GET /v1/forward-auth. Each line gives both targets'
# requests/s, their ratio, and each server's CPU time per request (from
# /proc, user + system), which varies less than requests/s on a shared VM.
#
# Usage, from the module root (wrk is Debian's package "wrk"):
#
#	bash bench/wrk.sh            # 2 rounds
#	bash bench/wrk.sh 5          # 5 rounds
#	KS_ARGS="--metrics-addr 127.0.0.1:0" bash bench/wrk.sh 3
#	                             # more flags for keysmith serve (split on spaces)
#
# Everything listens on 127.0.0.1; the servers are stopped on exit.
set -euo pipefail
rounds=${1:-2}
command -v wrk >/dev/null || { echo "wrk.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT

go build -o "$dir/keysmith" ./cmd/keysmith
go build -o "$dir/load" ./bench/load
token=$(env -u KEYSMITH_DB "$dir/keysmith" init --db "$dir/ks.db" --email admin@localhost --json 2>/dev/null | tail -n1 |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "wrk.sh: keysmith init printed no token" >&2; exit 1; }

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ks=127.0.0.1:$(freeport)
hello=127.0.0.1:$(freeport)
# shellcheck disable=SC2086 # KS_ARGS is split into flags on purpose
"$dir/keysmith" serve --addr "$ks" --db "$dir/ks.db" ${KS_ARGS:-} >"$dir/keysmith.log" 2>&1 &
pids+=($!); kspid=$!
"$dir/load" hello -addr "$hello" >"$dir/hello.log" 2>&1 &
pids+=($!); hellopid=$!
for _ in $(seq 50); do
  curl -fsS -o /dev/null "http://$ks/readyz" 2>/dev/null && curl -s -o /dev/null "http://$hello/" && break
  sleep 0.1
done

cat >"$dir/verify.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"token":"$token"}'
wrk.headers["Content-Type"] = "application/json"
LUA
# Lift the token's verified limit (every request counts against it), then
# warm the cache and check the answers.
curl -fsS -o /dev/null -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"verified": 1000000000}' "http://$ks/v1/settings/rate-limits"
curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}" "http://$ks/v1/verify" | grep -q '"valid":true'
curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://$ks/v1/forward-auth"

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run PID URL ARGS...: prints "req/s cpu-µs-per-request"
run() {
  local pid=$1 url=$2; shift 2
  local c0 out c1
  c0=$(cpu "$pid")
  out=$(wrk -t2 -c32 -d5s "$@" "$url")
  c1=$(cpu "$pid")
  echo "$out" | awk -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" '
    /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { if (bad > 0) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 }
          printf "%.0f %.1f\n", rps, (c1 - c0) / hz * 1e6 / n }'
}

printf '%-13s %5s %10s %10s %6s %12s %12s\n' scenario round hello keysmith ratio "hello µs/req" "ks µs/req"
for r in $(seq "$rounds"); do
  for sc in verify forward-auth; do
    if [ "$sc" = verify ]; then
      args=(-s "$dir/verify.lua"); path=/v1/verify
    else
      args=(-H "Authorization: Bearer $token"); path=/v1/forward-auth
    fi
    read -r h hc < <(run "$hellopid" "http://$hello$path" "${args[@]}")
    read -r k kc < <(run "$kspid" "http://$ks$path" "${args[@]}")
    awk -v sc="$sc" -v r="$r" -v h="$h" -v k="$k" -v hc="$hc" -v kc="$kc" \
      'BEGIN { printf "%-13s %5d %10d %10d %6.2f %12.1f %12.1f\n", sc, r, h, k, k / h, hc, kc }'
  done
done
