# Spans without a collector: GET /traces (newest first, limit, fields, the ring of the latest
# 1000), and exemplars: /metrics negotiates OpenMetrics by Accept, whose histogram buckets carry
# exemplars pointing at exported spans; a real Prometheus (exemplar storage on) scrapes it and
# returns them from /api/v1/query_exemplars.
source "$(dirname "$0")/lib.sh"

PROM_PID=
eval "_prev=($(trap -p EXIT))"
trap "prom_stop; ${_prev[2]:-}" EXIT
unset _prev
prom_stop() {
	if [[ -n $PROM_PID ]]; then
		kill "$PROM_PID" 2>/dev/null
		wait "$PROM_PID" 2>/dev/null
		PROM_PID=
	fi
}

start_exporter || { fail "exporter did not start"; exit 1; }

# A real Prometheus scraping us (exemplar storage on), started now: it takes about 5 s to sync
# its targets before the first scrape; its checks come last.
pport=$(free_port)
cat >"$WORK/prom.yml" <<EOF
global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: dbprobe
    static_configs:
      - targets: ['${EXP_URL#http://}']
EOF
prometheus --config.file="$WORK/prom.yml" --storage.tsdb.path="$WORK/prom" \
	--web.listen-address="127.0.0.1:$pport" --enable-feature=exemplar-storage --log.level=warn \
	>"$WORK/prom.log" 2>&1 &
PROM_PID=$!
PROM=http://127.0.0.1:$pport

# sq SERVICE SCRIPT-FILE [ENV...]: the real sqlite3 on a fresh database, with the agent.
sq() {
	local svc=$1 script=$2
	shift 2
	rm -f "$WORK/$svc.db"
	env DBPROBE_SOCKET="$EXP_SOCK" LD_PRELOAD="$AGENT" OTEL_SERVICE_NAME="$svc" "$@" \
		sqlite3 "$WORK/$svc.db" <"$script" >/dev/null 2>&1 &
	SQ_PID=$!
	wait "$SQ_PID"
}

# 9 calls, 10 spans (a transaction): in the order they are made.
{
	echo "CREATE TABLE t(a INT);"
	echo "INSERT INTO t VALUES (1);"
	echo "INSERT INTO t VALUES (2);"
	echo "BEGIN;"
	echo "UPDATE t SET a = a + 10;"
	echo "COMMIT;"
	echo "SELECT * FROM t WHERE a > 0;"
	echo "SELECT * FROM nope;"
	echo "SELECT 'x';"
} >"$WORK/api.sql"
order="SELECT,SELECT nope,SELECT t,transaction,COMMIT,UPDATE t,BEGIN,INSERT t,INSERT t,CREATE TABLE t"

sq api "$WORK/api.sql" OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=db%20ops" \
	DBPROBE_SLOW_MS=10000
api_pid=$SQ_PID
check "9 calls received" 9 "$(wait_calls 9)"
sleep 0.1

# ---- /traces ----------------------------------------------------------------------------------
all=$(get "/traces")
check "/traces: every span, newest first (the transaction after its COMMIT)" "$order" \
	"$(jq -r '.spans | map(.name) | join(",")' <<<"$all")"
check "/traces?limit=3: exactly the 3 newest" "$(jq -c '.spans[:3]' <<<"$all")" \
	"$(get "/traces?limit=3" | jq -c '.spans')"
check "/traces?limit=1: the newest" "SELECT" "$(get "/traces?limit=1" | jq -r '.spans | map(.name) | join(",")')"
check "/traces?limit=1000: all 10 when fewer" 10 "$(get "/traces?limit=1000" | jq '.spans | length')"
check "/traces: ids are hex of the right length, span ids unique" "10 10 10" \
	"$(jq -r '.spans | "\(map(select(.trace_id | test("^[0-9a-f]{32}$"))) | length) \(map(select(.span_id | test("^[0-9a-f]{16}$"))) | length) \(map(.span_id) | unique | length)"' <<<"$all")"
check "/traces: common fields" "sqlite internal true $WORK/api.db" \
	"$(jq -r '.spans | map("\(.db_system) \(.kind) \(.sampled) \(.db_namespace)") | unique | join(",")' <<<"$all")"
check "/traces: what: 9 calls, 1 transaction" "call:9,transaction:1" \
	"$(jq -r '.spans | group_by(.what) | map("\(.[0].what):\(length)") | join(",")' <<<"$all")"
check "/traces: the update: query, summary, rows returned (none), parent is the transaction" \
	"UPDATE t SET a = a + ?|UPDATE t|0|true" \
	"$(jq -r '.spans | (map(select(.name == "transaction"))[0].span_id) as $t | map(select(.name == "UPDATE t"))[0] |
		"\(.query)|\(.summary)|\(.rows)|\(.parent_span_id == $t)"' <<<"$all")"
check "/traces: the transaction: outcome commit, a root, 3 children in its trace" "commit||3" \
	"$(jq -r '.spans as $s | $s | map(select(.name == "transaction"))[0] | . as $t |
		"\(.outcome)|\(.parent_span_id)|\($s | map(select(.parent_span_id == $t.span_id and .trace_id == $t.trace_id)) | length)"' <<<"$all")"
check "/traces: the select returned 2 rows" "SELECT * FROM t WHERE a > ? 2" \
	"$(jq -r '.spans | map(select(.name == "SELECT t"))[0] | "\(.query) \(.rows)"' <<<"$all")"
check "/traces: the failure: status error, error_type" "error SQLITE_ERROR" \
	"$(jq -r '.spans | map(select(.name == "SELECT nope"))[0] | "\(.status) \(.error_type)"' <<<"$all")"
check "/traces: the others: status unset, error_type null" 9 \
	"$(jq -r '.spans | map(select(.status == "unset" and .error_type == null)) | length' <<<"$all")"
check "/traces: resource" \
	"$(jq -cn --arg pid "$api_pid" --arg h "$(hostname)" '{service_name: "api", pid: ($pid | tonumber), exe: "sqlite3", host: $h,
		tracestate: null, attributes: {"deployment.environment": "test", team: "db ops"}}')" \
	"$(jq -c '.spans | map(.resource) | unique | if length == 1 then .[0] else . end' <<<"$all")"
check "/traces: start and duration" 10 \
	"$(jq -r --arg now "$(date +%s)" '.spans | map(select((.start | test("^20[0-9-]+T[0-9:.]+Z$")) and
		(.start_unix_ns / 1e9 - ($now | tonumber) | fabs) < 60 and .duration_ms >= 0)) | length' <<<"$all")"

for bad in 0 -1 1001 abc "" "5x" "1.5"; do
	check "/traces?limit=$bad: 400 with a JSON error" "400 true" \
		"$(curl -s -o "$WORK/bad.json" -w '%{http_code}' "$EXP_URL/traces?limit=$bad") $(jq 'has("error")' "$WORK/bad.json")"
done

# Kept but not sampled: always_off with every call slow, and a failure.
printf 'SELECT 1;\nSELECT * FROM nope;\n' >"$WORK/off.sql"
sq off "$WORK/off.sql" OTEL_TRACES_SAMPLER=always_off DBPROBE_SLOW_MS=0
check "11 calls received" 11 "$(wait_calls 11)"
sleep 0.1
check "/traces: slow and failed calls under always_off: kept, sampled false" \
	"SELECT nope false error,SELECT false unset" \
	"$(get "/traces?limit=2" | jq -r '.spans | map("\(.name) \(.sampled) \(.status)") | join(",")')"
# Not sampled, neither slow nor failed: no span at all.
printf 'SELECT 2;\nSELECT 3;\n' >"$WORK/quiet.sql"
sq quiet "$WORK/quiet.sql" OTEL_TRACES_SAMPLER=always_off DBPROBE_SLOW_MS=10000
check "13 calls received" 13 "$(wait_calls 13)"
sleep 0.1
check "/traces: calls neither sampled, slow nor failed make no span" 12 \
	"$(get "/traces?limit=1000" | jq '.spans | length')"

# ---- /metrics: content negotiation and exemplars -----------------------------------------
ctype() { curl -sS -o /dev/null -w '%{content_type}' ${1:+-H "Accept: $1"} "$EXP_URL/metrics"; }
PLAIN="text/plain; version=0.0.4; charset=utf-8"
OM="application/openmetrics-text; version=1.0.0; charset=utf-8"
PROM_ACCEPT="application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
check "Accept: none -> 0.0.4 text" "$PLAIN" "$(ctype)"
check "Accept: text/plain -> 0.0.4 text" "$PLAIN" "$(ctype text/plain)"
check "Accept: */* -> 0.0.4 text" "$PLAIN" "$(ctype '*/*')"
check "Accept: application/json -> 0.0.4 text" "$PLAIN" "$(ctype application/json)"
check "Accept: OpenMetrics refused (q=0) -> 0.0.4 text" "$PLAIN" "$(ctype 'application/openmetrics-text;q=0, text/plain')"
check "Accept: Prometheus's own header -> OpenMetrics 1.0.0" "$OM" "$(ctype "$PROM_ACCEPT")"
check "Accept: application/openmetrics-text; version=1.0.0 -> OpenMetrics" "$OM" \
	"$(ctype 'application/openmetrics-text; version=1.0.0')"
check "Vary: Accept" 1 "$(curl -sS -D - -o /dev/null "$EXP_URL/metrics" | grep -ci '^vary: *accept')"

get /metrics >"$WORK/plain.txt"
curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' "$EXP_URL/metrics" >"$WORK/om.txt"
check "0.0.4 text: no exemplars" 0 "$(grep -c ' # {' "$WORK/plain.txt")"
check "0.0.4 text: no # EOF" 0 "$(grep -c '^# EOF' "$WORK/plain.txt")"
check_cmd "0.0.4 text: promtool check metrics passes" promtool check metrics <"$WORK/plain.txt"
check "OpenMetrics: ends with '# EOF' and a newline, once" "1 # EOF" \
	"$(grep -c '^# EOF' "$WORK/om.txt") $(tail -c 6 "$WORK/om.txt" | od -An -c | tr -s ' ' | sed 's/^ //; s/ \\n$//; s/# E O F/# EOF/')"
check "OpenMetrics: counters typed without _total, samples with it" \
	"# TYPE dbprobe_calls_received counter|dbprobe_calls_received_total 13" \
	"$(grep -E '^# TYPE dbprobe_calls_received |^dbprobe_calls_received_total ' "$WORK/om.txt" | paste -sd '|')"

# Exemplars: on bucket lines of the duration histogram only; each names a span of /traces,
# made for that series' statement and service, its value that span's duration, within the
# bucket.
all=$(get "/traces?limit=1000")
jq -r '.spans[] | "\(.trace_id) \(.span_id)|\(.summary)|\(.resource.service_name)|\(.duration_ms / 1000)"' \
	<<<"$all" >"$WORK/spans.txt"
grep ' # {' "$WORK/om.txt" >"$WORK/ex.txt"
nex=$(wc -l <"$WORK/ex.txt")
check "OpenMetrics: exemplars only on duration bucket lines" "$nex" \
	"$(grep -c '^db_client_operation_duration_seconds_bucket{' "$WORK/ex.txt")"
check "OpenMetrics: every series of the api service has an exemplar (8 statements)" \
	"BEGIN,COMMIT,CREATE TABLE t,INSERT t,SELECT,SELECT nope,SELECT t,UPDATE t" \
	"$(grep -o 'service_name="api",.*db_query_summary="[^"]*"' "$WORK/ex.txt" | sed 's/.*db_query_summary="//; s/"$//' | sort -u | paste -sd,)"
check "OpenMetrics: at most one exemplar a bucket" 0 "$(sed 's/ # .*//' "$WORK/ex.txt" | sort | uniq -d | wc -l)"
check "OpenMetrics: spans kept only for being slow or failed (not sampled) are no exemplars" 0 \
	"$(grep -c 'service_name="off"' "$WORK/ex.txt")"
ex_bad=$(awk '
	NR == FNR { i = index($0, "|"); span[substr($0, 1, i - 1)] = substr($0, i + 1); next }
	{
		if (!match($0, /\{.*\} [0-9]+ # \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\} [-0-9.e+]+ [0-9.]+$/)) { print "malformed: " $0; next }
		split($0, h, " # ")
		labels = h[1]; ex = h[2]
		match(labels, /le="[^"]*"/); le = substr(labels, RSTART + 4, RLENGTH - 5)
		match(labels, /db_query_summary="[^"]*"/); summ = substr(labels, RSTART + 18, RLENGTH - 19)
		match(labels, /service_name="[^"]*"/); svc = substr(labels, RSTART + 14, RLENGTH - 15)
		match(ex, /trace_id="[0-9a-f]+"/); tid = substr(ex, RSTART + 10, RLENGTH - 11)
		match(ex, /span_id="[0-9a-f]+"/); sid = substr(ex, RSTART + 9, RLENGTH - 10)
		n = split(ex, f, " "); val = f[n - 1]; ts = f[n]
		if (!((tid " " sid) in span)) { print "no such span: " tid " " sid; next }
		split(span[tid " " sid], s, "|")
		if (s[1] != summ || s[2] != svc) print "series " svc "/" summ " but span " s[2] "/" s[1]
		if (le != "+Inf" && val + 0 > le + 0) print "value " val " above le " le
		d = val - s[3]; if (d < 0) d = -d
		if (d > 1e-6 + s[3] * 1e-3) print "value " val " is not the span duration " s[3]
		if (ts < now - 60 || ts > now + 5) print "timestamp " ts " not now"
	}' now="$(date +%s)" "$WORK/spans.txt" "$WORK/ex.txt")
check "OpenMetrics: every exemplar names a span of its series, with its duration, in its bucket, now" "" "$ex_bad"
check "OpenMetrics: the 'quiet' service (no span) has no exemplar" 0 "$(grep -c 'service_name="quiet"' "$WORK/ex.txt")"
check "OpenMetrics: the 'quiet' series are there all the same" 1 \
	"$(grep -c '^db_client_operation_duration_seconds_count{service_name="quiet",.*db_query_summary="SELECT"} 2$' "$WORK/om.txt")"

# ---- /traces keeps the latest 1000 spans; 100 without a limit ------------------------------
seq 1100 | sed 's/.*/SELECT &;/' >"$WORK/many.sql"
sq many "$WORK/many.sql" DBPROBE_SLOW_MS=10000
check "1113 calls received" 1113 "$(wait_calls 1113)"
sleep 0.1
check "/traces without limit: the newest 100" "100 many" \
	"$(get /traces | jq -r '.spans | "\(length) \(map(.resource.service_name) | unique | join(","))"')"
get "/traces?limit=1000" >"$WORK/many.json"
check "/traces?limit=1000: the ring's 1000, all of the last run, distinct" "1000 many 1000" \
	"$(jq -r '.spans | "\(length) \(map(.resource.service_name) | unique | join(",")) \(map(.span_id) | unique | length)"' "$WORK/many.json")"
check "/traces: newest first (start times never increase)" true \
	"$(jq '[.spans[].start_unix_ns] | . as $t | [range(1; length) | $t[. - 1] >= $t[.]] | all' "$WORK/many.json")"

# ---- the real Prometheus: the exemplars it scraped --------------------------------------------
now=$(date +%s)
exq="$PROM/api/v1/query_exemplars?query=db_client_operation_duration_seconds_bucket%7Bservice_name%3D%22api%22%7D&start=$((now - 600))&end=$((now + 600))"
got=
deadline=$((SECONDS + 15))
while ((SECONDS < deadline)); do
	got=$(curl -fsS "$exq" 2>/dev/null | jq -c '[.data[]? | .seriesLabels as $l | .exemplars[] |
		{summary: $l.db_query_summary, le: $l.le, trace_id: .labels.trace_id, span_id: .labels.span_id, value}]')
	[[ -n $got ]] && (($(jq 'map(.summary) | unique | length' <<<"$got") >= 8)) && break
	sleep 0.1
done
check "prometheus: the target is up" 1 \
	"$(curl -fsS "$PROM/api/v1/query?query=up%7Bjob%3D%22dbprobe%22%7D" | jq -r '.data.result[0].value[1]')"
check "prometheus: query_exemplars returns exemplars of the api service's 8 statements" 8 \
	"$(jq 'map(.summary) | unique | length' <<<"$got")"
check "prometheus: each is a span of /traces, of its series' statement, with its duration" 0 \
	"$(jq -r --argjson s "$all" '[.[] | . as $e | ($s.spans | map(select(.trace_id == $e.trace_id and
		.span_id == $e.span_id and .summary == $e.summary and
		((.duration_ms / 1000 - ($e.value | tonumber)) | fabs) < 1e-6 + .duration_ms / 1e6)) | length) |
		select(. != 1)] | length' <<<"$got")"
check "prometheus: the failed call's exemplar is on its error series" 1 \
	"$(curl -fsS "$exq" | jq --argjson s "$all" '[.data[] | select(.seriesLabels.error_type == "SQLITE_ERROR") |
		.exemplars[] | .labels.trace_id as $t | $s.spans[] | select(.trace_id == $t and .name == "SELECT nope")] | length')"
check "prometheus: read the histogram too (2 inserts)" 2 \
	"$(curl -fsS "$PROM/api/v1/query?query=db_client_operation_duration_seconds_count%7Bservice_name%3D%22api%22%2Cdb_query_summary%3D%22INSERT%20t%22%7D" |
		jq -r '.data.result[0].value[1]')"
prom_stop
