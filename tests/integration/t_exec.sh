# sqlite3_exec scripts: one record per statement, none for SQLite's internal statements
# (schema loading inside prepare), errors attributed to the statement that failed.
source "$(dirname "$0")/lib.sh"
start_exporter
agent "$B/tests/sqlite_exec" "$WORK/x.db" >"$WORK/out.agent"
rc_agent=$?
rm -f "$WORK/x.db"
"$B/tests/sqlite_exec" "$WORK/x.db" >"$WORK/out.plain"
check "exit code unchanged" 0 "$rc_agent"
check_cmd "results, error codes and messages unchanged" cmp -s "$WORK/out.plain" "$WORK/out.agent"
# 3 (schema) + 5 + 2 + 2 + 1 + 1 statements executed or failed.
check "exactly 14 calls: nothing from schema loading" 14 "$(wait_calls 14)"
sleep 0.2
check "still 14 calls" 14 "$(calls_received)"
ins="INSERT INTO items(name, qty) VALUES (?, ?)"
check "inserts: 4 calls" 4 "$(query_field "$ins" calls)"
check "inserts: 1 failed (UNIQUE)" 1 "$(query_field "$ins" errors)"
check "select returned 3 rows" 3 "$(query_field "SELECT * FROM items" rows)"
check "update affected 2 rows" 2 "$(query_field "UPDATE items SET qty = qty + ? WHERE qty >= ?" rows)"
check "prepare failure is its own failed call" 1 "$(query_field "SELECT * FROM no_such_table" errors)"
check "statement before it succeeded" 0 "$(query_field "SELECT name FROM items WHERE id = ?" errors)"
check "statements after an error never ran" absent "$(query_field "DELETE FROM items" calls)"
check "callback abort: failed call" 1 "$(query_field "SELECT name FROM items ORDER BY id" errors)"
check "callback abort: the rows it returned" 2 "$(query_field "SELECT name FROM items ORDER BY id" rows)"
check "trigger body is not a call of its own" absent "$(query_field "INSERT INTO audit VALUES (new.id)" calls)"
check "trigger's rows visible to the next statement" 3 "$(query_field "DELETE FROM audit" rows)"
m=$(get /metrics)
check "abort error type" 1 "$(grep -c 'error_type="SQLITE_ABORT"' <<<"$(grep _count <<<"$m")")"
check "unique error type" 1 "$(grep -c 'error_type="SQLITE_CONSTRAINT_UNIQUE"' <<<"$(grep _count <<<"$m")")"
