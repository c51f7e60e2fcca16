# Process lifecycle traps: exit() from a worker thread, SQLite called from a library
# constructor, several programs at once, _exit skipping destructors.
source "$(dirname "$0")/lib.sh"
start_exporter

out=$(agent "$B/tests/sqlite_exit_thread" 4000)
rc=$?
check "exit() from a thread: exit code kept" 7 "$rc"
check "exit() from a thread: output kept" "worker ran 4000" "$out"
check "exit() from a thread: every queued call flushed" 4000 "$(query_field "SELECT ? AS from_worker" calls)"

plain=$("$B/tests/sqlite_early")
out=$(agent "$B/tests/sqlite_early")
check "SQLite from a library constructor: output unchanged" "$plain" "$out"
check "main's statement recorded" 1 "$(query_field "SELECT ? AS from_main" calls)"

before=$(calls_received)
pids=()
for i in 1 2 3 4 5 6; do
	agent sqlite3 :memory: "CREATE TABLE t(a); INSERT INTO t VALUES (1), (2), ($i); SELECT sum(a) FROM t;" >/dev/null &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the exporter is a background job too
check "6 programs at once: 18 calls" $((before + 18)) "$(wait_calls $((before + 18)))"
check "6 programs at once: one INSERT fingerprint" 6 "$(query_field "INSERT INTO t VALUES (?)" calls)"

out=$(agent python3 -c 'import os, sqlite3; sqlite3.connect(":memory:").execute("select 5 as quick").fetchall(); print("bye", flush=True); os._exit(4)')
check "_exit skips the flush but nothing breaks" "bye/4" "$out/$?"

# A stalled exporter (SIGSTOP) fills the socket, then the agent's buffers: the program never
# waits on it, what did not fit is counted, and the count arrives once the exporter resumes.
P="$B/tests/sqlite_phases"
"$P" 20 5000 50 >"$WORK/stall.plain"
rc_plain=$?
kill -STOP "$EXP_PID"
(sleep 0.6 && kill -CONT "$EXP_PID") &
resume=$!
start=$(date +%s%N)
DBPROBE_BUFFER_KB=16 agent "$P" 20 5000 50 >"$WORK/stall.agent"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
wait $resume
check "stalled exporter: exit code unchanged" "$rc_plain" "$rc"
check_cmd "stalled exporter: output unchanged" cmp -s "$WORK/stall.plain" "$WORK/stall.agent"
check_cmd "stalled exporter: program not held up (${elapsed_ms} ms)" test "$elapsed_ms" -lt 5000
sleep 0.5
agent_json=$(get /agents | jq '[.agents[] | select(.exe | endswith("sqlite_phases"))] | .[0]')
got=$(jq .calls <<<"$agent_json")
full=$(jq .drops.buffer_full <<<"$agent_json")
lost=$(jq '.drops | .buffer_full + .no_exporter + .send_failed' <<<"$agent_json")
check_cmd "stalled exporter: buffer-full drops counted ($full)" test "$full" -gt 0
check "stalled exporter: delivered ($got) + dropped ($lost) = every call" $((20 * 5001 + 1)) $((got + lost))
