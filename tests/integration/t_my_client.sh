# A libmariadb program using every part of the MySQL client API (tests/clients/my_client.c):
# text queries with stored and row-by-row results, prepared statements executed with bound
# values, send/read, failures, multi-statements, a database switch, two connections. Exact
# calls, rows and error numbers per statement.
source "$(dirname "$0")/lib.sh"
need_mariadb || { fail "MariaDB server did not start"; exit 1; }
CLIENT=$B/tests/my_client

start_exporter
agent "$CLIENT" "$MY_SOCKET" dbprobe dbprobe >"$WORK/out" 2>&1
check "my_client succeeds under the agent" 0 "$?"
cat "$WORK/out" | grep -v '^my_client: ok$' >&2
check "35 statement executions recorded" 35 "$(wait_calls 35)"
get "/queries?limit=1000" >"$WORK/q.json"

# statement (as normalized) | calls | errors | rows (returned + affected)
expected=(
	"DROP TABLE IF EXISTS myc_items|1|0|0"
	"CREATE TABLE myc_items(id INT PRIMARY KEY, name VARCHAR(?), qty INT)|1|0|0"
	# six text inserts with their literals, and the prepared duplicate that fails (1062)
	"INSERT INTO myc_items VALUES (?, ?, ?)|7|1|6"
	# store_result: 4, 5 and 6 rows
	"SELECT id, name FROM myc_items WHERE id <= ?|3|0|15"
	# use_result: 6 rows read, then 2 read before the result was freed
	"SELECT name FROM myc_items ORDER BY id|2|0|8"
	"SELECT name, qty FROM myc_items WHERE id = ?|5|0|5"
	"UPDATE myc_items SET qty = qty + ? WHERE id = ?|3|0|3"
	"SELECT COUNT(*) FROM myc_items|1|0|1"
	"SELECT * FROM myc_missing|1|1|0"
	# the multi-statement string, one call per statement
	"SELECT ?|1|0|1"
	"UPDATE myc_items SET qty = ? WHERE id <= ?|1|0|2"
	"SELECT name FROM myc_items WHERE id = ?|1|0|1"
	"CREATE DATABASE IF NOT EXISTS dbprobe_other|1|0|1"
	"SELECT DATABASE ()|1|0|1"
	"SELECT ? AS side|6|0|6"
)
check "15 distinct statements" 15 "$(jq '.queries | length' "$WORK/q.json")"
for e in "${expected[@]}"; do
	IFS='|' read -r sql calls errors rows <<<"$e"
	got=$(jq -r --arg q "$sql" '[.queries[] | select(.query == $q)] |
		if length == 0 then "absent" else "\(.[0].calls)|\(.[0].errors)|\(.[0].rows)" end' \
		"$WORK/q.json")
	check "${sql:0:50}: calls|errors|rows" "$calls|$errors|$rows" "$got"
done
check "db_system is mariadb, by the server's version" mariadb \
	"$(query_field "SELECT COUNT(*) FROM myc_items" db_system)"
check "namespace follows mysql_select_db" dbprobe_other "$(query_field "SELECT DATABASE ()" db_namespace)"
check "namespace is the database" dbprobe "$(query_field "SELECT * FROM myc_missing" db_namespace)"
check "server address is the socket path" "$MY_SOCKET" \
	"$(query_field "SELECT * FROM myc_missing" server_address)"
check "no port for a Unix socket" null "$(query_field "SELECT * FROM myc_missing" server_port)"
m=$(get /metrics | grep _count)
check "1146 for the missing table" 1 \
	"$(grep -c 'db_query_summary="SELECT myc_missing",error_type="1146"} 1$' <<<"$m")"
check "1062 for the duplicate key" 1 "$(grep -c 'error_type="1062"} 1$' <<<"$m")"
check "two connections timed" 2 \
	"$(grep '^db_client_connection_create_time_seconds_count{service_name="my_client",db_system_name="mariadb"' <<<"$m" | awk '{print $2}')"
check_cmd "promtool check metrics passes" promtool check metrics <<<"$(get /metrics)"

# A refused connection: counted with its error number, the program's outcome unchanged.
stop_exporter
start_exporter
agent "$CLIENT" "$WORK/no-such.sock" dbprobe dbprobe >/dev/null 2>&1
check "refused connection: my_client still exits 1" 1 "$?"
sleep 0.3
check "refused connection: create time counted as 2002" 1 \
	"$(get /metrics | grep -c '^db_client_connection_create_time_seconds_count{.*error_type="2002"} 1$')"
check "disarmed: DBPROBE_HOOKS=sqlite,pq records nothing of MySQL" "0|my_client: ok" \
	"$(out=$(DBPROBE_HOOKS=sqlite,pq agent "$CLIENT" "$MY_SOCKET" dbprobe dbprobe); sleep 0.3; echo "$(calls_received)|$out")"
