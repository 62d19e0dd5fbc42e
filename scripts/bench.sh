#!/usr/bin/env bash
# Merchant API throughput on PostgreSQL, against what PostgreSQL itself
# does with the same writes, in one run on one machine:
#
#   0. both databases get a history (BENCH_FILL_SECONDS of pgbench and of
#      whole flows) and are analyzed, as a database in use would be; each
#      run starts on a database vacuumed and analyzed, as autovacuum keeps
#      one in use (it may be off on the machine);
#   1. pgbench runs scripts/bench-start.sql — the write of a payment start
#      as the store sends it: one query of six INSERTs run as one
#      transaction (the payment; the availability decision record; the
#      creation event; the outbox row; the expiry follow-up; the
#      idempotency key with its answer) — on a database migrated by
#      `paywire migrate up` (the same tables, indexes and triggers), at
#      each number of clients;
#   2. right after each pgbench run, `paywire loadgen --mode json` sends
#      JSON starts to `paywire serve` (PostgreSQL, the demo merchant with
#      its real API secret, the decision recorder and the outbox and
#      follow-up workers running as served) from as many clients, and
#      pgbench runs again right after: the reference is the mean of the
#      two runs that bracket loadgen's (pgbench's own rate moves on a
#      shared machine), its p50/p99 those of both runs' transactions;
#   3. then SOAP getRedirectData and the whole flow (start, hosted pages
#      with the card form, the merchant's read and capture) at
#      BENCH_SOAP_CLIENTS and BENCH_FLOW_CLIENTS;
#
# and prints one table: clients, pgbench TPS, loadgen answered a second,
# their ratio, p50/p99 of each, the server's CPU time per request, with the
# machine (CPUs, load average at the start and at the end). The raw outputs
# stay in BENCH_OUT. Exits 1 when a request failed or PostgreSQL cannot be
# reached. See docs/performance.md, "Merchant API throughput".
#
# Settings (environment):
#   PGHOST, PGPORT, PGUSER      PostgreSQL, trust auth (127.0.0.1, 5432, postgres)
#   BENCH_CLIENTS               clients of the paired runs ("1 4 16")
#   BENCH_SOAP_CLIENTS          SOAP getRedirectData clients (16; empty: no run)
#   BENCH_FLOW_CLIENTS          whole-flow clients (16; empty: no run)
#   BENCH_PGBENCH_SECONDS       each pgbench run (15)
#   BENCH_LOAD_SECONDS          each loadgen run's measured part (15)
#   BENCH_WARMUP_SECONDS        each loadgen run's warm-up, not counted (3)
#   BENCH_FILL_SECONDS          the history both databases get before the runs,
#                               then analyzed: pgbench and whole flows at 16
#                               clients for this long each (10; 0: none)
#   BENCH_CUSTOMERS             end users coming back, in both (100000). Few end
#                               users paying hundreds of times a second each pay
#                               dozens of times an hour, which the risk rules
#                               rightly meet with 3-D Secure: with 1000, nearly
#                               every whole flow goes through the challenge
#   BENCH_NOTIFY                1: the payments' notifications are delivered
#                               to a listener in loadgen, as a merchant's
#                               would be; 0: the demo merchant has no
#                               notification URL and none is sent (1)
#   BENCH_OUT                   where outputs and the server's log go (a new
#                               directory under /tmp)
#   BENCH_KEEP                  1: keep the two databases afterwards (0)
#   PAYWIRE_BIN                 a paywire binary to use instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
clients=${BENCH_CLIENTS-1 4 16}
soap_clients=${BENCH_SOAP_CLIENTS-16}
flow_clients=${BENCH_FLOW_CLIENTS-16}
pgbench_seconds=${BENCH_PGBENCH_SECONDS:-15}
load_seconds=${BENCH_LOAD_SECONDS:-15}
warmup_seconds=${BENCH_WARMUP_SECONDS:-3}
fill_seconds=${BENCH_FILL_SECONDS:-10}
customers=${BENCH_CUSTOMERS:-100000}
notify=${BENCH_NOTIFY:-1}
keep=${BENCH_KEEP:-0}
out=${BENCH_OUT:-$(mktemp -d /tmp/paywire-bench.XXXXXX)}
mkdir -p "$out"

say() { printf '%s\n' "$*" >&2; }
die() { say "bench.sh: $*"; exit 1; }
for v in "$pgbench_seconds" "$load_seconds" "$warmup_seconds" "$fill_seconds" "$customers"; do
	[[ $v =~ ^[0-9]+$ ]] || die "durations and BENCH_CUSTOMERS are whole numbers (got \"$v\")"
done
for c in $clients $soap_clients $flow_clients; do
	[[ $c =~ ^[0-9]+$ && $c -ge 1 ]] || die "numbers of clients are whole numbers of at least 1 (got \"$c\")"
done

# --- what the run needs -------------------------------------------------
install() { # packages...
	[ "$(id -u)" = 0 ] || die "$* missing; install them (apt-get install $*)"
	say "installing $*"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v psql >/dev/null || install postgresql-client
command -v pgbench >/dev/null || install postgresql-contrib # Debian ships pgbench with the server package it pulls in
command -v jq >/dev/null || install jq
command -v pgbench >/dev/null || die "pgbench is still missing after installing postgresql-contrib"

if ! err=$(psql -X -d postgres -Atc 'select 1' 2>&1 >/dev/null); then
	die "PostgreSQL at $PGHOST:$PGPORT (user $PGUSER, trust auth) cannot be reached: $err"
fi
pg_version=$(psql -X -d postgres -Atc 'show server_version')

if [ -n "${PAYWIRE_BIN:-}" ]; then
	bin=$PAYWIRE_BIN
else
	say "building paywire"
	bin=$out/paywire
	CGO_ENABLED=0 go build -o "$bin" ./cmd/paywire
fi

# --- the two databases: one for pgbench, one for the server --------------
db_pgbench=paywire_bench_pg_$$ db_serve=paywire_bench_serve_$$
dsn() { echo "postgres://$PGUSER@$PGHOST:$PGPORT/$1?sslmode=disable"; }
server_pid=
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ "$keep" != 1 ]; then
		psql -X -q -d postgres -c "drop database if exists $db_pgbench" -c "drop database if exists $db_serve" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for db in "$db_pgbench" "$db_serve"; do
	psql -X -q -d postgres -c "create database $db"
	"$bin" migrate up --db "$(dsn "$db")" >"$out/migrate-$db.log" 2>&1 || { cat "$out/migrate-$db.log" >&2; die "migrate up failed"; }
done
# pgbench's payments belong to a merchant of its database, as the
# server's to the demo merchant.
"$bin" merchant create --db "$(dsn "$db_pgbench")" --id demo --name "Bench" --return-url-prefix https://shop.example/ >"$out/merchant.log" 2>&1 ||
	{ cat "$out/merchant.log" >&2; die "creating pgbench's merchant failed"; }
outbox_status=no_endpoint
[ "$notify" = 1 ] && outbox_status=pending

# --- the server --------------------------------------------------------
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
secret=pw_bench_$(hex 24)
: >"$out/serve.log"
PAYWIRE_DEMO_SECRET=$secret PAYWIRE_ADMIN_PASSWORD=$(hex 16) PAYWIRE_TOKEN_KEY=$(hex 32) \
	"$bin" serve --db "$(dsn "$db_serve")" --addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --pprof \
	--demo --demo-history=false >"$out/serve.log" 2>&1 &
server_pid=$!
base=
for _ in $(seq 1 60); do
	kill -0 "$server_pid" 2>/dev/null || { tail -20 "$out/serve.log" >&2; die "paywire serve ended at start"; }
	base=$(sed -n 's/.*msg="paywire is serving" addr=\(http:[^ ]*\).*/\1/p' "$out/serve.log")
	[ -n "$base" ] && "$bin" healthcheck --url "$base/readyz" >/dev/null 2>&1 && break
	base=
	sleep 0.5
done
[ -n "$base" ] || { tail -20 "$out/serve.log" >&2; die "paywire serve did not become ready in 30 s"; }
metrics=$(sed -n 's/.*msg="metrics are served" addr=\(http:[^ ]*\)\/metrics.*/\1/p' "$out/serve.log")
say "paywire serve (pid $server_pid) at $base, metrics and pprof at $metrics, log $out/serve.log"

# --- measuring ---------------------------------------------------------
cpus=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
clk=$(getconf CLK_TCK)
server_cpu() { awk -v clk="$clk" '{print ($14 + $15) / clk}' "/proc/$server_pid/stat"; } # seconds of CPU so far
children_cpu() { # seconds of CPU of this shell's finished children (loadgen): the second line of `times`
	times >"$out/times"
	awk 'NR == 2 {split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2]}' "$out/times"
}
pct() { # file of numbers, percentile 0-100: nearest rank
	sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END {if (NR == 0) {print "-"; exit} i=int(NR*p/100+0.999999); if (i<1) i=1; printf "%.1f", a[i]}'
}

declare -A tps tps_runs pg_p50 pg_p99
# run_pgbench runs pgbench at c clients. A second run at the same number
# (after loadgen's, which it brackets) makes the reference the mean of the
# two, and the percentiles those of both runs' transactions: on a shared
# machine pgbench's own rate moves by a fifth within minutes.
run_pgbench() { # clients [tag]
	local c=$1 tag=${2:-before} prefix="$out/pgbench-c$1-${2:-before}" run
	say "pgbench: $c clients for ${pgbench_seconds}s ($tag)"
	vacuum "$db_pgbench"
	rm -f "$prefix".*
	if [ "$tag" = before ]; then
		rm -f "$out/pgbench-c$c.ms"
		tps_runs[$c]=
	fi
	pgbench -n -M simple -c "$c" -j "$((c < cpus ? c : cpus))" -T "$pgbench_seconds" -l --log-prefix="$prefix" \
		-D customers="$customers" -D merchant=demo -D outbox_status="$outbox_status" \
		-f scripts/bench-start.sql "$db_pgbench" >"$prefix.out" 2>&1 || { cat "$prefix.out" >&2; die "pgbench failed"; }
	run=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$prefix.out" | awk '{printf "%.1f", $1}')
	[ -n "$run" ] || { cat "$prefix.out" >&2; die "pgbench printed no TPS"; }
	grep -q '^number of failed transactions: 0 ' "$prefix.out" || { cat "$prefix.out" >&2; die "pgbench transactions failed"; }
	tps_runs[$c]="${tps_runs[$c]:+${tps_runs[$c]} }$run"
	tps[$c]=$(echo "${tps_runs[$c]}" | awk '{for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF}')
	cat "$prefix".[0-9]* | awk '{print $3/1000}' >>"$out/pgbench-c$c.ms" # per transaction, µs -> ms
	pg_p50[$c]=$(pct "$out/pgbench-c$c.ms" 50) pg_p99[$c]=$(pct "$out/pgbench-c$c.ms" 99)
}

failed=0
rows=()
# vacuum does what autovacuum does in a database in use (it may be off on
# the machine: then each run inherits the dead rows and the statistics of
# the runs before it, and the whole flow, which runs last, ran at half its
# rate): before each run, its database is vacuumed and analyzed.
vacuum() { # database
	psql -X -q -d "$1" -c 'vacuum analyze' || die "VACUUM ANALYZE of $1 failed"
}
run_load() { # mode clients label
	local mode=$1 c=$2 label=$3 file="$out/loadgen-$1-c$2.json" cpu0 cpu1 rc=0 listen=()
	[ "$notify" = 1 ] && listen=(--listen 127.0.0.1:0)
	vacuum "$db_serve"
	say "loadgen: $mode, $c clients for ${load_seconds}s after ${warmup_seconds}s"
	cpu0=$(server_cpu)
	children_cpu >"$out/cpu0"
	PAYWIRE_LOADGEN_SECRET=$secret "$bin" loadgen --json --url "$base" --merchant demo --mode "$mode" --concurrency "$c" \
		--duration "${load_seconds}s" --warmup "${warmup_seconds}s" --customers "$customers" "${listen[@]}" \
		>"$file" 2>"$out/loadgen-$mode-c$c.err" || rc=$?
	cpu1=$(server_cpu)
	children_cpu >"$out/cpu1"
	[ -s "$file" ] || { cat "$out/loadgen-$mode-c$c.err" >&2; die "loadgen printed nothing"; }
	[ "$mode" = json ] && run_pgbench "$c" after
	local rps answered failed_n errors p50 p99 latency ratio cpu_req client_req
	rps=$(jq -r '.rps' "$file") answered=$(jq -r '.answered' "$file") failed_n=$(jq -r '.failed' "$file")
	errors=$(jq -r '[.errors | to_entries[] | "\(.key)=\(.value)"] | join(",") | if . == "" then "0" else . end' "$file")
	p50=$(jq -r 'if .latencyMs then .latencyMs.p50 else "-" end' "$file") p99=$(jq -r 'if .latencyMs then .latencyMs.p99 else "-" end' "$file")
	# The run's CPU (warm-up, measured part, notifications settling) over
	# all requests it started.
	cpu_req=$(jq -r --arg cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {print b - a}')" \
		'($cpu | tonumber) * 1000 / ([.requests + .warmupRequests, 1] | max) | . * 100 | round / 100' "$file")
	latency=-/-
	[ "$p50" != - ] && latency=$(printf '%.1f/%.1f' "$p50" "$p99")
	client_req=$(jq -r --arg cpu "$(awk 'BEGIN {getline a <ARGV[1]; getline b <ARGV[2]; print b - a}' "$out/cpu0" "$out/cpu1")" \
		'($cpu | tonumber) * 1000 / ([.requests + .warmupRequests, 1] | max) | . * 100 | round / 100' "$file")
	ratio=-
	[ -n "${tps[$c]:-}" ] && ratio=$(awk -v a="$rps" -v b="${tps[$c]}" 'BEGIN {printf "%.0f %%", 100 * a / b}')
	if [ "$failed_n" != 0 ] || [ "$rc" != 0 ]; then failed=1; fi
	rows+=("$(printf '%-12s %7s %11s %13s %11.1f %13s %7s  %-14s %10s %10s' "$label" "$c" "${tps[$c]:--}" \
		"${pg_p50[$c]:--}/${pg_p99[$c]:--}" "$rps" "$latency" \
		"$ratio" "$errors" "$cpu_req" "$client_req")")
	rows_json+=("$(jq -c --arg run "$label" --arg tps "${tps[$c]:-}" --arg runs "${tps_runs[$c]:-}" --arg cpu "$cpu_req" --arg client "$client_req" \
		'{run: $run, clients: .concurrency, pgbenchTps: ($tps | if . == "" then null else tonumber end),
		  pgbenchRuns: ($runs | split(" ") | map(select(. != "") | tonumber)), rps, answered, failed, errors,
		  latencyMs, serverCpuMsPerRequest: ($cpu | tonumber), loadgenCpuMsPerRequest: ($client | tonumber), notifications}' "$file")")
}
rows_json=()

# --- a history to plan with --------------------------------------------
# A database in use has statistics: autovacuum analyzes a table within
# about a minute of a tenth of it changing. These two start empty, and
# PostgreSQL would plan blind (its guesses for a table never analyzed):
# the node keeps its hot statements prepared, so a plan made blind in the
# first seconds would last until the first ANALYZE, beyond a short run.
# Both get a history first, from the same writers, and are analyzed:
# pgbench's start transaction, and whole flows, which write every table a
# start and a payment's pages read. BENCH_FILL_SECONDS=0 skips it, to see
# the blind plans' cost (docs/performance.md).
if [ "$fill_seconds" -gt 0 ]; then
	say "filling: pgbench and whole flows at 16 clients for ${fill_seconds}s each, then ANALYZE"
	pgbench -n -M simple -c 16 -j "$cpus" -T "$fill_seconds" -D customers="$customers" -D merchant=demo -D outbox_status="$outbox_status" \
		-f scripts/bench-start.sql "$db_pgbench" >"$out/fill-pgbench.out" 2>&1 || { cat "$out/fill-pgbench.out" >&2; die "pgbench failed while filling"; }
	fill_listen=()
	[ "$notify" = 1 ] && fill_listen=(--listen 127.0.0.1:0)
	PAYWIRE_LOADGEN_SECRET=$secret "$bin" loadgen --url "$base" --merchant demo --mode flow --concurrency 16 \
		--duration "${fill_seconds}s" --warmup 1s --customers "$customers" "${fill_listen[@]}" >"$out/fill-loadgen.out" 2>&1 ||
		{ cat "$out/fill-loadgen.out" >&2; die "loadgen failed while filling"; }
	for db in "$db_pgbench" "$db_serve"; do
		psql -X -q -d "$db" -c 'analyze' || die "ANALYZE of $db failed"
	done
fi

for c in $clients; do
	run_pgbench "$c"
	run_load json "$c" "json start"
done
for c in $soap_clients; do
	[ -n "${tps[$c]:-}" ] || run_pgbench "$c"
	run_load soap "$c" "soap start"
done
for c in $flow_clients; do
	[ -n "${tps[$c]:-}" ] || run_pgbench "$c"
	run_load flow "$c" "whole flow"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the table ---------------------------------------------------------
{
	echo
	echo "machine: $cpus CPUs ($cpu_model); PostgreSQL $pg_version at $PGHOST:$PGPORT"
	echo "load average (1, 5, 15 min): $load_start at the start, $load_end at the end"
	echo "pgbench: scripts/bench-start.sql, -M simple, ${pgbench_seconds}s a run, before and after each json start run (the mean of the two):"
	echo "  per transaction one query, as the server sends it,"
	echo "  of six INSERTs: payments, decisions (the availability record, ~2.4 KB of JSON), payment_events,"
	echo "  outbox (status $outbox_status), follow_ups (the expiry), idempotency_keys (the answer); nothing a start reads"
	echo "loadgen: ${load_seconds}s after a ${warmup_seconds}s warm-up, $customers end users coming back; notifications:"
	if [ "$notify" = 1 ]; then echo "  delivered by the server's outbox worker to a listener in loadgen"; else echo "  none (the demo merchant has no URL)"; fi
	echo "  a flow's rate is whole flows (several HTTP exchanges each) a second; its ratio is against pgbench's start transaction"
	echo
	printf '%-12s %7s %11s %13s %11s %13s %7s  %-14s %10s %10s\n' "run" "clients" "pgbench tps" "p50/p99 ms" "loadgen rps" "p50/p99 ms" "ratio" "errors" "server CPU" "loadgen CPU"
	printf '%-12s %7s %11s %13s %11s %13s %7s  %-14s %10s %10s\n' "" "" "" "" "" "" "" "" "ms/request" "ms/request"
	printf '%s\n' "${rows[@]}"
	echo
	echo "goals: json start at 16 clients >= 60 % of pgbench's TPS with p99 <= 20 ms; whole flow at 16 >= 25 %"
	printf '%s\n' "${rows_json[@]}" | jq -rs '
		def row($l): map(select(.run == $l and .clients == 16))[0];
		(row("json start") | if . == null or .pgbenchTps == null then "  json start at 16: not measured" else
			"  json start at 16: \(.rps / .pgbenchTps * 100 | round) % of pgbench, p99 \(if .latencyMs then .latencyMs.p99 * 10 | round / 10 else "-" end) ms: " +
			(if .failed == 0 and .latencyMs != null and .rps / .pgbenchTps >= 0.6 and .latencyMs.p99 <= 20 then "met" else "NOT met" end) end),
		(row("whole flow") | if . == null or .pgbenchTps == null then "  whole flow at 16: not measured" else
			"  whole flow at 16: \(.rps / .pgbenchTps * 100 | round) %: " + (if .failed == 0 and .rps / .pgbenchTps >= 0.25 then "met" else "NOT met" end) end)'
	echo
	echo "outputs: $out"
} | tee "$out/table.txt"
printf '%s\n' "${rows_json[@]}" | jq -s --arg cpus "$cpus" --arg from "$load_start" --arg until "$load_end" --arg pg "$pg_version" \
	'{cpus: ($cpus | tonumber), loadAverageStart: $from, loadAverageEnd: $until, postgres: $pg, runs: .}' >"$out/bench.json"

if [ "$failed" = 1 ]; then
	say "bench.sh: REQUESTS FAILED in a run (the errors column; details in $out/loadgen-*.json and $out/serve.log)"
	exit 1
fi
