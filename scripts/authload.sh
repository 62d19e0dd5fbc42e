#!/bin/sh
# authload.sh: 40 parallel clients send wrong API secrets for 30 s to a
# running `paywire serve --demo` while one legitimate client measures its
# latency; prints the server's RSS before and after and the legitimate
# latencies (p50/p99) with and without the attack. Each attacker sends
# from an address of its own (127.0.0.10 and up), so that the per-address
# limit alone does not stop them; the legitimate client sends from
# LEGIT_FROM (127.0.0.2). TARGET=unknown makes the attackers name random
# merchant ids instead of the demo merchant.
# Usage: scripts/authload.sh PID URL SECRET
set -eu
pid=$1 url=$2 secret=$3 clients=${CLIENTS:-40} secs=${SECONDS_ATTACK:-30}
rss() { awk '/VmRSS/ {print $2/1024 " MB"}' /proc/$pid/status; }
legit() { # n requests, one at a time; prints sorted times in ms
	i=0; while [ $i -lt $1 ]; do
		curl -s -o /dev/null -w "%{time_total} %{http_code}\n" --interface "${LEGIT_FROM:-127.0.0.2}" -u "demo:$secret" "$url/api/v1/notifications"; i=$((i+1))
	done | awk '$2 != 200 {bad++} {print $1*1000} END {if (bad) print bad " not 200" > "/dev/stderr"}' | sort -n
}
pct() { awk -v p=$1 '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; print a[i] " ms"}'; }
echo "RSS before: $(rss)"
legit 200 > /tmp/authload.quiet
echo "legit without attack: p50 $(pct 50 < /tmp/authload.quiet) p99 $(pct 99 < /tmp/authload.quiet)"
end=$(( $(date +%s) + secs ))
n=0; while [ $n -lt $clients ]; do
	( k=0; while [ $(date +%s) -lt $end ]; do
		user=demo; [ "${TARGET:-demo}" = unknown ] && user="m-$n-$k"
		curl -s -o /dev/null --interface "127.0.0.$((10+n))" -u "$user:wrong-$n" "$url/api/v1/notifications"; k=$((k+1))
	done ) &
	n=$((n+1))
done
sleep 3
legit 200 > /tmp/authload.attack
echo "legit during attack: p50 $(pct 50 < /tmp/authload.attack) p99 $(pct 99 < /tmp/authload.attack)"
echo "RSS during attack: $(rss)"
wait
echo "RSS after: $(rss)"
