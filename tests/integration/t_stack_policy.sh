# When stacks are captured (DBPROBE_STACKS) and how deep (DBPROBE_STACK_DEPTH): off captures
# none; sampled (the default) the first 8 calls of each statement, every failed call, then at
# most 50 a second per process; a bad value warns once and the default applies; a depth of 2
# keeps the caller and its caller.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/stack_lib.sh"
start_exporter

exe=$(realpath "$STACK_CLIENT")
src=stack_callers.c
upd="UPDATE stack_items SET hits = hits + ? WHERE id = ?"
"$exe" sqlite >"$WORK/out.plain" 2>&1
expected_calls=50

# all_callers SERVICE: how many callers all of the service's statements have.
all_callers() {
	get "/queries?limit=100000" | jq --arg s "$1" \
		'[.queries[] | select(.service == $s) | (.callers // []) | length] | add // 0'
}

# off: everything recorded, no stack.
DBPROBE_STACKS=off OTEL_SERVICE_NAME=stack_off agent "$exe" sqlite >"$WORK/out" 2>&1
check "off: exits 0" 0 "$?"
check_cmd "off: output unchanged" cmp -s "$WORK/out.plain" "$WORK/out"
check "off: every call recorded" $expected_calls "$(wait_calls $expected_calls)"
check "off: the update's 40 calls" 40 "$(query_field "$upd" calls)"
sleep 0.5
check "off: no statement has a caller" 0 "$(all_callers stack_off)"

# sampled, the default, for calls not sampled for a trace: a statement run 100 times in a row
# gets its first 8 calls' stacks, then the rate budget's (one every 20 ms: at most one more than
# the loop's 20 ms periods); a statement that fails gets one on every call.
OTEL_TRACES_SAMPLER=always_off OTEL_SERVICE_NAME=stack_sampled agent "$exe" sampled \
	>"$WORK/out" 2>&1
check "sampled: exits 0" 0 "$?"
check "sampled: output" "sampled: hot=100 hits=100 failed=20" "$(head -1 "$WORK/out")"
us=$(sed -n 's/^hot_loop_us=//p' "$WORK/out")
max=$((8 + 1 + us / 20000))
expected_calls=$((expected_calls + 4 + 100 + 20 + 1))
check "sampled: every call recorded" $expected_calls "$(wait_calls $expected_calls)"
hot=$(wait_callers "$upd" stack_sampled 8)
check "sampled: the hot loop's stacks, 8 <= calls <= $max (loop took $us us)" 1 \
	"$((hot >= 8 && hot <= max))"
check "sampled: all of them from hot_loop at its line" \
	"hot_loop|$src|$(marker_line $src CALL_HOT)|$exe" \
	"$(callers "$upd" stack_sampled | cut -d'|' -f1-4 | sort -u)"
missing="SELECT * FROM stack_missing"
check "sampled: the failing statement failed 20 times" 20 "$(query_field "$missing" errors)"
check "sampled: a stack on each of its 20 failures, from missing_table" \
	"missing_table|$src|$(marker_line $src CALL_MISSING)|$exe|20" \
	"$(wait_callers "$missing" stack_sampled 20 >/dev/null; callers "$missing" stack_sampled)"

# Calls sampled for a trace (every call, by default) have a budget of their own, 200 a second
# in bursts of 64, for their spans' code location: the hot loop gets more than its first 8,
# at most 8 + 64 + one per 5 ms of the loop + the 50/s trickle's.
OTEL_SERVICE_NAME=stack_traced agent "$exe" sampled >"$WORK/out" 2>&1
check "traced: exits 0" 0 "$?"
us=$(sed -n 's/^hot_loop_us=//p' "$WORK/out")
max=$((8 + 64 + 1 + us / 5000 + 1 + us / 20000))
expected_calls=$((expected_calls + 4 + 100 + 20 + 1))
check "traced: every call recorded" $expected_calls "$(wait_calls $expected_calls)"
hot=$(wait_callers "$upd" stack_traced 9)
check "traced: the hot loop's stacks, 8 < calls <= $max (loop took $us us)" 1 \
	"$((hot > 8 && hot <= max))"

# A slow call always gets a stack: with DBPROBE_SLOW_MS=0 every call is slow.
DBPROBE_SLOW_MS=0 OTEL_SERVICE_NAME=stack_allslow agent "$exe" sampled >/dev/null 2>&1
check "sampled, every call slow: a stack on each of the 100" 100 \
	"$(wait_callers "$upd" stack_allslow 100)"

# Bad values: one warning naming the variable and the default, the program runs on, recorded,
# with the default in effect (sampled: stacks; depth 32: more than 2 frames).
n=0
for kv in DBPROBE_STACKS=sometimes DBPROBE_STACKS= DBPROBE_STACK_DEPTH=0 DBPROBE_STACK_DEPTH=abc \
	DBPROBE_STACK_DEPTH=-3 DBPROBE_STACK_DEPTH=100000; do
	var=${kv%%=*}
	def=sampled
	[[ $var == DBPROBE_STACK_DEPTH ]] && def=32
	n=$((n + 1))
	env "$kv" OTEL_SERVICE_NAME=stack_bad$n DBPROBE_SOCKET="$EXP_SOCK" LD_PRELOAD="$AGENT" \
		"$exe" sqlite >"$WORK/out" 2>"$WORK/err"
	check "$kv: exits 0" 0 "$?"
	check_cmd "$kv: output unchanged" cmp -s "$WORK/out.plain" "$WORK/out"
	check "$kv: one line on stderr" 1 "$(wc -l <"$WORK/err")"
	check "$kv: it names the variable and the default $def" 1 \
		"$(grep -cE "^dbprobe\[[0-9]+\]: $var='.*default $def\$" "$WORK/err")"
	check "$kv: stacks captured with the default" 1 \
		"$(($(wait_callers "$upd" stack_bad$n 8) >= 8))"
	id=$(caller_stack "$upd" stack_bad$n report_daily)
	check "$kv: stacks deeper than 2 frames" 1 "$(($(frames "$id" | wc -l) > 2))"
done

# Depth 2: the caller and its caller, nothing more; the callers are unchanged. Depth 1: the
# caller alone.
for d in 2 1; do
	DBPROBE_STACK_DEPTH=$d DBPROBE_STACKS=all OTEL_SERVICE_NAME=stack_depth$d agent "$exe" sqlite \
		>"$WORK/out" 2>"$WORK/err"
	check "depth $d: exits 0, nothing on stderr" "0 0" "$? $(wc -c <"$WORK/err")"
	check "depth $d: every update carried a stack" 40 "$(wait_callers "$upd" stack_depth$d 40)"
	check "depth $d: callers unchanged" \
		"report_daily|$src|$(marker_line $src CALL_DAILY)|$exe|30
report_weekly|$src|$(marker_line $src CALL_WEEKLY)|$exe|10" "$(callers "$upd" stack_depth$d)"
	id=$(caller_stack "$upd" stack_depth$d report_daily)
	check "depth $d: /stacks/<id> has $d frames" "$(echo report_daily main | cut -d' ' -f1-$d)" \
		"$(frames_field "$id" function | xargs)"
done
