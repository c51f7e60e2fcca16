# The stock `mariadb` command-line client. Debian links it with its own copy of the client
# library, so no symbol can be interposed: the agent follows the connection's bytes (the MySQL
# protocol above the socket calls, agent/mywire.c). Exact calls, rows, error numbers; output
# unchanged.
source "$(dirname "$0")/lib.sh"
need_mariadb || { fail "MariaDB server did not start"; exit 1; }
cli() { mariadb --no-defaults --socket="$MY_SOCKET" -udbprobe "$@"; }

{
	echo "DROP TABLE IF EXISTS cli_items;"
	echo "CREATE TABLE cli_items (id INT PRIMARY KEY, name VARCHAR(32), qty INT);"
	for i in $(seq 1 12); do echo "INSERT INTO cli_items VALUES ($i, 'item $i', $((i * 2)));"; done
	for i in $(seq 1 8); do echo "select name from cli_items where id = $i;"; done
	echo "SELECT name FROM cli_items WHERE id = 99;" # same fingerprint, no row
	echo "UPDATE cli_items SET qty = qty + 1 WHERE id <= 5;"
	echo "SELECT * FROM cli_missing;"
	echo "INSERT INTO cli_items VALUES (1, 'dup', 0);"
	# several statements on one line
	echo "SELECT COUNT(*) FROM cli_items; DELETE FROM cli_items WHERE id > 10; SELECT 'x', 2;"
	echo "CREATE DATABASE IF NOT EXISTS dbprobe_cli;"
	echo "USE dbprobe_cli;"
	echo "SELECT DATABASE() AS here;"
	echo "USE dbprobe;"
	echo "SELECT name, qty FROM cli_items ORDER BY id;"
	echo "DROP TABLE cli_items;"
} >"$WORK/script.sql"

start_exporter
agent cli --force dbprobe <"$WORK/script.sql" >"$WORK/out.agent" 2>"$WORK/err.agent"
rc_agent=$?
cli --force dbprobe <"$WORK/script.sql" >"$WORK/out.plain" 2>"$WORK/err.plain"
rc_plain=$?
check "mariadb exit code unchanged" "$rc_plain" "$rc_agent"
check_cmd "mariadb stdout unchanged" cmp -s "$WORK/out.plain" "$WORK/out.agent"
check_cmd "mariadb stderr unchanged" cmp -s "$WORK/err.plain" "$WORK/err.agent"

# 2 + 12 + 9 + 1 + 1 + 1 + 3 + 1 + 1 + 1 + 1 statements (USE is a protocol command, not one),
# and the client's own SELECT DATABASE() after each USE: it runs them, so they are recorded.
check "all 35 statements recorded" 35 "$(wait_calls 35)"
get "/queries?limit=1000" >"$WORK/q.json"
row() {
	jq -r --arg q "$1" '[.queries[] | select(.query == $q)] |
		if length == 0 then "absent" else "\(.[0].calls)|\(.[0].errors)|\(.[0].rows)|\(.[0].db_namespace)" end' \
		"$WORK/q.json"
}
check "insert: 13 calls (12 + the duplicate), 1 error, 12 rows" "13|1|12|dbprobe" \
	"$(row "INSERT INTO cli_items VALUES (?, ?, ?)")"
check "point select: 9 calls, case folded, 8 rows" "9|0|8|dbprobe" \
	"$(row "SELECT name FROM cli_items WHERE id = ?")"
check "update: 5 rows" "1|0|5|dbprobe" "$(row "UPDATE cli_items SET qty = qty + ? WHERE id <= ?")"
check "missing table: 1 error" "1|1|0|dbprobe" "$(row "SELECT * FROM cli_missing")"
check "one line, three statements: count" "1|0|1|dbprobe" "$(row "SELECT COUNT(*) FROM cli_items")"
check "one line, three statements: delete, 2 rows" "1|0|2|dbprobe" \
	"$(row "DELETE FROM cli_items WHERE id > ?")"
check "one line, three statements: last select" "1|0|1|dbprobe" "$(row "SELECT ?, ?")"
check "USE moves the namespace" "1|0|1|dbprobe_cli" "$(row "SELECT DATABASE () AS here")"
check "the client's own statements after USE" 2 "$(jq '[.queries[] | select(.query == "SELECT DATABASE ()") | .calls] | add' "$WORK/q.json")"
check "and back" "1|0|10|dbprobe" "$(row "SELECT name, qty FROM cli_items ORDER BY id")"
check "db_system from the server's greeting" mariadb \
	"$(jq -r '.queries[0].db_system' "$WORK/q.json")"
check "server address is the socket path" "$MY_SOCKET" \
	"$(jq -r '.queries[0].server_address' "$WORK/q.json")"
m=$(get /metrics | grep _count)
check "1146 for the missing table" 1 \
	"$(grep -c 'db_query_summary="SELECT cli_missing",error_type="1146"} 1$' <<<"$m")"
check "1062 for the duplicate key" 1 "$(grep -c 'error_type="1062"} 1$' <<<"$m")"
check "the connection's create time" 1 \
	"$(grep '^db_client_connection_create_time_seconds_count{service_name="mariadb"' <<<"$m" | awk '{print $2}')"

# -e, and a client that never reaches the server: nothing recorded, nothing changed.
stop_exporter
start_exporter
out=$(agent cli dbprobe -e "SELECT 6 * 7 AS answer; SELECT 'two'" 2>&1)
check "-e: output unchanged" "$(cli dbprobe -e "SELECT 6 * 7 AS answer; SELECT 'two'" 2>&1)" "$out"
check "-e: two statements" 2 "$(wait_calls 2)"
agent mariadb --no-defaults --socket="$WORK/none.sock" -udbprobe -e "SELECT 1" >/dev/null 2>&1
check "refused connection: the client's exit code" 1 "$?"
stop_exporter
start_exporter
out=$(DBPROBE_HOOKS=sqlite,pq agent cli dbprobe -N -e "SELECT 6 * 7" 2>&1)
check "DBPROBE_HOOKS=sqlite,pq: the client's answer" 42 "$out"
sleep 0.3
check "DBPROBE_HOOKS=sqlite,pq: the client is not followed" 0 "$(calls_received)"
