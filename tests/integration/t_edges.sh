# Edge cases found in review, each once a crash, a hang or a wrong count.
source "$(dirname "$0")/lib.sh"
start_exporter
E="$B/tests/sqlite_edge"

same() {
	local name=$1
	shift
	local plain agent_out
	plain=$("$@" 2>&1; echo "rc=$?")
	agent_out=$(agent "$@" 2>&1; echo "rc=$?")
	check "$name: same output and exit code" "$plain" "$agent_out"
}

same "prepare on a NULL connection" "$E" misuse
same "errno after every kind of call, success and failure" "$E" errno
same "exec with commented statements" "$E" comments
check "commented CREATE recorded" 1 "$(query_field "CREATE TABLE t(a)" calls)"
check "commented INSERT recorded" 1 "$(query_field "INSERT INTO t VALUES (?)" calls)"
check "commented SELECT recorded with its row" 1 "$(query_field "SELECT a FROM t" rows)"
check "the failing one is the missing table" 1 "$(query_field "SELECT * FROM nosuch" errors)"
same "the program's trace installed during exec survives" "$E" apptrace
same "fork from a worker thread whose child's thread exits" "$E" forkthread
same "main() calls pthread_exit: the process still ends with its last thread" timeout 10 "$E" mainexit
check "the late worker's statement delivered" 1 "$(query_field "SELECT ? AS late_worker" calls)"
check "the child recorded its statement" 1 "$(query_field "SELECT ? AS in_child" calls)"

# Two threads on one serialized connection: exec's trace must not pick up the other thread's
# statements (they would be recorded twice, and race on exec's state).
before=$(calls_received)
same "a connection shared by an exec thread and a step thread" env DBPROBE_BUFFER_KB=8192 "$E" sharedexec
# Counted from the agent run only (the plain run is not recorded).
check "shared: exact total" $((before + 36000)) "$(wait_calls $((before + 36000)))"
check "shared: the step thread's calls, once each" 30000 "$(query_field "SELECT ? AS from_step" calls)"
check "shared: exec's first statement" 3000 "$(query_field "SELECT ? AS from_exec" calls)"
check "shared: exec's second statement" 3000 "$(query_field "SELECT ? AS from_exec_too" calls)"

# A program that closes every descriptor and dup2s over a range, then writes a file through a
# reused number: the agent's socket steps aside each time, its bytes never reach the file, and
# its one connection survives with nothing lost.
before=$(calls_received)
"$E" fdchaos "$WORK/plain.txt" >"$WORK/chaos.plain"
agent "$E" fdchaos "$WORK/agent.txt" >"$WORK/chaos.agent"
check_cmd "fd chaos: same output" cmp -s "$WORK/chaos.plain" "$WORK/chaos.agent"
check "fd chaos: the file holds only the program's bytes" hello "$(cat "$WORK/agent.txt")"
check "fd chaos: every call delivered" $((before + 3000)) "$(wait_calls $((before + 3000)))"
chaos=$(get /agents | jq '[.agents[] | select(.exe | endswith("sqlite_edge")) | select(.calls == 3000)]')
check "fd chaos: one connection for the whole run" 1 "$(jq length <<<"$chaos")"
check "fd chaos: nothing dropped" 0 "$(jq '[.[0].drops[]] | add' <<<"$chaos")"

# More handles over time than the state table has slots: recycled addresses, none untracked.
before=$(calls_received)
# A buffer that holds the whole burst: exact delivery must not depend on the scheduler.
out=$(DBPROBE_BUFFER_KB=32768 agent "$E" churn 250000)
check "churn: output" "churn rows 250000" "$out"
check "churn: every execution recorded" $((before + 250000)) "$(wait_calls $((before + 250000)))"
check "churn: nothing untracked" 0 "$(get /agents | jq '[.agents[].drops.untracked] | add')"
