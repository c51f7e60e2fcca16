# The stock pgbench, builtin TPC-B-like script, in each protocol mode, over the Unix socket and
# over TLS: each of its seven statements counted exactly transactions x clients times, under
# one fingerprint each, with its text.
source "$(dirname "$0")/lib.sh"
need_pg || { fail "PostgreSQL server did not start"; exit 1; }

N=30 CLIENTS=2
pg_via unix
pgbench -i -q -s 1 >"$WORK/init.out" 2>&1 || { fail "pgbench -i"; cat "$WORK/init.out"; exit 1; }

# The script's statements as the agent normalizes them: literals (simple mode) become ?, the
# extended modes send $n parameters.
tpcb() {
	local p=("$@")
	printf '%s\n' \
		"BEGIN" \
		"UPDATE pgbench_accounts SET abalance = abalance + ${p[0]} WHERE aid = ${p[1]}" \
		"SELECT abalance FROM pgbench_accounts WHERE aid = ${p[0]}" \
		"UPDATE pgbench_tellers SET tbalance = tbalance + ${p[0]} WHERE tid = ${p[1]}" \
		"UPDATE pgbench_branches SET bbalance = bbalance + ${p[0]} WHERE bid = ${p[1]}" \
		"INSERT INTO pgbench_history(tid, bid, aid, delta, mtime) VALUES (${p[0]}, ${p[1]}, ${p[2]}, ${p[3]}, CURRENT_TIMESTAMP)" \
		"END"
}

for via in unix tls; do
	pg_via "$via"
	for mode in simple extended prepared; do
		start_exporter
		agent pgbench -n -t $N -c $CLIENTS -M $mode >"$WORK/bench.out" 2>&1
		check "$via $mode: pgbench succeeds" 0 "$?"
		check "$via $mode: pgbench ran every transaction" 1 \
			"$(grep -c "number of transactions actually processed: $((N * CLIENTS))/$((N * CLIENTS))" "$WORK/bench.out")"
		if [[ $mode == simple ]]; then
			mapfile -t stmts < <(tpcb '?' '?' '?' '?')
		else
			mapfile -t stmts < <(tpcb '$1' '$2' '$3' '$4')
		fi
		wait_calls $((7 * N * CLIENTS)) >/dev/null
		for s in "${stmts[@]}"; do
			check "$via $mode: ${s:0:40}...: $((N * CLIENTS)) calls" $((N * CLIENTS)) \
				"$(query_field "$s" calls)"
		done
		check "$via $mode: no errors" 0 "$(get /queries | jq '[.queries[].errors] | add')"
		check "$via $mode: select returns one row a call" $((N * CLIENTS)) \
			"$(query_field "${stmts[2]}" rows)"
		check "$via $mode: $CLIENTS connections (and pgbench's own) timed" $((CLIENTS + 1)) \
			"$(get /agents | jq '.agents[0].connects')"
		stop_exporter
	done
done
