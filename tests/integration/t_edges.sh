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

# More handles over time than the state table has slots: recycled addresses, none untracked.
before=$(calls_received)
# A buffer that holds the whole burst: exact delivery must not depend on the scheduler.
out=$(DBPROBE_BUFFER_KB=32768 agent "$E" churn 250000)
check "churn: output" "churn rows 250000" "$out"
check "churn: every execution recorded" $((before + 250000)) "$(wait_calls $((before + 250000)))"
check "churn: nothing untracked" 0 "$(get /agents | jq '[.agents[].drops.untracked] | add')"
