# Bad configuration: one warning on stderr naming the variable and the default; the program
# runs on, recorded with the default in place.
source "$(dirname "$0")/lib.sh"
start_exporter

out=$(DBPROBE_SLOW_MS=abc agent sqlite3 :memory: "select 1;" 2>"$WORK/err")
check "bad DBPROBE_SLOW_MS: program output unchanged" 1 "$out"
check "bad DBPROBE_SLOW_MS: exactly one warning line" 1 "$(wc -l <"$WORK/err")"
check_cmd "warning names the variable and the default" grep -q "DBPROBE_SLOW_MS='abc'.*default 100" "$WORK/err"
check "recorded anyway" 1 "$(wait_calls 1)"

for kv in DBPROBE_QUERY_TEXT=loud DBPROBE_BUFFER_KB=-5 DBPROBE_HOOKS=oracle DBPROBE_LOG=chatty DBPROBE_DISABLE=maybe; do
	env "$kv" DBPROBE_SOCKET="$EXP_SOCK" LD_PRELOAD="$AGENT" sqlite3 :memory: "select 1;" >/dev/null 2>"$WORK/err"
	check "$kv: one warning naming ${kv%%=*}" 1 "$(grep -c "^dbprobe\[[0-9]*\]: ${kv%%=*}=" "$WORK/err")"
done
check "each run still recorded" 6 "$(wait_calls 6)"

# Literal values never leave the process by default; raw opts in; off keeps only summaries.
agent sqlite3 :memory: "select 'secret-literal' as a;" >/dev/null
DBPROBE_QUERY_TEXT=raw agent sqlite3 :memory: "select 'visible-literal' as b;" >/dev/null
DBPROBE_QUERY_TEXT=off agent sqlite3 :memory: "select 'hidden' as c;" >/dev/null
wait_calls 9 >/dev/null
q=$(get "/queries?limit=1000")
check "normalized: no literal in the text" 0 "$(grep -c secret-literal <<<"$q")"
check "raw: the literal is kept" 1 "$(jq '[.queries[] | select(.query == "select '"'"'visible-literal'"'"' as b;")] | length' <<<"$q")"
check "off: no text, summary kept" 1 "$(jq '[.queries[] | select(.query == "" and .summary == "SELECT")] | length' <<<"$q")"

OTEL_SERVICE_NAME=billing agent sqlite3 :memory: "select 2 as svc;" >/dev/null
wait_calls 10 >/dev/null
check "OTEL_SERVICE_NAME names the service" billing "$(query_field "SELECT ? AS svc" service)"

# Slow calls: agent flag (DBPROBE_SLOW_MS=0 marks everything) reaches the exporter's log.
DBPROBE_SLOW_MS=0 agent sqlite3 :memory: "select 3 as slowpoke;" >/dev/null
wait_calls 11 >/dev/null
sleep 0.1
check "slow call written as a JSON line" 1 "$(grep -c '"query":"SELECT ? AS slowpoke"' "$WORK/exporter.out")"
check_cmd "slow log line is valid JSON with a duration" bash -c "grep slowpoke '$WORK/exporter.out' | jq -e '.duration_ms >= 0 and .pid > 0' >/dev/null"
