# The exporter trusts nothing it reads, refuses to fight another exporter, cleans up.
source "$(dirname "$0")/lib.sh"
start_exporter

out=$("$B/tests/badframes" "$EXP_SOCK")
check "every bad frame closed its connection" 8 "$(grep -c 'closed by exporter' <<<"$out")"
check "malformed frames counted" 7 "$(get /metrics | awk '$1 == "dbprobe_decode_errors_total{reason=\"malformed\"}" {print $2}')"
check "oversized frame counted" 1 "$(get /metrics | awk '$1 == "dbprobe_decode_errors_total{reason=\"oversized\"}" {print $2}')"
check "nothing from bad frames counted as calls" 0 "$(calls_received)"
agent sqlite3 :memory: "select 1;" >/dev/null
check "still serving agents afterwards" 1 "$(wait_calls 1)"

"$EXPORTER" --socket "$EXP_SOCK" --listen 127.0.0.1:1 >"$WORK/second.out" 2>&1
check "a second exporter on a live socket exits with an error" 1 "$?"
check_cmd "and says why" grep -q "another exporter is already listening on $EXP_SOCK" "$WORK/second.out"
check "the first is still up" ok "$(get /healthz | jq -r .status)"

touch "$WORK/plainfile"
"$EXPORTER" --socket "$WORK/plainfile" --listen 127.0.0.1:1 >"$WORK/third.out" 2>&1
check "a path that is not a socket is refused" 1 "$?"
check_cmd "and left alone" test -f "$WORK/plainfile"

check "bad sort is a 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$EXP_URL/queries?sort=bogus")"
check "bad limit is a 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$EXP_URL/queries?limit=0")"
check "unknown path is a 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$EXP_URL/nope")"
check_cmd "--help" bash -c "'$EXPORTER' --help | grep -q -- --max-fingerprints"
check_cmd "--version" bash -c "'$EXPORTER' --version | grep -q '^dbprobe-exporter [0-9]'"
"$EXPORTER" --max-fingerprints zero >/dev/null 2>&1
check "bad option value exits 2" 2 "$?"

kill -TERM "$EXP_PID"
wait "$EXP_PID"
check "SIGTERM: clean exit" 0 "$?"
EXP_PID=
check_cmd "SIGTERM: socket removed" test ! -e "$EXP_SOCK"

# The fingerprint cap folds new statements into one "other" entry and counts them.
start_exporter --max-fingerprints 3
for i in 1 2 3 4 5 6; do echo "SELECT $i AS c$i;"; done >"$WORK/many.sql"
agent sqlite3 :memory: <"$WORK/many.sql" >/dev/null
wait_calls 6 >/dev/null
check "cap: 3 statements kept" 3 "$(metric dbprobe_fingerprints)"
check "cap: 3 folded" 3 "$(metric dbprobe_fingerprints_folded_total)"
check "cap: other entry holds their calls" 3 "$(query_field "(other)" calls)"

# --slow-ms decides at the exporter, whatever the agents flag; --slow-log writes to a file.
stop_exporter
start_exporter --slow-ms 0 --slow-log "$WORK/slow.jsonl"
agent sqlite3 :memory: "select 1 as a; select 2 as b;" >/dev/null
DBPROBE_SLOW_MS=100000 agent sqlite3 :memory: "select 3 as c;" >/dev/null
wait_calls 3 >/dev/null
sleep 0.1
check "--slow-ms 0 --slow-log: every call in the file" 3 "$(wc -l <"$WORK/slow.jsonl")"
check "each line names its query" "SELECT ? AS a|SELECT ? AS b|SELECT ? AS c" "$(jq -r .query "$WORK/slow.jsonl" | paste -sd'|')"
check "nothing on stdout" 0 "$(grep -c query "$WORK/exporter.out")"
stop_exporter
start_exporter --slow-ms 60000
agent sqlite3 :memory: "select 4 as d;" >/dev/null
DBPROBE_SLOW_MS=0 agent sqlite3 :memory: "select 5 as e;" >/dev/null
wait_calls 2 >/dev/null
sleep 0.1
check "--slow-ms 60000: no call is slow enough" 0 "$(grep -c '"query"' "$WORK/exporter.out")"

# The agent's own cap: 16384 distinct texts per process; the rest fold into "other", each
# distinct folded text counted once however often it runs.
stop_exporter
start_exporter --max-fingerprints 100000
{
	for i in $(seq 1 16500); do echo "SELECT 1 AS c$i;"; done
	for i in $(seq 16401 16500); do echo "SELECT 1 AS c$i;"; done
} >"$WORK/cap.sql"
DBPROBE_BUFFER_KB=4096 agent sqlite3 :memory: <"$WORK/cap.sql" >/dev/null
check "agent cap: every call delivered" 16600 "$(wait_calls 16600)"
check "agent cap: 16384 statements of their own, plus the agent's other entry" 16385 "$(metric dbprobe_fingerprints)"
check "agent cap: the other 116 texts counted once each" 116 "$(get /agents | jq '[.agents[].drops.text_cap] | add')"
check "agent cap: their 216 calls under the agent's other entry" 216 "$(query_field "(other: too many distinct queries)" calls)"
