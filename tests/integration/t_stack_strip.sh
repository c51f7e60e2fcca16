# Call-site stacks of stripped programs: copies of stack_callers without debug info
# (objcopy --strip-debug: names from .symtab, no file or line) and without any symbols
# (strip --strip-all: module+0x... or nothing, never another function's name). Each runs as it
# does without the agent (output, exit code) and keeps its two callers apart, 30 and 10.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/stack_lib.sh"
start_exporter

upd="UPDATE stack_items SET hits = hits + ? WHERE id = ?"
nodebug=$WORK/stack_nodebug
stripped=$WORK/stack_stripped
objcopy --strip-debug "$STACK_CLIENT" "$nodebug"
strip --strip-all -o "$stripped" "$STACK_CLIENT"
check "the copy has no debug info" 0 "$(readelf -S "$nodebug" | grep -c '\.debug_')"
check "the stripped copy has no .symtab" 0 "$(readelf -S "$stripped" | grep -c '\.symtab')"

"$STACK_CLIENT" sqlite >"$WORK/out.plain" 2>"$WORK/err.plain"
rc_plain=$?
for v in nodebug stripped; do
	"$WORK/stack_$v" sqlite >"$WORK/out.$v.plain" 2>"$WORK/err.$v.plain"
	check "$v: exit code without the agent" "$rc_plain" "$?"
	check_cmd "$v: output without the agent" cmp -s "$WORK/out.plain" "$WORK/out.$v.plain"
	DBPROBE_STACKS=all agent "$WORK/stack_$v" sqlite >"$WORK/out.$v" 2>"$WORK/err.$v"
	check "$v: exit code with the agent" "$rc_plain" "$?"
	check_cmd "$v: stdout with the agent" cmp -s "$WORK/out.plain" "$WORK/out.$v"
	check_cmd "$v: stderr with the agent" cmp -s "$WORK/err.plain" "$WORK/err.$v"
	check "$v: every update carried a stack" 40 "$(wait_callers "$upd" "stack_$v" 40)"
done

# --strip-debug: .symtab still names the functions (static ones too); nothing knows the lines.
check "strip-debug: report_daily (30) and report_weekly (10), no file, no line" \
	"report_daily|null|null|$nodebug|30
report_weekly|null|null|$nodebug|10" "$(callers "$upd" stack_nodebug)"
check "strip-debug: report_daily then main, no file or line" \
	"report_daily|null|null|$nodebug
main|null|null|$nodebug" "$(frames "$(caller_stack "$upd" stack_nodebug report_daily)" | head -2)"

# --strip-all: only .dynsym is left, which names none of the program's own functions (nothing
# is exported from an executable linked without -rdynamic). A frame is then named by its module
# and offset, never by the nearest symbol that happens to precede it. strip leaves the code where
# it was: the offsets are those of the --strip-debug copy's frames.
id_daily=$(caller_stack "$upd" stack_nodebug report_daily)
id_weekly=$(caller_stack "$upd" stack_nodebug report_weekly)
off_daily=$(frames_field "$id_daily" offset | head -1)
off_weekly=$(frames_field "$id_weekly" offset | head -1)
check "strip-all: two callers, named stack_stripped+offset, no file, no line, 30 and 10 calls" \
	"stack_stripped+$off_daily|null|null|$stripped|30
stack_stripped+$off_weekly|null|null|$stripped|10" "$(callers "$upd" stack_stripped)"
id=$(_entry "$upd" stack_stripped | jq -r '.[0].callers[0].stack_id')
check "strip-all: the program's frames are the --strip-debug copy's, named module+offset" \
	"$(get "/stacks/$id_daily" | jq -r --arg m "$nodebug" \
		'.frames[] | select(.module == $m) | "stack_stripped+\(.offset) \(.offset)"')" \
	"$(get "/stacks/$id" | jq -r --arg m "$stripped" \
		'.frames[] | select(.module == $m) | "\(.function) \(.offset)"')"
check "strip-all: the stack still leads to main, then libc" \
	"$(frames "$id_daily" | cut -d'|' -f4 | sed "s|^$nodebug\$|$stripped|")" \
	"$(frames "$id" | cut -d'|' -f4)"
check "the exporter is still up" ok "$(get /healthz | jq -r .status)"
