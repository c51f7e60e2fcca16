# fork() without exec: the child re-arms with its own pid and connection; nothing is mixed.
source "$(dirname "$0")/lib.sh"
start_exporter
out=$(agent "$B/tests/sqlite_fork" 4)
parent=$(sed -n 's/.*parent=\([0-9]*\).*/\1/p' <<<"$out")
child=$(sed -n 's/.*child=\([0-9]*\).*/\1/p' <<<"$out")
check "child exited cleanly" 0 "$(sed -n 's/.*child_status=\([0-9]*\).*/\1/p' <<<"$out")"
wait_calls 14 >/dev/null
agents=$(get /agents)
check "parent's calls under the parent's pid" 8 "$(jq --argjson p "$parent" '[.agents[] | select(.pid == $p)] | map(.calls) | add' <<<"$agents")"
check "child's calls under the child's pid" 6 "$(jq --argjson p "$child" '[.agents[] | select(.pid == $p)] | map(.calls) | add' <<<"$agents")"
check "child's parent pid is the parent" "$parent" "$(jq --argjson p "$child" '.agents[] | select(.pid == $p) | .ppid' <<<"$agents")"
check "child statement counted once per run" 6 "$(query_field "SELECT ? AS child" calls)"
check "parent statements before fork not replayed by the child" 4 "$(query_field "SELECT ? AS parent_before" calls)"
check "parent statements after fork" 4 "$(query_field "SELECT ? AS parent_after" calls)"
