# A libpq program using every way to run a query (tests/clients/pq_client.c): PQexecParams,
# prepared statements, the async API, a pipeline, COPY both ways, a failing transaction, two
# connections interleaved, a multi-statement string, a non-blocking connect. Exact counts per
# statement, over the Unix socket and over TLS.
source "$(dirname "$0")/lib.sh"
need_pg || { fail "PostgreSQL server did not start"; exit 1; }
CLIENT=$B/tests/pq_client

# statement (as normalized) | calls | errors | rows (returned + affected)
expected=(
	"DROP TABLE IF EXISTS pqc_items|1|0|0"
	"CREATE TABLE pqc_items(id int PRIMARY KEY, name text)|1|0|0"
	"INSERT INTO pqc_items(id, name) VALUES (\$1, \$2)|5|0|5"
	"SELECT name FROM pqc_items WHERE id = \$1|9|0|7"
	"SELECT id FROM pqc_items WHERE id <= \$1|1|0|3"
	"SELECT count(*) FROM pqc_items|1|0|1"
	"UPDATE pqc_items SET name = \$1 WHERE id = \$2|2|0|2"
	"INSERT INTO pqc_items(id, name) VALUES (\$1, ?)|1|0|1"
	"SELECT count(*) FROM pqc_items WHERE name = \$1|1|0|1"
	"COPY pqc_items(id, name) FROM STDIN|1|0|4"
	"COPY (SELECT id, name FROM pqc_items ORDER BY id) TO STDOUT|1|0|10"
	"BEGIN|1|0|0"
	"SELECT * FROM pqc_missing_table|1|1|0"
	"ROLLBACK|1|0|0"
	"SELECT ? AS side|6|0|6"
	"SELECT pg_sleep(?), ?|1|0|1"
	# SELECT 1 (fails in the aborted transaction), 'b2', the first of the multi-statement
	# string, and 'c' on the non-blocking connection.
	"SELECT ?|4|1|3"
	"SELECT ?, ?|1|0|1"
	"UPDATE pqc_items SET name = ? WHERE id <= ?|1|0|2"
	# Section l: single-row mode, a pipeline's failure and the query it aborted, and an
	# execution by a name the reset session no longer has.
	"SELECT id FROM pqc_items ORDER BY id|1|0|10"
	"SELECT ? / \$1::int|1|1|0"
	"SELECT ? + \$1::int|2|1|1"
	"EXECUTE pqc_d|1|1|0"
)

for via in unix tls; do
	pg_via "$via"
	start_exporter
	agent "$CLIENT" "$PG_CONNINFO" >"$WORK/out" 2>&1
	check "$via: pq_client succeeds under the agent" 0 "$?"
	check "$via: 45 statement executions recorded" 45 "$(wait_calls 45)"
	get "/queries?limit=1000" >"$WORK/q.json"
	check "$via: 23 distinct statements" 23 "$(jq '.queries | length' "$WORK/q.json")"
	for e in "${expected[@]}"; do
		IFS='|' read -r sql calls errors rows <<<"$e"
		got=$(jq -r --arg q "$sql" '[.queries[] | select(.query == $q)] |
			if length == 0 then "absent" else "\(.[0].calls)|\(.[0].errors)|\(.[0].rows)" end' \
			"$WORK/q.json")
		check "$via: ${sql:0:50}: calls|errors|rows" "$calls|$errors|$rows" "$got"
	done
	m=$(get /metrics | grep _count)
	check "$via: 42P01 for the missing table" 1 \
		"$(grep -c 'db_query_summary="SELECT pqc_missing_table",error_type="42P01"} 1$' <<<"$m")"
	check "$via: 25P02 inside the failed transaction" 1 "$(grep -c 'error_type="25P02"} 1$' <<<"$m")"
	check "$via: 22012 in the pipeline" 1 "$(grep -c 'error_type="22012"} 1$' <<<"$m")"
	check "$via: the query it aborted" 1 "$(grep -c 'error_type="pipeline_aborted"} 1$' <<<"$m")"
	check "$via: 26000 after the reset" 1 "$(grep -c 'error_type="26000"} 1$' <<<"$m")"
	check "$via: five connections timed (blocking, params, non-blocking, setdbLogin, reset)" 5 \
		"$(grep '^db_client_connection_create_time_seconds_count' <<<"$m" |
			grep "server_address=\"$PG_SERVER\",server_port=\"$PG_PORT\"}" | awk '{print $2}')"
	check "$via: prepared executions carry their text, never a name" absent \
		"$(query_field "EXECUTE pqc_get" calls)"
	stop_exporter
done

# SQL-level PREPARE / EXECUTE / DEALLOCATE: executions are recorded under the prepared text.
pg_via unix
start_exporter
agent psql -X -q >/dev/null 2>&1 <<'EOF'
PREPARE getone (int) AS SELECT $1 + 100;
EXECUTE getone(1);
EXECUTE getone(2);
execute GETONE(3);
DEALLOCATE getone;
EXECUTE getone(4);
EOF
check "SQL EXECUTE: 3 executions under the prepared text" 3 "$(query_field 'SELECT $1 + ?' calls)"
check "SQL EXECUTE after DEALLOCATE: its own text, failed (26000)" 1 \
	"$(query_field 'EXECUTE getone(?)' errors)"
check "SQL PREPARE itself: one call" 1 "$(query_field 'PREPARE getone(int) AS SELECT $1 + ?' calls)"
