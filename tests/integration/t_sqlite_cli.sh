# The stock sqlite3 program running a script of known statements: exact calls, rows, errors.
source "$(dirname "$0")/lib.sh"
start_exporter

{
	echo "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, age INT);"
	for i in $(seq 1 20); do echo "INSERT INTO users(name, age) VALUES ('n$i', $i);"; done
	for i in $(seq 1 10); do echo "select * from users where id=$i;"; done
	echo "SELECT *  FROM users WHERE id = 22;" # same fingerprint, no row
	echo "SELECT count(*) FROM users;"
	echo "UPDATE users SET age = age + 1 WHERE id <= 5;"
	echo "DELETE FROM users WHERE id > 15;"
	echo "SELECT * FROM missing_table;"
	echo "INSERT INTO users(id, name, age) VALUES (1, 'dup', 1);"
	echo "SELECT 'it''s', -1.5e3, x'ff' /* a comment */;"
} >"$WORK/script.sql"

agent sqlite3 "$WORK/db" <"$WORK/script.sql" >"$WORK/out.agent" 2>"$WORK/err.agent"
rc_agent=$?
rm -f "$WORK/db"
sqlite3 "$WORK/db" <"$WORK/script.sql" >"$WORK/out.plain" 2>"$WORK/err.plain"
rc_plain=$?
check "sqlite3 exit code unchanged" "$rc_plain" "$rc_agent"
check_cmd "sqlite3 stdout unchanged" cmp -s "$WORK/out.plain" "$WORK/out.agent"
check_cmd "sqlite3 stderr unchanged" cmp -s "$WORK/err.plain" "$WORK/err.agent"

# 38 statements in the script, every one recorded exactly once (visible within 1 s of exit).
check "all 38 statements recorded within a second" 38 "$(wait_calls 38)"

ins="INSERT INTO users(name, age) VALUES (?, ?)"
check "insert: 20 calls under one fingerprint" 20 "$(query_field "$ins" calls)"
check "insert: 20 rows" 20 "$(query_field "$ins" rows)"
check "insert: summary" "INSERT users" "$(query_field "$ins" summary)"
sel="SELECT * FROM users WHERE id = ?"
check "point select: 11 calls, case and spacing folded" 11 "$(query_field "$sel" calls)"
check "point select: 10 rows (id=22 has none)" 10 "$(query_field "$sel" rows)"
check "count: 1 row" 1 "$(query_field "SELECT count(*) FROM users" rows)"
check "update: 5 rows affected" 5 "$(query_field "UPDATE users SET age = age + ? WHERE id <= ?" rows)"
check "delete: 5 rows affected" 5 "$(query_field "DELETE FROM users WHERE id > ?" rows)"
check "missing table: 1 error" 1 "$(query_field "SELECT * FROM missing_table" errors)"
dup="INSERT INTO users(id, name, age) VALUES (?, ?, ?)"
check "duplicate key: 1 call" 1 "$(query_field "$dup" calls)"
check "duplicate key: 1 error" 1 "$(query_field "$dup" errors)"
check "literals and comments normalized" 1 "$(query_field "SELECT ?, ?, ?" calls)"
check "namespace is the database file" "$WORK/db" "$(query_field "$ins" db_namespace)"
check "service defaults to the executable name" sqlite3 "$(query_field "$ins" service)"

m=$(get /metrics)
check "error_type label on the missing table" 1 "$(grep -c 'db_query_summary="SELECT missing_table",error_type="SQLITE_ERROR"} 1$' <<<"$(grep _count <<<"$m")")"
check "error_type SQLITE_CONSTRAINT_PRIMARYKEY" 1 "$(grep -c 'error_type="SQLITE_CONSTRAINT_PRIMARYKEY"' <<<"$(grep _count <<<"$m")")"
check "histogram count for inserts (successes only)" 20 "$(grep '_count{' <<<"$m" | grep 'db_query_summary="INSERT users"}' | awk '{print $NF}')"
check_cmd "promtool check metrics passes" promtool check metrics <<<"$m"
le=$(grep -c 'db_query_summary="INSERT users",le="1e-06"}' <<<"$m")
check "buckets start at 1 us" 1 "$le"
check "buckets end at 10 s then +Inf" 2 "$(grep 'INSERT users",le="' <<<"$m" | grep -cE 'le="(10|\+Inf)"')"
