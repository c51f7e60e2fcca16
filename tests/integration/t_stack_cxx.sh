# C++ under stack capture (tests/clients/stack_cxx.cpp): exceptions thrown past a frame that has
# just called SQLite and caught four frames up, and glibc backtrace(), before and after the agent
# loaded libunwind for its own stacks. The program's output and exit code are those it has
# without the agent, and the agent did capture its stacks.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/stack_lib.sh"
start_exporter

exe=$(realpath "$B/tests/stack_cxx")
sql="UPDATE cxx_items SET n = n + ? WHERE id = ?"

"$exe" >"$WORK/out.plain" 2>"$WORK/err.plain"
rc_plain=$?
check "without the agent: exits 0" 0 "$rc_plain"
check "without the agent: 20 exceptions caught, 60 destructors run by unwinding" 1 \
	"$(grep -c '^jobs=20 caught=20 unwound=60$' "$WORK/out.plain")"
check "without the agent: backtrace() sees more than 3 frames, before and after" 2 \
	"$(grep -c '^backtrace .*more_than_3=yes' "$WORK/out.plain")"

for mode in all sampled; do
	DBPROBE_STACKS=$mode OTEL_SERVICE_NAME=cxx_$mode agent "$exe" >"$WORK/out" 2>"$WORK/err"
	check "$mode: exit code unchanged" "$rc_plain" "$?"
	check_cmd "$mode: stdout unchanged (messages, unwinding, backtrace frames)" \
		cmp -s "$WORK/out.plain" "$WORK/out"
	check_cmd "$mode: stderr unchanged" cmp -s "$WORK/err.plain" "$WORK/err"
done

check "all: every update carried a stack" 20 "$(wait_callers "$sql" cxx_all 20)"
c=$(_entry "$sql" cxx_all | jq -r '.[0].callers[] |
	"\(.function | test("query_then_throw"))|\(.file // "null" | split("/") | last)|" +
	"\(.line)|\(.module)|\(.calls)"')
check "all: the caller is query_then_throw, at its line" \
	"true|stack_cxx.cpp|$(marker_line stack_cxx.cpp CALL_CXX)|$exe|20" "$c"
check "sampled: stacks captured too" 1 "$(($(wait_callers "$sql" cxx_sampled 8) >= 8))"
check "all: its stack runs through the frames the exceptions went through, to main" \
	"query_then_throw rethrow_layer run_job main" \
	"$(frames_field "$(_entry "$sql" cxx_all | jq -r '.[0].callers[0].stack_id')" function |
		head -4 | sed 's/(.*//' | xargs)"
