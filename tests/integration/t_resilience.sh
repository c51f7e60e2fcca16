# The exporter away, late or killed: the program's output and exit code never change; what
# could not be delivered is dropped and counted, and reported once an exporter listens.
source "$(dirname "$0")/lib.sh"
P="$B/tests/sqlite_phases"

"$P" 12 200 150 >"$WORK/out.plain"
rc_plain=$?

# No exporter at all, for the whole run.
agent "$P" 12 200 150 >"$WORK/out.none"
check "no exporter: exit code unchanged" "$rc_plain" "$?"
check_cmd "no exporter: output unchanged" cmp -s "$WORK/out.plain" "$WORK/out.none"

# Exporter started while the program runs: it gets the records from then on, and the count
# of what was dropped before.
agent "$P" 12 200 150 >"$WORK/out.late" &
prog=$!
sleep 0.5
start_exporter
wait $prog
check "late exporter: exit code unchanged" "$rc_plain" "$?"
check_cmd "late exporter: output unchanged" cmp -s "$WORK/out.plain" "$WORK/out.late"
sleep 0.3
agents=$(get /agents)
calls=$(jq '[.agents[].calls] | add' <<<"$agents")
dropped=$(jq '[.agents[].drops.no_exporter] | add' <<<"$agents")
check_cmd "late exporter: later phases arrived ($calls calls)" test "$calls" -gt 0
check_cmd "late exporter: earlier ones counted as dropped ($dropped)" test "$dropped" -gt 0
# Every call is either delivered or counted: 12 x 201 calls plus the CREATE TABLE.
check "late exporter: delivered + dropped = all calls" $((12 * 201 + 1)) $((calls + dropped))

# Exporter killed mid-run (SIGKILL: no goodbye), then a new one on the same socket path.
stop_exporter
start_exporter
agent "$P" 16 200 150 >"$WORK/out.killed" &
prog=$!
sleep 0.6
kill -9 "$EXP_PID"
wait "$EXP_PID" 2>/dev/null
EXP_PID=
sleep 0.5
start_exporter # replaces the stale socket file the killed one left
wait $prog
rc=$?
"$P" 16 200 150 >"$WORK/out.plain16"
check "killed exporter: exit code unchanged" "$?" "$rc"
check_cmd "killed exporter: output unchanged" cmp -s "$WORK/out.plain16" "$WORK/out.killed"
sleep 0.3
agents=$(get /agents)
dropped=$(jq '[.agents[].drops | .no_exporter + .send_failed] | add' <<<"$agents")
check_cmd "killed exporter: the new one got the later calls" test "$(jq '[.agents[].calls] | add' <<<"$agents")" -gt 0
check_cmd "killed exporter: losses reported to the new one ($dropped)" test "$dropped" -gt 0

# A program that closes every descriptor it did not open (daemon style) keeps working, and
# the agent notices its socket is gone instead of writing into whatever reuses the number.
cat >"$WORK/closeall.sh" <<'SH'
sqlite3 "$1" "CREATE TABLE t(a); INSERT INTO t VALUES (1);"
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
sqlite3 "$1" "SELECT a FROM t;"
SH
out=$(agent bash "$WORK/closeall.sh" "$WORK/c.db" 2>&1)
check "close-all program output unchanged" 1 "$out"
