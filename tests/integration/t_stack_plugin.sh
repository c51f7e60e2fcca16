# Call-site stacks in plugins: stack_callers dlopen()s stack_plugin.so (built -g -O0), whose own
# function plugin_lookup() runs a statement 7 times, and dlclose()s it; then the same with
# stack_plugin2.so, a second build of it with more code before plugin_lookup, which the loader
# usually maps where the first one was. The frames in each plugin are symbolized from that
# plugin (function, its source, its line, module its path), the frames below from the program.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/stack_lib.sh"
start_exporter

exe=$(realpath "$STACK_CLIENT")
plugin=$(realpath "$B/tests/stack_plugin.so")
plugin2=$(realpath "$B/tests/stack_plugin2.so")
sql="UPDATE plugin_items SET n = n + ? WHERE id = ?"
call=$(marker_line stack_plugin.c CALL_PLUGIN)

"$exe" plugin "$plugin" "$plugin2" >"$WORK/out.plain" 2>&1
rc_plain=$?
DBPROBE_STACKS=all agent "$exe" plugin "$plugin" "$plugin2" >"$WORK/out" 2>&1
check "exit code unchanged" "$rc_plain" "$?"
check "output: each plugin ran its 7 statements" "plugin: ran=7
plugin: ran=7" "$(grep -v reused "$WORK/out")"
check "output unchanged" "$(grep -v reused "$WORK/out.plain")" "$(grep -v reused "$WORK/out")"
if grep -q reused "$WORK/out"; then
	echo "# stack_plugin2.so was loaded at stack_plugin.so's address"
else
	echo "# stack_plugin2.so was loaded elsewhere: the reuse case is not exercised"
fi

check "every execution carried a stack" 14 "$(wait_callers "$sql" stack_callers 14)"
check "the callers: plugin_lookup in each plugin, at its line, 7 each" \
	"plugin_lookup|stack_plugin.c|$call|$plugin|7
plugin_lookup|stack_plugin.c|$call|$plugin2|7" "$(callers "$sql" stack_callers | sort)"

main1=$(source_line stack_callers.c 'void *first = run_plugin(argv[2]);')
main2=$(source_line stack_callers.c 'if (run_plugin(argv[i]) == first)')
for p in "$plugin|$main1" "$plugin2|$main2"; do
	IFS='|' read -r so main <<<"$p"
	check "/stacks: plugin_lookup, stack_plugin_run (${so##*/}), run_plugin, main (program)" \
		"plugin_lookup|stack_plugin.c|$call|$so
stack_plugin_run|stack_plugin.c|$(source_line stack_plugin.c 'done += plugin_lookup(')|$so
run_plugin|stack_callers.c|$(source_line stack_callers.c 'int n = run(7);')|$exe
main|stack_callers.c|$main|$exe" \
		"$(frames "$(caller_stack "$sql" stack_callers plugin_lookup "$so")" | head -4)"
done
check "the plugins' schema scripts: called from stack_plugin_run in each" \
	"stack_plugin_run|stack_plugin.c|$plugin
stack_plugin_run|stack_plugin.c|$plugin2" \
	"$(_entry "CREATE TABLE plugin_items(id INTEGER PRIMARY KEY, n INT)" stack_callers |
		jq -r '.[0].callers[] | "\(.function)|\(.file // "null" | split("/") | last)|\(.module)"' | sort)"
