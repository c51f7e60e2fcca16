# The stock psql against a real PostgreSQL server, over the Unix socket and over TLS: exact
# calls per fingerprint, rows, one SQLSTATE, `\;` strings split per result, output unchanged.
source "$(dirname "$0")/lib.sh"
need_pg || { fail "PostgreSQL server did not start"; exit 1; }

{
	echo "DROP TABLE IF EXISTS psql_items;"
	echo "CREATE TABLE psql_items (id int PRIMARY KEY, name text, qty int);"
	for i in $(seq 1 12); do echo "INSERT INTO psql_items VALUES ($i, 'item $i', $((i * 2)));"; done
	for i in $(seq 1 8); do echo "select name from psql_items where id = $i;"; done
	echo "SELECT name FROM psql_items WHERE id = 99;" # same fingerprint, no row
	echo "UPDATE psql_items SET qty = qty + 1 WHERE id <= 5;"
	echo "SELECT * FROM psql_missing;"
	# One string of three statements, sent as one query: one record per result.
	echo "SELECT count(*) FROM psql_items \\; DELETE FROM psql_items WHERE id > 10 \\; SELECT 'x', 2;"
	echo "DROP TABLE psql_items;"
} >"$WORK/script.sql"

run_psql_checks() {
	local via=$1
	pg_via "$via"
	start_exporter
	agent psql -X -f "$WORK/script.sql" >"$WORK/out.agent" 2>"$WORK/err.agent"
	local rc_agent=$?
	psql -X -f "$WORK/script.sql" >"$WORK/out.plain" 2>"$WORK/err.plain"
	local rc_plain=$?
	check "$via: psql exit code unchanged" "$rc_plain" "$rc_agent"
	check_cmd "$via: psql stdout unchanged" cmp -s "$WORK/out.plain" "$WORK/out.agent"
	check_cmd "$via: psql stderr unchanged" cmp -s "$WORK/err.plain" "$WORK/err.agent"

	# 2 + 12 + 9 + 1 + 1 + 3 + 1 statements, each recorded once.
	check "$via: all 29 statements recorded" 29 "$(wait_calls 29)"
	local ins="INSERT INTO psql_items VALUES (?, ?, ?)"
	check "$via: insert: 12 calls under one fingerprint" 12 "$(query_field "$ins" calls)"
	check "$via: insert: 12 rows affected" 12 "$(query_field "$ins" rows)"
	local sel="SELECT name FROM psql_items WHERE id = ?"
	check "$via: point select: 9 calls, case folded" 9 "$(query_field "$sel" calls)"
	check "$via: point select: 8 rows" 8 "$(query_field "$sel" rows)"
	check "$via: update: 5 rows" 5 "$(query_field "UPDATE psql_items SET qty = qty + ? WHERE id <= ?" rows)"
	check "$via: missing table: 1 error" 1 "$(query_field "SELECT * FROM psql_missing" errors)"
	check "$via: \\; string: count, one call" 1 "$(query_field "SELECT count(*) FROM psql_items" calls)"
	check "$via: \\; string: delete, 2 rows" 2 "$(query_field "DELETE FROM psql_items WHERE id > ?" rows)"
	check "$via: \\; string: last select" 1 "$(query_field "SELECT ?, ?" calls)"
	check "$via: namespace is the database" dbprobe "$(query_field "$ins" db_namespace)"
	check "$via: db_system" postgresql "$(query_field "$ins" db_system)"
	check "$via: server_address" "$PG_SERVER" "$(query_field "$ins" server_address)"
	check "$via: server_port" "$PG_PORT" "$(query_field "$ins" server_port)"

	local m
	m=$(get /metrics | grep _count)
	check "$via: SQLSTATE 42P01 as error_type" 1 \
		"$(grep -c 'db_query_summary="SELECT psql_missing",error_type="42P01"} 1$' <<<"$m")"
	check "$via: server labels on the duration histogram" 1 \
		"$(grep -c "^db_client_operation_duration_seconds_count{service_name=\"psql\",db_system_name=\"postgresql\",db_namespace=\"dbprobe\",server_address=\"$PG_SERVER\",server_port=\"$PG_PORT\",db_query_summary=\"INSERT psql_items\"} 12$" <<<"$m")"
	check "$via: one connection, its create time" 1 \
		"$(grep -c "^db_client_connection_create_time_seconds_count{service_name=\"psql\",db_system_name=\"postgresql\",db_namespace=\"dbprobe\",server_address=\"$PG_SERVER\",server_port=\"$PG_PORT\"} 1$" <<<"$m")"
	check_cmd "$via: promtool check metrics passes" promtool check metrics <<<"$(get /metrics)"

	# psql -c with two statements: one string, two results, two records.
	agent psql -X -q -c "SELECT 41 + 1; SELECT 'psql-c', 7, 8" >/dev/null
	check "$via: psql -c string: first statement" 1 "$(query_field "SELECT ? + ?" calls)"
	check "$via: psql -c string: second statement" 1 "$(query_field "SELECT ?, ?, ?" calls)"
	stop_exporter
}

run_psql_checks unix
run_psql_checks tls
check "tls: the connection really is encrypted" t \
	"$(psql -X -A -t -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')"

# A failed connection is counted with its own error type, and psql's exit code is unchanged.
start_exporter
PGPORT=1 agent psql -X -h 127.0.0.1 -c 'SELECT 1' >/dev/null 2>&1
check "refused connection: psql still exits 2" 2 "$?"
sleep 0.3
check "refused connection: create time counted as 08006" 1 \
	"$(get /metrics | grep -c '^db_client_connection_create_time_seconds_count{service_name="psql",db_system_name="postgresql",db_namespace="dbprobe",server_address="127.0.0.1",server_port="1",error_type="08006"} 1$')"

# Disarmed, the libpq hooks pass straight through: nothing recorded, output unchanged.
stop_exporter
start_exporter
pg_via unix
out=$(DBPROBE_HOOKS=sqlite agent psql -X -A -t -c 'SELECT 6 * 7' 2>&1)
check "DBPROBE_HOOKS=sqlite: psql's answer unchanged" 42 "$out"
out=$(DBPROBE_DISABLE=1 agent psql -X -A -t -c 'SELECT 6 * 7' 2>&1)
check "DBPROBE_DISABLE=1: psql's answer unchanged" 42 "$out"
sleep 0.3
check "disarmed libpq hooks record nothing" 0 "$(calls_received)"
check "DBPROBE_HOOKS=pq records psql" 1 \
	"$(DBPROBE_HOOKS=pq agent psql -X -q -c 'SELECT 6 * 7' >/dev/null; wait_calls 1)"
