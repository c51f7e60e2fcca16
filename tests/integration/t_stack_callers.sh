# Call-site stacks with DBPROBE_STACKS=all (tests/clients/stack_callers.c, built -g -O0): one
# statement run from report_daily() 30 times and report_weekly() 10 times has exactly those two
# callers, with those counts, the source file and the line of each call; /stacks/<id> leads
# from the caller to main; sqlite3_exec's statements are called from the function that called
# exec (the library's and the agent's frames skipped); the slow log carries the stack. Then the
# same over libpq against PostgreSQL.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/stack_lib.sh"
start_exporter

exe=$(realpath "$STACK_CLIENT")
src=stack_callers.c
upd="UPDATE stack_items SET hits = hits + ? WHERE id = ?"
audit="UPDATE stack_audit SET n = n + ?"
daily=$(marker_line $src CALL_DAILY)
weekly=$(marker_line $src CALL_WEEKLY)
audit_line=$(marker_line $src CALL_AUDIT)
# Where main calls each of them.
main_daily=$(source_line $src 'report_daily(&c);')
main_weekly=$(source_line $src 'report_weekly(&c);')

"$exe" sqlite >"$WORK/out.plain" 2>"$WORK/err.plain"
rc_plain=$?
DBPROBE_STACKS=all agent "$exe" sqlite >"$WORK/out" 2>"$WORK/err"
check "sqlite: exit code unchanged" "$rc_plain" "$?"
check "sqlite: output" "sqlite: daily=30 weekly=10 audits=5 hits=40" "$(cat "$WORK/out")"
check_cmd "sqlite: stdout unchanged" cmp -s "$WORK/out.plain" "$WORK/out"
check_cmd "sqlite: stderr unchanged" cmp -s "$WORK/err.plain" "$WORK/err"
# 4 schema statements (one exec), 30 + 10 updates, 5 execs of the audit update, the sum.
check "sqlite: 50 calls recorded" 50 "$(wait_calls 50)"
check "sqlite: every update carried a stack" 40 "$(wait_callers "$upd" stack_callers 40)"

check "sqlite: the update's callers: exactly report_daily (30), report_weekly (10), their lines" \
	"report_daily|$src|$daily|$exe|30
report_weekly|$src|$weekly|$exe|10" "$(callers "$upd" stack_callers)"
# The debug info names "../tests/clients/stack_callers.c", relative to the build directory.
check "sqlite: file is the client's source, as an absolute path" \
	"$(printf '%s\n' "$STACK_SRC/$src" "$STACK_SRC/$src")" "$(callers_field "$upd" stack_callers file)"
check "sqlite: each caller's total_ms is a positive number" "true true" \
	"$(_entry "$upd" stack_callers | jq '.[0].callers[] | .total_ms | type == "number" and . > 0' |
		xargs)"
check "sqlite: the callers add up to the statement's calls" 40 "$(query_field "$upd" calls)"

id_daily=$(caller_stack "$upd" stack_callers report_daily)
id_weekly=$(caller_stack "$upd" stack_callers report_weekly)
check "sqlite: the two callers have different stacks" 1 \
	"$([[ $id_daily =~ ^[0-9]+$ && $id_weekly =~ ^[0-9]+$ && $id_daily != "$id_weekly" ]] && echo 1)"
check "/stacks/<id> names its id" "$id_daily" "$(get "/stacks/$id_daily" | jq .id)"
f=$(frames "$id_daily")
check "/stacks: report_daily's stack starts at its call, then main" \
	"report_daily|$src|$daily|$exe
main|$src|$main_daily|$exe" "$(head -2 <<<"$f")"
check "/stacks: report_weekly's stack starts at its call, then main" \
	"report_weekly|$src|$weekly|$exe
main|$src|$main_weekly|$exe" "$(frames "$id_weekly" | head -2)"
check "/stacks: no frame of the agent or of libsqlite3" 0 \
	"$(grep -cE 'libagent|libsqlite3' <<<"$f")"
check "/stacks: offsets are hex strings" "" \
	"$(frames_field "$id_daily" offset | grep -vE '^0x[0-9a-f]+$')"
check "/stacks: an unknown id is a client error" 4 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$EXP_URL/stacks/999999" | cut -c1)"

# sqlite3_exec: the statement runs inside libsqlite3 (watched through its trace callback), its
# caller is still the program's function that called exec, and main is next.
check "sqlite3_exec: its caller is audit_exec (5), at its line" \
	"audit_exec|$src|$audit_line|$exe|5" "$(callers "$audit" stack_callers)"
check "sqlite3_exec: audit_exec then main" "audit_exec main" \
	"$(frames_field "$(caller_stack "$audit" stack_callers audit_exec)" function | head -2 | xargs)"
check "schema script: called from sqlite_open" sqlite_open \
	"$(callers_field "CREATE TABLE stack_audit(n INT)" stack_callers function)"
check "sum: called from sqlite_hits" sqlite_hits \
	"$(callers_field "SELECT sum(hits) FROM stack_items" stack_callers function)"

# The slow log: every call slow (DBPROBE_SLOW_MS=0), each line with its stack.
DBPROBE_SLOW_MS=0 DBPROBE_STACKS=all OTEL_SERVICE_NAME=stack_slow agent "$exe" sqlite >/dev/null
wait_calls 100 >/dev/null
sleep 0.2
slow() {
	jq -r --arg q "$upd" 'select(.service == "stack_slow" and .query == $q) |
		"\(.stack[0] // "none") <- \(.stack[1] // "none")"' "$WORK/exporter.out" |
		sed -E 's|\([^:( ]*/|(|g' | sort | uniq -c | sed 's/^ *//'
}
check "slow log: each update's line carries its stack, caller first, main next" \
	"30 report_daily ($src:$daily) <- main ($src:$main_daily)
10 report_weekly ($src:$weekly) <- main ($src:$main_weekly)" \
	"$(slow)"

# PostgreSQL: the same two callers running one statement with PQexecParams.
need_pg || { fail "PostgreSQL server did not start"; exit 1; }
pgq='SELECT $1::int + ? AS stack_probe'
DBPROBE_STACKS=all OTEL_SERVICE_NAME=stack_pg agent "$exe" pg "$PG_CONNINFO" >"$WORK/out" 2>&1
check "pg: exits 0" 0 "$?"
check "pg: output" "pg: daily=30 weekly=10" "$(cat "$WORK/out")"
check "pg: every execution carried a stack" 40 "$(wait_callers "$pgq" stack_pg 40)"
check "pg: callers are exactly report_daily (30) and report_weekly (10), at their lines" \
	"report_daily|$src|$(marker_line $src PG_DAILY)|$exe|30
report_weekly|$src|$(marker_line $src PG_WEEKLY)|$exe|10" "$(callers "$pgq" stack_pg)"
f=$(frames_field "$(caller_stack "$pgq" stack_pg report_daily)" function)
check "pg: report_daily then main" "report_daily main" "$(head -2 <<<"$f" | xargs)"
check "pg: no frame of the agent or of libpq" 0 \
	"$(frames_field "$(caller_stack "$pgq" stack_pg report_daily)" module | grep -cE 'libagent|libpq')"
