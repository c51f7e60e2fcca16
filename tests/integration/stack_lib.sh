# stack_lib.sh: helpers for the call-site stack tests (t_stack_*.sh), sourced after lib.sh.
# The clients (tests/clients/stack_*) mark each database call with a comment, /* CALL_X */, so
# the line a caller must be reported at is read from the source, never written down twice.

STACK_CLIENT=$B/tests/stack_callers
STACK_SRC=$ROOT/tests/clients

# marker_line FILE MARKER: the line of tests/clients/FILE that carries /* MARKER */.
marker_line() {
	grep -n "/\* $2 \*/" "$STACK_SRC/$1" | cut -d: -f1
}

# source_line FILE TEXT: the line of tests/clients/FILE that contains TEXT (a fixed string).
source_line() {
	grep -nF "$2" "$STACK_SRC/$1" | cut -d: -f1
}

# callers() and frames() show a file by its last component (callers_field and frames_field show
# it whole).
_CALLER='"\(.function)|\(if .file == null then "null" else (.file | split("/") | last) end)|'
_CALLER+='\(.line)|\(.module)"'

# _entry SQL SERVICE: that statement's /queries entries for that service, as a JSON array.
_entry() {
	get "/queries?limit=100000" | jq --arg q "$1" --arg s "$2" \
		'[.queries[] | select(.query == $q and .service == $s)]'
}

# callers SQL SERVICE: the statement's callers in the exporter's order, one a line,
# "FUNCTION|FILE|LINE|MODULE|CALLS" (FILE its last component; null when unknown); "absent"
# when the statement has no entry, nothing when it has no callers.
callers() {
	_entry "$1" "$2" | jq -r "if length == 0 then \"absent\" else
		(.[0].callers // [])[] | $_CALLER + \"|\\(.calls)\" end"
}

# callers_field SQL SERVICE FIELD: that field of each caller, one a line.
callers_field() {
	_entry "$1" "$2" | jq -r --arg f "$3" '(.[0].callers // [])[] | .[$f]'
}

# caller_stack SQL SERVICE FUNCTION [MODULE]: the stack_id of the statement's caller FUNCTION
# (in MODULE).
caller_stack() {
	_entry "$1" "$2" | jq -r --arg fn "$3" --arg m "${4:-}" \
		'[(.[0].callers // [])[] | select(.function == $fn and ($m == "" or .module == $m))] |
		if length == 0 then "absent" else .[0].stack_id end'
}

# caller_calls SQL SERVICE: the calls of all the statement's callers, added up.
caller_calls() {
	_entry "$1" "$2" | jq '[(.[0].callers // [])[] | .calls] | add // 0'
}

# wait_callers SQL SERVICE N: until the statement's callers add up to N calls, at most 5 s (a
# process's records arrive within a second of its exit; symbolizing may take a little more).
# Prints the count reached.
wait_callers() {
	local n=0
	for _ in $(seq 50); do
		n=$(caller_calls "$1" "$2")
		((n >= $3)) && break
		sleep 0.1
	done
	echo "$n"
}

# frames ID: /stacks/ID's frames, one a line, innermost first, "FUNCTION|FILE|LINE|MODULE"
# (FILE its last component); "absent" when the request fails.
frames() {
	get "/stacks/$1" 2>/dev/null | jq -r ".frames[] | $_CALLER" || echo absent
}

# frames_field ID FIELD: that field of each frame of /stacks/ID, one a line.
frames_field() {
	get "/stacks/$1" | jq -r --arg f "$2" '.frames[] | .[$f]'
}
