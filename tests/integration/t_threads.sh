# 8 threads x N statements on their own connections: exact totals.
source "$(dirname "$0")/lib.sh"
start_exporter
n=3000
# Buffers that hold each thread's burst: exact counts must not depend on the scheduler.
out=$(DBPROBE_BUFFER_KB=1024 agent "$B/tests/sqlite_threads" "$WORK/t.db" 8 $n)
check "client reports no failures" "threads=8 n=$n failures=0" "$(cut -d' ' -f1-3 <<<"$out")"
bi=$(sed -n 's/.*busy_inserts=\([0-9]*\).*/\1/p' <<<"$out")
bs=$(sed -n 's/.*busy_selects=\([0-9]*\).*/\1/p' <<<"$out")
# 3 setup statements (PRAGMA, CREATE TABLE, CREATE INDEX) + 8 x n inserts + 8 x n selects,
# plus every attempt SQLite refused as busy (each a failed call).
total=$((3 + 16 * n + bi + bs))
check "exact total of calls ($bi + $bs busy retries)" $total "$(wait_calls $total)"
ins="INSERT INTO kv(thread, i, v) VALUES (?, ?, ?)"
sel="SELECT v FROM kv WHERE thread = ? AND i = ?"
check "inserts: 8 x $n + busy retries" $((8 * n + bi)) "$(query_field "$ins" calls)"
check "inserts: busy retries are the errors" "$bi" "$(query_field "$ins" errors)"
check "selects: 8 x $n + busy retries" $((8 * n + bs)) "$(query_field "$sel" calls)"
check "selects: one row each success" $((8 * n)) "$(query_field "$sel" rows)"
check "no drops" 0 "$(get /agents | jq '[.agents[].drops[]] | add')"
