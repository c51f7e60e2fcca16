# Programs that never touch a database run exactly as without the agent, and never connect.
source "$(dirname "$0")/lib.sh"
start_exporter

same() {
	local name=$1
	shift
	"$@" >"$WORK/p.out" 2>"$WORK/p.err"
	local rc_plain=$?
	agent "$@" >"$WORK/a.out" 2>"$WORK/a.err"
	local rc_agent=$?
	check "$name: exit code unchanged" "$rc_plain" "$rc_agent"
	check_cmd "$name: stdout unchanged" cmp -s "$WORK/p.out" "$WORK/a.out"
	check_cmd "$name: stderr unchanged" cmp -s "$WORK/p.err" "$WORK/a.err"
}

same "ls" ls -la /usr/lib
same "ls of a missing file" ls /nonexistent
same "sh -c" sh -c 'echo hello; exit 3'
same "python3 -c 1" python3 -c 1
same "python3 with its own sqlite3 module" python3 -c 'import sqlite3; c = sqlite3.connect(":memory:"); print(c.execute("select 40 + 2").fetchone())'
check "programs without SQLite never connected" 1 "$(get /agents | jq '[.agents[] | select(.exe | test("python"))] | length')"
check "python's sqlite3 module (dlopen'ed, RTLD_LOCAL) is seen" 1 "$(query_field "SELECT ? + ?" calls)"

DBPROBE_DISABLE=1 agent sqlite3 :memory: "select 1;" >/dev/null
check "DBPROBE_DISABLE=1: nothing recorded" 1 "$(calls_received)"
DBPROBE_HOOKS=none agent sqlite3 :memory: "select 1;" >/dev/null
check "DBPROBE_HOOKS=none: nothing recorded" 1 "$(calls_received)"
check "no connection beyond python's" 1 "$(metric dbprobe_agent_connections_total)"
