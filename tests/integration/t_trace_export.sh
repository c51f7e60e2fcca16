# The exporter's span push pipeline against tests/otlp/receiver.js: gzip bodies, custom headers,
# the signal-specific endpoint; retries (503, Retry-After) deliver every span exactly once; a
# refused batch (400) is dropped, not retried; a collector that is down overflows a small queue
# (every span accounted for) and what is still queued arrives when it comes back; SIGTERM
# flushes; Zipkin v2 JSON; a bad OTEL_BSP_* value warns once and changes nothing else.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/otlp_lib.sh"

# exporter_with [NAME=VALUE...] [-- ARGS...]: (re)starts our exporter with that environment and
# those arguments, its stderr file emptied first.
exporter_with() {
	local kv envs=()
	while (($#)) && [[ $1 != -- ]]; do envs+=("$1"); shift; done
	(($#)) && shift
	stop_exporter
	: >"$WORK/exporter.err"
	for kv in "${envs[@]}"; do export "${kv?}"; done
	start_exporter "$@"
	local rc=$?
	for kv in "${envs[@]}"; do unset "${kv%%=*}"; done
	return $rc
}

# sq SERVICE N [ENV...]: the real sqlite3 running N single statements "SELECT i;" on a fresh
# database, with the agent.
sq() {
	local svc=$1 n=$2
	shift 2
	rm -f "$WORK/$svc.db"
	seq "$n" | sed 's/.*/SELECT &;/' |
		env DBPROBE_SOCKET="$EXP_SOCK" LD_PRELOAD="$AGENT" OTEL_SERVICE_NAME="$svc" \
			DBPROBE_SLOW_MS=10000 "$@" sqlite3 "$WORK/$svc.db" >/dev/null
}

# counters: received exported dropped(queue_full rejected retries_exhausted shutdown) requests
# retries queued, from one scrape.
counters() {
	get /metrics | awk '
		$1 == "dbprobe_spans_received_total" { r = $2 }
		$1 == "dbprobe_spans_exported_total" { e = $2 }
		$1 == "dbprobe_spans_dropped_total{reason=\"queue_full\"}" { qf = $2 }
		$1 == "dbprobe_spans_dropped_total{reason=\"rejected\"}" { rj = $2 }
		$1 == "dbprobe_spans_dropped_total{reason=\"retries_exhausted\"}" { rx = $2 }
		$1 == "dbprobe_spans_dropped_total{reason=\"shutdown\"}" { sd = $2 }
		$1 == "dbprobe_spans_dropped_total{reason=\"out_of_memory\"}" { om = $2 }
		$1 == "dbprobe_span_export_requests_total" { rq = $2 }
		$1 == "dbprobe_span_export_retries_total" { rt = $2 }
		$1 == "dbprobe_spans_queued" { q = $2 }
		END { print r, e, qf, rj, rx, sd, rq, rt, q, om }'
}
dropped() { get /metrics | awk -v r="dbprobe_spans_dropped_total{reason=\"$1\"}" '$1 == r { print $2 }'; }

# settled: until nothing is queued or in flight (received == exported + dropped), at most 5 s.
settled() {
	for _ in $(seq 100); do
		settled_now && return 0
		sleep 0.05
	done
	return 1
}
settled_now() {
	local c
	read -r -a c <<<"$(counters)"
	((c[0] == c[1] + c[2] + c[3] + c[4] + c[5] + c[9] && c[8] == 0))
}

FAST=(OTEL_BSP_SCHEDULE_DELAY=100 DBPROBE_OTLP_RETRY_MS=20)

# ---- 1. gzip, headers, the signal-specific endpoint used as given ---------------------------
otlp_start || { fail "OTLP receiver did not start"; exit 1; }
# The general endpoint points nowhere: the signal-specific one wins, and gets no /v1/traces
# appended (the receiver would answer 404 to /v1/traces/v1/traces).
exporter_with "${FAST[@]}" OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 \
	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$OTLP_URL/v1/traces" OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
	OTEL_EXPORTER_OTLP_HEADERS="x-tenant=acme , authorization=Bearer%20t%2Ck%3D%3D,x-empty="
{
	echo "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
	for i in $(seq 1 30); do echo "INSERT INTO t(v) VALUES ('some text that compresses $i');"; done
	echo "BEGIN;"
	echo "UPDATE t SET v = 'x' WHERE id = 1;"
	echo "COMMIT;"
	echo "SELECT * FROM nope;"
} >"$WORK/gz.sql"
agent sqlite3 "$WORK/gz.db" <"$WORK/gz.sql" >/dev/null 2>&1 # 35 calls + 1 transaction
check "gzip: 36 spans arrive" 36 "$(otlp_wait_spans 36)"
settled
check "gzip: no undecodable body" "" "$(otlp_errors)"
check "gzip: every request to /v1/traces, answered 200" "/v1/traces 200" \
	"$(otlp_reqs_jq -r 'map("\(.path) \(.status)") | unique | join(",")')"
check "gzip: every request gzip-encoded, protobuf" "gzip application/x-protobuf" \
	"$(otlp_reqs_jq -r 'map("\(.encoding) \(.content_type)") | unique | join(",")')"
check "gzip: the bodies are compressed (smaller than decoded)" true \
	"$(otlp_reqs_jq 'all(.bytes < .decoded_bytes)')"
check "gzip: every span line says gzip" gzip "$(otlp_jq -r 'map(.encoding) | unique | join(",")')"
check "headers: x-tenant (spaces trimmed)" acme "$(otlp_reqs_jq -r '.[0].headers["x-tenant"]')"
check "headers: a percent-encoded value arrives decoded" "Bearer t,k==" \
	"$(otlp_reqs_jq -r '.[0].headers.authorization')"
check "headers: an empty value is sent empty" '""' "$(otlp_reqs_jq -c '.[0].headers["x-empty"]')"
check "headers: user-agent names the exporter" 1 \
	"$(otlp_reqs_jq -r '.[0].headers["user-agent"] | test("^dbprobe-exporter/")' | grep -c true)"
# Intact: exactly the spans /traces holds, with the same ids, parents, names and status.
ours=$(get "/traces?limit=1000" | jq -c '.spans | map([.trace_id, .span_id, .parent_span_id, .name,
	(if .status == "error" then 2 else 0 end)]) | sort')
theirs=$(otlp_jq -c 'map([.trace_id, .span_id, .parent_span_id, .name, .status_code]) | sort')
check "gzip: the spans received are exactly those made (ids, parents, names, status)" "$ours" "$theirs"
check "gzip: 36 distinct span ids" 36 "$(otlp_jq -r 'map(.span_id) | unique | length')"
check "gzip: the transaction's 3 statements are its children" 3 \
	"$(otlp_jq -r 'map(select(.name == "transaction") | .span_id) as $t | map(select(.parent_span_id == $t[0])) | length')"
check "gzip: counters: received, exported, no drops, requests, no retries" \
	"36 36 0 0 0 0 $(_otlp_count "$OTLP_REQS") 0 0 0" "$(counters)"
check "gzip: no warning on stderr" "" "$(grep -iE 'warn|not |malformed|pushing' "$WORK/exporter.err")"

# ---- 2. 503, then 503 with Retry-After: 1, then success: every span exactly once ----------
otlp_start "503,503r1" || { fail "OTLP receiver did not start"; exit 1; }
exporter_with "${FAST[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="$OTLP_URL/" OTEL_EXPORTER_OTLP_TIMEOUT=300
sq retry 40
otlp_wait_requests 2 >/dev/null
t2=$EPOCHREALTIME
check "retry: a third request after the two refused" 3 "$(otlp_wait_requests 3 4)"
t3=$EPOCHREALTIME
check "retry: 40 spans arrive" 40 "$(otlp_wait_spans 40)"
settled
check "retry: each span exactly once" "40 40" \
	"$(otlp_jq -r '"\(length) \(map(.span_id) | unique | length)"')"
check "retry: requests answered 503, 503, 200" "503,503,200" "$(otlp_reqs_jq -r 'map(.status) | join(",")')"
check "retry: each attempt sent the same body" 1 "$(otlp_reqs_jq -r 'map(.sha1) | unique | length')"
check "retry: each attempt carried the 40 spans" "40,40,40" "$(otlp_reqs_jq -r 'map(.spans) | join(",")')"
check "retry: uncompressed without OTEL_EXPORTER_OTLP_COMPRESSION" identity \
	"$(otlp_reqs_jq -r 'map(.encoding) | unique | join(",")')"
check "retry: Retry-After: 1 honoured (the third request >= 0.9 s after the second)" 1 \
	"$(awk -v a="$t2" -v b="$t3" 'BEGIN { print (b - a >= 0.9) ? 1 : 0 }')"
check "retry: counters: 40 received, 40 exported, nothing dropped, 3 requests, 2 retries" \
	"40 40 0 0 0 0 3 2 0 0" "$(counters)"
check "retry: the problem and the recovery reported once each on stderr" "1 1" \
	"$(grep -c 'pushing spans to .*: HTTP 503' "$WORK/exporter.err") $(grep -c 'works again' "$WORK/exporter.err")"

# A collector that never answers (OTEL_EXPORTER_OTLP_TIMEOUT=300 ms), then one that closes the
# connection: both retried, the spans still delivered once.
otlp_script "hang,reset"
sq hang 10
check "hang, reset: 10 spans arrive" 50 "$(otlp_wait_spans 50)"
settled
check "hang, reset: the requests: no answer, no answer, 200, with the same body" "0 hang,0 reset,200 null|1" \
	"$(otlp_reqs_jq -r '.[3:] | "\(map("\(.status) \(.action)") | join(","))|\(map(.sha1) | unique | length)"')"
check "hang, reset: each span once" "50 50" "$(otlp_jq -r '"\(length) \(map(.span_id) | unique | length)"')"
check "hang, reset: counters: 50 received and exported, 6 requests, 4 retries" \
	"50 50 0 0 0 0 6 4 0 0" "$(counters)"
check "hang: reported as a timeout on stderr" 1 "$(grep -c 'pushing spans to .*: Timeout was reached' "$WORK/exporter.err")"

# ---- 3. 400: the batch is dropped as rejected, never retried --------------------------------
otlp_start "400" || { fail "OTLP receiver did not start"; exit 1; }
exporter_with "${FAST[@]}" OTEL_EXPORTER_OTLP_ENDPOINT="$OTLP_URL"
sq reject1 15
check "400: the first batch is refused" 1 "$(otlp_wait_requests 1)"
sleep 0.3 # a retry would come within this (backoff 20 ms)
sq reject2 25
check "400: the next batch arrives" 25 "$(otlp_wait_spans 25)"
settled
check "400: requests: one refused (15 spans), one accepted (25)" "400:15,200:25" \
	"$(otlp_reqs_jq -r 'map("\(.status):\(.spans)") | join(",")')"
check "400: the refused body was never sent again" 2 "$(otlp_reqs_jq -r 'map(.sha1) | unique | length')"
check "400: none of the refused spans arrived" 0 \
	"$(otlp_jq -r 'map(select(.resource["service.name"] == "reject1")) | length')"
check "400: counters: 40 received, 25 exported, 15 rejected, 2 requests, no retry" \
	"40 25 0 15 0 0 2 0 0 0" "$(counters)"

# A batch still refused (503) after its 5 retries is dropped as retries_exhausted.
otlp_script "503,503,503,503,503,503"
sq exhaust 5
check "retries exhausted: 6 attempts of the batch (the first and 5 retries)" 8 "$(otlp_wait_requests 8)"
settled
sleep 0.2 # no seventh attempt
check "retries exhausted: no further attempt" 8 "$(_otlp_count "$OTLP_REQS")"
check "retries exhausted: the 6 attempts carried the same body" 1 \
	"$(otlp_reqs_jq -r '.[2:] | map(.sha1) | unique | length')"
check "retries exhausted: counters: 45 received, 25 exported, 15 rejected, 5 retries_exhausted, 8 requests, 5 retries" \
	"45 25 0 15 5 0 8 5 0 0" "$(counters)"

# ---- 4. the collector down: a small queue overflows, every span is accounted for ----------
# The first retry waits 100 ms here: a batch's 5 retries take 1.5 to 3 s, so the queue is still
# there when the collector comes back.
otlp_start "down" || { fail "OTLP receiver did not start"; exit 1; }
exporter_with OTEL_BSP_SCHEDULE_DELAY=100 DBPROBE_OTLP_RETRY_MS=100 \
	OTEL_EXPORTER_OTLP_ENDPOINT="$OTLP_URL" OTEL_BSP_MAX_QUEUE_SIZE=50 OTEL_BSP_MAX_EXPORT_BATCH_SIZE=10
N=300
sq down $N
check "down: the exporter received all $N spans" $N "$(for _ in $(seq 40); do
	c=$(counters); [[ ${c%% *} == "$N" ]] && break; sleep 0.05; done; echo "${c%% *}")"
# At every look: received == exported + dropped + queued, queued counting the batch in flight
# (at most the queue, 50, and one batch, 10).
bad=0 looks=0
acct() {
	local c
	read -r -a c <<<"$(counters)"
	looks=$((looks + 1))
	local rest=$((c[0] - c[1] - c[2] - c[3] - c[4] - c[5] - c[8] - c[9]))
	((rest == 0 && c[8] <= 60)) || {
		bad=$((bad + 1))
		echo "accounting: ${c[*]}" >&2
	}
}
for _ in $(seq 5); do acct; sleep 0.05; done
qf=$(dropped queue_full)
check "down: the queue (50) overflowed: queue_full is $N - 50 - the batches taken (0 or 1 of 10)" 1 \
	"$(((qf == N - 50 || qf == N - 60) ? 1 : 0))"
check "down: nothing accepted while down" 0 "$(otlp_span_count)"
for _ in $(seq 40); do (($(counters | cut -d' ' -f8) > 0)) && break; acct; sleep 0.05; done
check "down: the refused batch is being retried" 1 "$((($(counters | cut -d' ' -f8) > 0) ? 1 : 0))"
queued=$(counters | awk '{ print $9 }')
check "down: spans still queued at the restart" 1 "$(((queued > 0 && queued <= 60) ? 1 : 0))"
otlp_restart || { fail "OTLP receiver did not restart"; exit 1; }
for _ in $(seq 200); do
	acct
	settled_now && break
	sleep 0.05
done
settled
acct
check "down: received == exported + dropped + queued (in flight included) at every one of $looks looks" 0 "$bad"
read -r -a c <<<"$(counters)"
check "down: settled: received == exported + dropped, nothing queued" "$N 0" \
	"$((c[1] + c[2] + c[3] + c[4] + c[5] + c[9])) ${c[8]}"
check "down: the spans queued at the restart arrived (at least $queued)" 1 \
	"$(((c[1] >= queued) ? 1 : 0))"
check "down: lost only the overflow and batches out of retries, no rejected or shutdown drops" \
	"$((N - c[1])) 0 0" "$((c[2] + c[4])) ${c[3]} ${c[5]}"
check "down: what was exported is what arrived, each once" "${c[1]} ${c[1]}" \
	"$(otlp_jq -r '"\(length) \(map(.span_id) | unique | length)"')"
# (attempts while no receiver listened count too: the exporter's number is the larger)
check "down: every request the receiver saw was counted" 1 "$(((c[6] >= $(_otlp_count "$OTLP_REQS")) ? 1 : 0))"
check "down: batches of at most 10" 1 "$(otlp_reqs_jq -r 'all(.spans <= 10) | if . then 1 else 0 end')"
check "down: the outage reported on stderr, then the recovery" 1 \
	"$(grep -q 'pushing spans to' "$WORK/exporter.err" && grep -q 'works again' "$WORK/exporter.err" && echo 1)"

# ---- 5. SIGTERM flushes what is queued -------------------------------------------------------
otlp_start || { fail "OTLP receiver did not start"; exit 1; }
exporter_with OTEL_BSP_SCHEDULE_DELAY=60000 OTEL_EXPORTER_OTLP_ENDPOINT="$OTLP_URL"
sq term 30
for _ in $(seq 40); do [[ $(counters | awk '{ print $9 }') == 30 ]] && break; sleep 0.05; done
check "sigterm: 30 spans queued, none sent yet" "30 0 0" \
	"$(counters | awk '{ print $9 }') $(otlp_span_count) $(_otlp_count "$OTLP_REQS")"
t0=$EPOCHREALTIME
kill -TERM "$EXP_PID"
wait "$EXP_PID"
rc=$?
t1=$EPOCHREALTIME
check "sigterm: the exporter exits 0" 0 "$rc"
EXP_PID=
check "sigterm: the 30 spans reached the receiver before the exporter exited" 30 "$(otlp_span_count)"
check "sigterm: in one request" 1 "$(_otlp_count "$OTLP_REQS")"
check "sigterm: it exited promptly (< 3 s)" 1 "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a < 3) ? 1 : 0 }')"
check "sigterm: the socket was removed" 0 "$([[ -e $EXP_SOCK ]] && echo 1 || echo 0)"

# ---- 6. Zipkin, with a bad OTEL_BSP_MAX_QUEUE_SIZE -----------------------------------------
otlp_start || { fail "OTLP receiver did not start"; exit 1; }
need_pg || { fail "PostgreSQL server did not start"; exit 1; }
exporter_with "${FAST[@]}" OTEL_BSP_MAX_QUEUE_SIZE=lots -- --zipkin-endpoint "$ZIPKIN_URL"
check "bad OTEL_BSP_MAX_QUEUE_SIZE: exactly one warning line naming it" 1 \
	"$(grep -c 'OTEL_BSP_MAX_QUEUE_SIZE' "$WORK/exporter.err")"
check "bad OTEL_BSP_MAX_QUEUE_SIZE: the warning gives the value and the default 2048" 1 \
	"$(grep 'OTEL_BSP_MAX_QUEUE_SIZE' "$WORK/exporter.err" | grep -c "lots.*2048")"
agent sqlite3 "$WORK/gz2.db" <"$WORK/gz.sql" >/dev/null 2>&1 # 36 spans
printf 'BEGIN;\nSELECT 1;\nCOMMIT;\nSELECT * FROM nope;\n' |
	OTEL_SERVICE_NAME=zpg agent psql -X -At >/dev/null 2>&1 # connect, 4 statements, transaction
check "zipkin: 42 spans arrive" 42 "$(otlp_wait_spans 42)"
settled
check "zipkin: no undecodable body" "" "$(otlp_errors)"
check "zipkin: every request to /api/v2/spans, JSON, 202" "/api/v2/spans application/json 202" \
	"$(otlp_reqs_jq -r 'map("\(.path) \(.content_type) \(.status)") | unique | join(",")')"
check "zipkin: every line a zipkin span with traceId, id, name, timestamp, duration, tags" 42 \
	"$(otlp_jq -r 'map(select(.format == "zipkin" and (.traceId | test("^[0-9a-f]{32}$")) and
		(.id | test("^[0-9a-f]{16}$")) and (.name | length > 0) and (.timestamp | type == "number") and
		.duration >= 1 and (.tags | type == "object"))) | length')"
check "zipkin: ids unique" 42 "$(otlp_jq -r 'map(.id) | unique | length')"
check "zipkin: PostgreSQL spans are kind CLIENT; SQLite's (internal) have no kind" "postgresql:CLIENT sqlite:null" \
	"$(otlp_jq -r 'map("\(.tags["db.system.name"]):\(.kind)") | unique | join(" ")')"
check "zipkin: service names" "sqlite3 zpg" \
	"$(otlp_jq -r 'map(.localEndpoint.serviceName) | unique | join(" ")')"
check "zipkin: tags: text, summary, namespace of a statement" \
	"INSERT INTO t(v) VALUES (?)|INSERT t|$WORK/gz2.db|1" \
	"$(otlp_jq -r 'map(select(.name == "INSERT t")) | .[0].tags | "\(.["db.query.text"])|\(.["db.query.summary"])|\(.["db.namespace"])|\(.["db.response.returned_rows"] // "none" | test("^[0-9]+$"))" | sub("true$"; "1")')"
check "zipkin: failures carry error and otel.status_code tags" "42P01 ERROR,SQLITE_ERROR ERROR" \
	"$(otlp_jq -r 'map(select(.tags.error) | "\(.tags.error) \(.tags["otel.status_code"])") | sort | join(",")')"
check "zipkin: no error tag on the others" 40 "$(otlp_jq -r 'map(select(.tags | has("error") | not)) | length')"
check "zipkin: the transactions' statements have them as parentId, in their trace" "3 3" \
	"$(otlp_jq -r '. as $all | [map(select(.name == "transaction"))[] | .id as $id | .traceId as $tr |
		$all | map(select(.parentId == $id and .traceId == $tr)) | length] | join(" ")')"
check "zipkin: transaction outcome tags" "commit,commit" \
	"$(otlp_jq -r 'map(select(.name == "transaction") | .tags["db.transaction.outcome"]) | join(",")')"
check "zipkin: scope tags" "dbprobe" "$(otlp_jq -r 'map(.tags["otel.scope.name"]) | unique | join(",")')"
check "bad OTEL_BSP_MAX_QUEUE_SIZE: the exporter still pushed everything" "42 42 0 0 0 0" \
	"$(counters | cut -d' ' -f1-6)"
