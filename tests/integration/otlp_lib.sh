# otlp_lib.sh: helpers of the trace tests, sourced after lib.sh. They run tests/otlp/receiver.js,
# a collector that decodes the exporter's OTLP/HTTP protobuf with the OpenTelemetry project's
# generated code (and takes Zipkin v2 JSON), and writes one JSON line per span into $OTLP_OUT:
#   {"trace_id","span_id","parent_span_id" ("" for a root),"name","kind","start_ns","end_ns"
#    (decimal strings),"status_code","status_message","trace_state","flags","attributes":{},
#    "resource":{},"scope","scope_version","events":[],"links":[],"dropped_*_count",
#    "encoding" ("gzip"|"identity"),"request" (the request's n)}
#   {"format":"zipkin", ...the Zipkin span, "encoding","request"}
#   {"error","request","path"} for a body it could not decode (answered 400/415)
# and one line per request (refused ones too) into $OTLP_REQS:
#   {"n","path","method","status" (0: reset/hang),"action","encoding","content_type","bytes",
#    "decoded_bytes","spans","sha1" (of the uncompressed body),"headers":{lower-case names}}
# A script (see otlp_start) makes it refuse requests: those spans are only in $OTLP_REQS.

OTLP_DIR=$ROOT/tests/otlp
OTLP_PID=
OTLP_PORT=
OTLP_URL=
OTLP_OUT=$WORK/otlp.jsonl
OTLP_REQS=$OTLP_OUT.requests
ZIPKIN_URL=

# Stop the receiver before lib.sh's cleanup (whatever the EXIT trap already runs) removes $WORK.
eval "_otlp_prev=($(trap -p EXIT))"
trap "otlp_stop; ${_otlp_prev[2]:-}" EXIT
unset _otlp_prev

# otlp_start [SCRIPT]: a fresh receiver (its files emptied) on an ephemeral port; waits until it
# listens. Sets OTLP_PORT, OTLP_URL (http://127.0.0.1:PORT, the OTLP endpoint: it takes
# $OTLP_URL/v1/traces), ZIPKIN_URL ($OTLP_URL/api/v2/spans), OTLP_OUT, OTLP_REQS.
# SCRIPT, comma-separated answers to the successive data requests, then normal success:
#   503 (any code) | 503r1 (with Retry-After: 1) | ok | down (503 from then on; downr1 too) |
#   hang (never answers) | reset (closes the connection)
otlp_start() {
	otlp_stop
	rm -f "$OTLP_OUT" "$OTLP_REQS" "$WORK/otlp.port"
	_otlp_run 0 1 "$@"
}

# otlp_restart [SCRIPT]: stops the receiver and starts another on the same port, appending to
# the same files and going on with the request count (a collector that went away and came back).
otlp_restart() {
	local first
	otlp_stop
	first=$(($(_otlp_count "$OTLP_REQS") + 1))
	rm -f "$WORK/otlp.port"
	_otlp_run "$OTLP_PORT" "$first" "$@"
}

_otlp_run() {
	local port=$1 first=$2
	shift 2
	if [[ ! -d $OTLP_DIR/node_modules ]]; then
		echo "otlp: $OTLP_DIR/node_modules is missing (run scripts/deps --test)" >&2
		return 1
	fi
	node "$OTLP_DIR/receiver.js" --port-file "$WORK/otlp.port" --out "$OTLP_OUT" \
		--port "$port" --first-request "$first" ${1:+--script "$1"} 2>>"$WORK/otlp.err" &
	OTLP_PID=$!
	for _ in $(seq 200); do
		if [[ -s $WORK/otlp.port ]]; then
			OTLP_PORT=$(<"$WORK/otlp.port")
			OTLP_URL=http://127.0.0.1:$OTLP_PORT
			ZIPKIN_URL=$OTLP_URL/api/v2/spans
			export OTLP_PORT OTLP_URL ZIPKIN_URL OTLP_OUT OTLP_REQS
			return 0
		fi
		kill -0 "$OTLP_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "otlp: the receiver did not start:" >&2
	cat "$WORK/otlp.err" >&2
	otlp_stop
	return 1
}

otlp_stop() {
	if [[ -n $OTLP_PID ]]; then
		kill "$OTLP_PID" 2>/dev/null
		wait "$OTLP_PID" 2>/dev/null
		OTLP_PID=
	fi
}

# _otlp_count FILE: its lines (0 when absent).
_otlp_count() {
	if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi
}

# otlp_span_count: the span lines received (OTLP and Zipkin; not the error lines).
otlp_span_count() {
	[[ -f $OTLP_OUT ]] || { echo 0; return; }
	grep -vc '^{"error"' "$OTLP_OUT"
}

# otlp_wait_spans N [SECONDS]: until N spans have arrived, at most SECONDS (5). Prints the count
# reached; fails when short.
otlp_wait_spans() {
	local n=0 i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		n=$(otlp_span_count)
		((n >= $1)) && break
		sleep 0.05
	done
	echo "$n"
	((n >= $1))
}

# otlp_wait_requests N [SECONDS]: the same for requests (refused ones included).
otlp_wait_requests() {
	local n=0 i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		n=$(_otlp_count "$OTLP_REQS")
		((n >= $1)) && break
		sleep 0.05
	done
	echo "$n"
	((n >= $1))
}

# otlp_spans: every line of the out file (spans and errors), as written.
otlp_spans() { [[ -f $OTLP_OUT ]] && cat "$OTLP_OUT"; }

# otlp_requests: every line of the requests file.
otlp_requests() { [[ -f $OTLP_REQS ]] && cat "$OTLP_REQS"; }

# otlp_jq [JQ ARGS...] FILTER: FILTER over the span lines as one array, e.g.
#   otlp_jq -r '[.[] | select(.name == "SELECT t")] | length'
otlp_jq() {
	grep -v '^{"error"' "$OTLP_OUT" 2>/dev/null | jq -s "$@"
}

# otlp_reqs_jq [JQ ARGS...] FILTER: FILTER over the request lines as one array, e.g.
#   otlp_reqs_jq -r 'map(.status) | join(",")'
otlp_reqs_jq() {
	cat "$OTLP_REQS" 2>/dev/null | jq -s "$@"
}

# otlp_field NAME FIELD: FIELD of the first span named NAME ("absent" when there is none);
# an object field comes out as compact JSON.
otlp_field() {
	otlp_jq -r --arg n "$1" --arg f "$2" '[.[] | select(.name == $n)] |
		if length == 0 then "absent" else .[0][$f] | if type == "object" or type == "array" then tojson else . end end'
}

# otlp_attr NAME KEY: attribute KEY of the first span named NAME ("absent" when there is no such
# span or attribute).
otlp_attr() {
	otlp_jq -r --arg n "$1" --arg k "$2" '[.[] | select(.name == $n)] |
		if length == 0 or (.[0].attributes | has($k) | not) then "absent" else .[0].attributes[$k] end'
}

# otlp_errors: the error lines (bodies the receiver could not decode), one a line.
otlp_errors() { grep '^{"error"' "$OTLP_OUT" 2>/dev/null; }

# otlp_script SCRIPT: replaces the receiver's script (starts it over); "" for plain success.
otlp_script() {
	curl -fsS -X POST --data-binary "$(jq -cn --arg s "$1" '{script: $s}')" "$OTLP_URL/control" >/dev/null
}

# otlp_stats [FIELD]: the receiver's /stats ({requests, spans, refused, errors}), or one field.
otlp_stats() {
	if (($#)); then curl -fsS "$OTLP_URL/stats" | jq -r --arg f "$1" '.[$f]'
	else curl -fsS "$OTLP_URL/stats"; fi
}

# otlp_traced: a fresh receiver and a fresh exporter pushing to it every 200 ms, with a queue big
# enough for pgbench. otlp_untraced: that exporter stopped (SIGTERM flushes its queue), so what
# the receiver holds afterwards is final and exact counts mean something.
otlp_traced() {
	otlp_start || { fail "OTLP receiver did not start"; exit 1; }
	OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL OTEL_BSP_SCHEDULE_DELAY=200 \
		OTEL_BSP_MAX_QUEUE_SIZE=100000 start_exporter
}
otlp_untraced() { stop_exporter; }

# otlp_sel FILTER [JQ OPTIONS...] POST: POST over the spans FILTER selects, ordered by start time
# (a transaction span starts with its BEGIN: it comes first), e.g. otlp_sel '.status_code == 2'
# length
otlp_sel() {
	local f=$1 post=${*: -1}
	otlp_jq "${@:2:$#-2}" "sort_by(.start_ns, (.name != \"transaction\")) | map(select($f)) | $post"
}
