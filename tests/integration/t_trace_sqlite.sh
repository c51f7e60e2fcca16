# Spans of the stock sqlite3 program, pushed as OTLP to tests/otlp/receiver.js: a known script
# gives exactly its spans with every attribute and resource attribute; transactions are parents
# of their statements (BEGIN and COMMIT/ROLLBACK included); other statements are roots of their
# own traces; failures are errors; TRACEPARENT/TRACESTATE adopt the program into a trace; the
# samplers keep what they should (failed and slow calls always) while /queries counts every call.
# Span times are compared exactly: a transaction spans its BEGIN's start to its COMMIT's end.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/otlp_lib.sh"

otlp_start || { fail "OTLP receiver did not start"; exit 1; }
OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP_URL OTEL_BSP_SCHEDULE_DELAY=100 DBPROBE_OTLP_RETRY_MS=50 \
	start_exporter || { fail "exporter did not start"; exit 1; }

# sq SERVICE SCRIPT [ENV...]: runs the real sqlite3 on a fresh database $WORK/SERVICE.db with the
# agent, OTEL_SERVICE_NAME=SERVICE and the given extra environment; sets SQ_PID.
SQ_PID=
sq() {
	local svc=$1 script=$2
	shift 2
	rm -f "$WORK/$svc.db"
	env DBPROBE_SOCKET="$EXP_SOCK" LD_PRELOAD="$AGENT" OTEL_SERVICE_NAME="$svc" "$@" \
		sqlite3 "$WORK/$svc.db" <"$script" >"$WORK/$svc.out" 2>"$WORK/$svc.err" &
	SQ_PID=$!
	wait "$SQ_PID"
}

CALLS=0 # calls sent so far by every run
# settle CALLS: until the exporter received that many calls and pushed every span it made
# (received == exported, nothing queued), then a little longer than the push interval so that
# a stray late span would be seen too.
settle() {
	local n
	n=$(wait_calls "$1")
	((n == $1)) || echo "settle: $n calls of $1" >&2
	for _ in $(seq 60); do
		get /metrics | awk '$1 == "dbprobe_spans_received_total" { r = $2 }
			$1 == "dbprobe_spans_exported_total" { e = $2 } $1 == "dbprobe_spans_queued" { q = $2 }
			END { exit !(r != "" && r == e && q == 0) }' && break
		sleep 0.05
	done
	sleep 0.25
	otlp_jq . >"$WORK/spans.json"
}

# sj SERVICE [JQ ARGS...] FILTER: FILTER over the spans of SERVICE (by resource service.name),
# as received when settle last returned.
sj() {
	local svc=$1
	shift
	local f=${*: -1}
	jq "${@:1:$#-1}" --arg svc "$svc" "map(select(.resource[\"service.name\"] == \$svc)) | $f" \
		"$WORK/spans.json"
}
count() { sj "$1" -r 'length'; }

# calls_of SERVICE: the calls /queries counted for SERVICE.
calls_of() {
	get "/queries?limit=100000" | jq --arg s "$1" '[.queries[] | select(.service == $s) | .calls] | add // 0'
}

# ---- the script ---------------------------------------------------------------------------
# 17 statements: CREATE, 5 INSERTs, a SELECT returning 3 rows, a committed transaction (BEGIN,
# INSERT, UPDATE, SELECT, COMMIT), a rolled back one (BEGIN TRANSACTION, DELETE, ROLLBACK), a
# duplicate key and a missing table. 19 spans: the 17 and the 2 transactions.
{
	echo "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE, n INT);"
	for i in 1 2 3 4 5; do echo "INSERT INTO t(v, n) VALUES ('v$i', $i);"; done
	echo "SELECT * FROM t WHERE n >= 3;"
	echo "BEGIN;"
	echo "INSERT INTO t(v, n) VALUES ('w', 6);"
	echo "UPDATE t SET n = n + 1 WHERE id <= 2;"
	echo "SELECT count(*) FROM t;"
	echo "COMMIT;"
	echo "BEGIN TRANSACTION;"
	echo "DELETE FROM t WHERE n > 100;"
	echo "ROLLBACK;"
	echo "INSERT INTO t(v, n) VALUES ('v1', 9);"
	echo "SELECT * FROM missing_table;"
} >"$WORK/main.sql"
MAIN_CALLS=17 MAIN_SPANS=19

# ---- phase 1: the main run, with the naming, TRACEPARENT and many-transactions runs beside it
echo "SELECT 1;" >"$WORK/one.sql"
run1() { # ENV...: one statement through sqlite3 with the agent and that environment
	env -u OTEL_SERVICE_NAME DBPROBE_SOCKET="$EXP_SOCK" LD_PRELOAD="$AGENT" "$@" \
		sqlite3 <"$WORK/one.sql" >/dev/null 2>>"$WORK/run1.err"
}
tp_trace=4bf92f3577b34da6a3ce929d0e0e4736
tp_span=00f067aa0ba902b7
tstate="vendor1=abc,dbp=x%20y"
{
	run1 OTEL_RESOURCE_ATTRIBUTES="service.name=fromattrs,team=db%20ops"
	run1 OTEL_RESOURCE_ATTRIBUTES="service.name=fromattrs,team=env" OTEL_SERVICE_NAME=fromenv
	run1
	run1 OTEL_SERVICE_NAME=badparent TRACEPARENT=garbage
} &
bg=($!)
sq parent "$WORK/main.sql" TRACEPARENT="00-$tp_trace-$tp_span-01" TRACESTATE="$tstate" \
	DBPROBE_STACKS=off DBPROBE_SLOW_MS=10000 &
bg+=($!)
TXNS=60 # transactions of 3 statements (180 calls, 240 spans)
{
	echo "CREATE TABLE t(a INT);"
	for i in $(seq $TXNS); do
		echo "BEGIN;"
		echo "INSERT INTO t VALUES ($i);"
		if ((i % 2)); then echo "COMMIT;"; else echo "ROLLBACK;"; fi
	done
} >"$WORK/txns.sql"
sq txns "$WORK/txns.sql" DBPROBE_SLOW_MS=10000 &
bg+=($!)
t_before=$(date +%s%N)
sq main "$WORK/main.sql" OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test DBPROBE_STACKS=all \
	DBPROBE_SLOW_MS=10000
check "main: sqlite3 exits 1 (two statements fail)" 1 "$?"
t_after=$(date +%s%N)
main_pid=$SQ_PID
wait "${bg[@]}"
CALLS=$((2 * MAIN_CALLS + 4 + 1 + 3 * TXNS))
total=$((2 * MAIN_SPANS + 4 + 1 + 4 * TXNS))
check "phase 1: $total spans arrive" $total "$(otlp_wait_spans $total)"
settle $CALLS

# ---- 1. every span of the script, everything in it ----------------------------------------
check "main: no extra span arrives later" $MAIN_SPANS "$(count main)"
check "main: /queries counts the $MAIN_CALLS calls" $MAIN_CALLS "$(calls_of main)"
check "main: the collector got no undecodable body" "" "$(otlp_errors)"

check "main: span names (sorted)" \
	"BEGIN,BEGIN,COMMIT,CREATE TABLE t,DELETE t,INSERT t,INSERT t,INSERT t,INSERT t,INSERT t,INSERT t,INSERT t,ROLLBACK,SELECT missing_table,SELECT t,SELECT t,UPDATE t,transaction,transaction" \
	"$(sj main -r 'map(.name) | sort | join(",")')"
check "main: span ids unique, 16 hex digits, nonzero" $MAIN_SPANS \
	"$(sj main -r 'map(.span_id | select(test("^[0-9a-f]{16}$") and . != "0000000000000000")) | unique | length')"
check "main: trace ids 32 hex digits, nonzero" $MAIN_SPANS \
	"$(sj main -r 'map(select(.trace_id | test("^[0-9a-f]{32}$") and (test("^0+$") | not))) | length')"
check "main: scope dbprobe on every span" "dbprobe" "$(sj main -r 'map(.scope) | unique | join(",")')"
check "main: kind INTERNAL (1) on every span (SQLite)" "1" "$(sj main -r 'map(.kind) | unique | join(",")')"
check "main: trace_state empty without TRACESTATE" "" "$(sj main -r 'map(.trace_state) | unique | join(",")')"
check "main: no duplicated attribute keys" 0 "$(sj main -r 'map(select(has("duplicate_attributes"))) | length')"
check "main: start <= end, within the run" $MAIN_SPANS \
	"$(sj main -r --arg a "$t_before" --arg b "$t_after" \
		'map(select((.start_ns | tonumber) <= (.end_ns | tonumber) and
			(.start_ns | tonumber) >= ($a | tonumber) - 1e9 and
			(.end_ns | tonumber) <= ($b | tonumber) + 1e9)) | length')"

res=$(jq -cn --arg pid "$main_pid" --arg host "$(hostname)" \
	'{"service.name": "main", "process.pid": ($pid | tonumber), "process.executable.name": "sqlite3",
	  "host.name": $host, "deployment.environment": "test"}')
check "main: resource of every span: service, pid, executable, host, OTEL_RESOURCE_ATTRIBUTES" \
	"$res" "$(sj main -c 'map(.resource) | unique | if length == 1 then .[0] else . end')"

calls='map(select(.name != "transaction"))'
check "main: every statement: db.system.name sqlite" "sqlite" \
	"$(sj main -r "$calls | map(.attributes[\"db.system.name\"]) | unique | join(\",\")")"
check "main: every span: db.namespace is the database file" "$WORK/main.db" \
	"$(sj main -r 'map(.attributes["db.namespace"]) | unique | join(",")')"
check "main: every statement: db.query.summary is the span name" $MAIN_CALLS \
	"$(sj main -r "$calls | map(select(.attributes[\"db.query.summary\"] == .name)) | length")"
check "main: every statement: db.response.returned_rows is an integer" $MAIN_CALLS \
	"$(sj main -r "$calls | map(select(.attributes[\"db.response.returned_rows\"] | type == \"number\")) | length")"
check "main: every statement carries its call site (DBPROBE_STACKS=all)" $MAIN_CALLS \
	"$(sj main -r "$calls | map(select(.attributes[\"code.function.name\"] | type == \"string\" and length > 0)) | length")"
check "main: insert text normalized (literals are ?)" \
	"INSERT INTO t(v, n) VALUES (?, ?)" \
	"$(sj main -r 'map(select(.name == "INSERT t") | .attributes["db.query.text"]) | unique | join("|")')"
check "main: create text" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE, n INT)" \
	"$(sj main -r 'map(select(.name == "CREATE TABLE t") | .attributes["db.query.text"]) | join("|")')"
check "main: the select returned 3 rows" 3 \
	"$(sj main -r 'map(select(.attributes["db.query.text"] == "SELECT * FROM t WHERE n >= ?")) |
		.[0].attributes["db.response.returned_rows"]')"
check "main: count(*) returned 1 row" 1 \
	"$(sj main -r 'map(select(.attributes["db.query.text"] == "SELECT count(*) FROM t")) | .[0].attributes["db.response.returned_rows"]')"
check "main: the update's text" "UPDATE t SET n = n + ? WHERE id <= ?" \
	"$(sj main -r 'map(select(.name == "UPDATE t") | .attributes["db.query.text"]) | join("|")')"

# Failures: status ERROR with error.type and db.response.status_code; no other span is an error.
dup='map(select(.name == "INSERT t" and .status_code == 2))'
check "main: exactly two spans are errors" 2 "$(sj main -r 'map(select(.status_code == 2)) | length')"
check "main: the other spans have status unset and no error.type" $((MAIN_SPANS - 2)) \
	"$(sj main -r 'map(select(.status_code == 0 and (.attributes | has("error.type") | not))) | length')"
check "main: duplicate key: error.type SQLITE_CONSTRAINT_UNIQUE" SQLITE_CONSTRAINT_UNIQUE \
	"$(sj main -r "$dup | .[0].attributes[\"error.type\"]")"
check "main: duplicate key: db.response.status_code" SQLITE_CONSTRAINT_UNIQUE \
	"$(sj main -r "$dup | .[0].attributes[\"db.response.status_code\"]")"
check "main: missing table: status 2, error.type SQLITE_ERROR" "2 SQLITE_ERROR" \
	"$(sj main -r 'map(select(.name == "SELECT missing_table")) | .[0] | "\(.status_code) \(.attributes["error.type"])"')"

# Transactions: the children share the transaction's trace and have it as their parent.
txn_check() { # LABEL OUTCOME "CHILD NAMES in order"
	local t
	t=$(sj main -c --arg o "$2" 'map(select(.name == "transaction" and .attributes["db.transaction.outcome"] == $o))')
	check "$1: one transaction span with outcome $2" 1 "$(jq length <<<"$t")"
	local tid sid
	tid=$(jq -r '.[0].trace_id' <<<"$t")
	sid=$(jq -r '.[0].span_id' <<<"$t")
	check "$1: the transaction span is a root" "" "$(jq -r '.[0].parent_span_id' <<<"$t")"
	check "$1: its children, in order, BEGIN and the end included" "$3" \
		"$(sj main -r --arg p "$sid" 'map(select(.parent_span_id == $p)) | sort_by(.start_ns | tonumber) | map(.name) | join(",")')"
	check "$1: nothing else in its trace" "$(($(tr ',' '\n' <<<"$3" | wc -l) + 1))" \
		"$(sj main -r --arg t "$tid" 'map(select(.trace_id == $t)) | length')"
	check "$1: the transaction span: db.system.name and db.namespace" "sqlite $WORK/main.db" \
		"$(jq -r '.[0].attributes | "\(.["db.system.name"]) \(.["db.namespace"])"' <<<"$t")"
}
txn_check "commit" commit "BEGIN,INSERT t,UPDATE t,SELECT t,COMMIT"
txn_check "rollback" rollback "BEGIN,DELETE t,ROLLBACK"
check "main: BEGIN TRANSACTION's text" "BEGIN TRANSACTION" \
	"$(sj main -r 'map(select(.name == "BEGIN") | .attributes["db.query.text"]) | sort | last')"

# Outside transactions: roots, each its own trace.
check "main: 11 roots (9 statements outside transactions, 2 transactions)" 11 \
	"$(sj main -r 'map(select(.parent_span_id == "")) | length')"
check "main: the roots' trace ids are distinct" 11 \
	"$(sj main -r 'map(select(.parent_span_id == "") | .trace_id) | unique | length')"
check "main: 11 traces in all" 11 "$(sj main -r 'map(.trace_id) | unique | length')"
check "main: every parent is a span of the run" 0 \
	"$(sj main -r 'map(.span_id) as $ids | map(select(.parent_span_id != "" and (.parent_span_id as $p | $ids | index($p) | not))) | length')"

# ---- 1b. service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES', else the program --
check "service.name from OTEL_RESOURCE_ATTRIBUTES, its other pairs percent-decoded" "fromattrs db ops" \
	"$(sj fromattrs -r 'map("\(.resource["service.name"]) \(.resource.team)") | join(",")')"
check "OTEL_SERVICE_NAME wins over service.name in the attributes" "fromenv env" \
	"$(sj fromenv -r 'map("\(.resource["service.name"]) \(.resource.team)") | join(",")')"
check "service.name defaults to the program's name" 1 "$(count sqlite3)"
check "a malformed TRACEPARENT: a trace of its own (root), one warning naming it" "1 1" \
	"$(sj badparent -r 'map(select(.parent_span_id == "")) | length') $(grep -c 'TRACEPARENT' "$WORK/run1.err")"
check "no other warning from the agent" 1 "$(grep -c . "$WORK/run1.err")"

# ---- 1c. a transaction's span runs from its BEGIN's start to its COMMIT / ROLLBACK's end --
# Times are compared exactly, as decimal strings (jq's numbers are doubles: 256 ns apart here).
ns_le='def le(a; b): (a | length) < (b | length) or ((a | length) == (b | length) and a <= b);'
check "txns: $TXNS transactions, $((TXNS / 2)) rolled back, 3 children each" \
	"$TXNS $((TXNS / 2)) $((3 * TXNS))" \
	"$(sj txns -r 'map(select(.name == "transaction")) as $t | ($t | map(.span_id)) as $ids |
		"\($t | length) \($t | map(select(.attributes["db.transaction.outcome"] == "rollback")) | length) \(map(select(.parent_span_id as $p | $ids | index($p))) | length)"')"
txn_times() { # FILTER over {txn, first, last}: each transaction with its first and last child
	sj txns -r "$ns_le"' (map({key: .span_id, value: .}) | from_entries) as $by |
		(map(select(.parent_span_id != "")) | group_by(.parent_span_id) |
		 map({txn: $by[.[0].parent_span_id], first: min_by(.start_ns | tonumber), last: max_by(.end_ns | tonumber), kids: .})) | '"$1"
}
check "txns: each transaction span starts exactly when its BEGIN starts" "$TXNS" \
	"$(txn_times 'map(select(.first.name == "BEGIN" and .txn.start_ns == .first.start_ns)) | length')"
check "txns: each transaction span ends exactly when its COMMIT / ROLLBACK ends" "$TXNS" \
	"$(txn_times 'map(select((.last.name == "COMMIT" or .last.name == "ROLLBACK") and .txn.end_ns == .last.end_ns)) | length')"
check "txns: no child starts before or ends after its transaction (ns)" 0 \
	"$(txn_times '[.[] | .txn as $t | .kids[] | select((le($t.start_ns; .start_ns) and le(.end_ns; $t.end_ns)) | not)] | length')"

# ---- 2. TRACEPARENT and TRACESTATE: every span a descendant of the given span --------------
check "traceparent: no extra span" $MAIN_SPANS "$(count parent)"
check "traceparent: every span in the given trace" "$tp_trace" "$(sj parent -r 'map(.trace_id) | unique | join(",")')"
check "traceparent: the 11 top spans (transactions, statements outside them) have the given parent" 11 \
	"$(sj parent -r --arg p "$tp_span" 'map(select(.parent_span_id == $p)) | length')"
check "traceparent: the transactions are among them" 2 \
	"$(sj parent -r --arg p "$tp_span" 'map(select(.parent_span_id == $p and .name == "transaction")) | length')"
check "traceparent: the other 8 are children of the transactions" 8 \
	"$(sj parent -r 'map(select(.name == "transaction") | .span_id) as $t |
		map(select(.parent_span_id as $p | $t | index($p))) | length')"
check "traceparent: no span without a parent" 0 "$(sj parent -r 'map(select(.parent_span_id == "")) | length')"
check "traceparent: TRACESTATE is every span's trace_state" "$tstate" \
	"$(sj parent -r 'map(.trace_state) | unique | join("|")')"
check "traceparent: span ids unique and not the parent's" $MAIN_SPANS \
	"$(sj parent -r --arg p "$tp_span" 'map(.span_id | select(. != $p)) | unique | length')"
check "DBPROBE_STACKS=off: no code.* attributes" 0 \
	"$(sj parent -r 'map(select(.attributes | keys | any(startswith("code.")))) | length')"
check "traceparent: still two errors" 2 "$(sj parent -r 'map(select(.status_code == 2)) | length')"

# ---- phase 2: the samplers, each run under its own service name, all at once ---------------
{
	cat "$WORK/main.sql"
	echo "BEGIN;"
	echo "INSERT INTO t(v, n) VALUES ('v2', 1);" # duplicate: fails inside the transaction
	echo "SELECT 1;"
	echo "COMMIT;"
} >"$WORK/off.sql"
N=2000
for _ in $(seq $N); do echo "SELECT 1;"; done >"$WORK/ratio.sql"
QUIET=DBPROBE_SLOW_MS=10000 # no call is slow by accident
bg=()
sq unsampled "$WORK/main.sql" TRACEPARENT="00-$tp_trace-$tp_span-00" $QUIET & bg+=($!)
sq off "$WORK/off.sql" OTEL_TRACES_SAMPLER=always_off $QUIET & bg+=($!)
sq offslow "$WORK/main.sql" OTEL_TRACES_SAMPLER=always_off DBPROBE_SLOW_MS=0 & bg+=($!)
sq pboff "$WORK/main.sql" OTEL_TRACES_SAMPLER=parentbased_always_off $QUIET & bg+=($!)
sq on00 "$WORK/main.sql" OTEL_TRACES_SAMPLER=always_on TRACEPARENT="00-$tp_trace-$tp_span-00" $QUIET &
bg+=($!)
sq pbratio "$WORK/main.sql" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0 \
	TRACEPARENT="00-$tp_trace-$tp_span-01" $QUIET & bg+=($!)
sq ratio "$WORK/ratio.sql" OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.5 $QUIET & bg+=($!)
sq ratio0 "$WORK/main.sql" OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0 $QUIET & bg+=($!)
wait "${bg[@]}"
CALLS=$((CALLS + 7 * MAIN_CALLS + 4 + N))
settle $CALLS

# ---- 3. TRACEPARENT not sampled (flags 00): only the failed calls --------------------------
check "flags 00: only the 2 failed calls are exported" \
	"INSERT t SQLITE_CONSTRAINT_UNIQUE,SELECT missing_table SQLITE_ERROR" \
	"$(sj unsampled -r 'map("\(.name) \(.attributes["error.type"])") | sort | join(",")')"
check "flags 00: in the given trace, children of the given span" "$tp_trace $tp_span" \
	"$(sj unsampled -r 'map("\(.trace_id) \(.parent_span_id)") | unique | join(",")')"
check "flags 00: /queries still counts all $MAIN_CALLS calls" $MAIN_CALLS "$(calls_of unsampled)"

# ---- 4. always_off: failed (and slow) calls only; a failure inside a transaction keeps it ---
check "always_off: the 3 failed calls and the transaction holding one of them" \
	"INSERT t 2,INSERT t 2,SELECT missing_table 2,transaction 0" \
	"$(sj off -r 'map("\(.name) \(.status_code)") | sort | join(",")')"
txn=$(sj off -r 'map(select(.name == "transaction")) | .[0] | "\(.trace_id) \(.span_id)"')
check "always_off: the failed statement in the transaction is its child" 1 \
	"$(sj off -r --arg t "${txn% *}" --arg s "${txn#* }" 'map(select(.trace_id == $t and .parent_span_id == $s and .status_code == 2)) | length')"
check "always_off: the transaction's outcome" commit \
	"$(sj off -r 'map(select(.name == "transaction")) | .[0].attributes["db.transaction.outcome"]')"
check "always_off: /queries counts every call ($((MAIN_CALLS + 4)))" $((MAIN_CALLS + 4)) "$(calls_of off)"

# always_off with every call slow (DBPROBE_SLOW_MS=0): everything is exported anyway.
check "always_off + every call slow: all $MAIN_SPANS spans exported" $MAIN_SPANS "$(count offslow)"
check "always_off + slow: the transactions still parent their statements" 8 \
	"$(sj offslow -r 'map(select(.name == "transaction") | .span_id) as $t |
		map(select(.parent_span_id as $p | $t | index($p))) | length')"

# parentbased_always_off without TRACEPARENT: the root sampler is always_off.
check "parentbased_always_off, no parent: the 2 failed calls only" 2 "$(count pboff)"

# always_on ignores an unsampled parent; parentbased_traceidratio (ratio 0) follows a sampled one.
check "always_on with an unsampled parent: all $MAIN_SPANS spans" $MAIN_SPANS "$(count on00)"
check "always_on with a parent: still in its trace" "$tp_trace" "$(sj on00 -r 'map(.trace_id) | unique | join(",")')"
check "parentbased_traceidratio (0) with a sampled parent: all $MAIN_SPANS spans" $MAIN_SPANS "$(count pbratio)"

# ---- 5. traceidratio ------------------------------------------------------------------------
k=$(count ratio)
# Binomial(2000, 0.5): mean 1000, sd 22; 800..1200 is 9 sd.
check "traceidratio 0.5: $k of $N calls exported, within 800..1200" 1 "$(((k >= 800 && k <= 1200) ? 1 : 0))"
check "traceidratio: /queries counts exactly $N calls" $N "$(calls_of ratio)"
check "traceidratio: every exported call its own trace" "$k" "$(sj ratio -r 'map(.trace_id) | unique | length')"
# The choice is the trace id's (last 8 bytes under ratio * 2^64: hex digit 17 below 8), so the
# same trace is chosen alike in every process.
check "traceidratio: every exported trace id is one the ratio keeps" 0 \
	"$(sj ratio -r 'map(select(.trace_id[16:17] | test("[0-7]") | not)) | length')"
check "traceidratio 0: only the 2 failed calls" 2 "$(count ratio0)"

# ---- 6. a transaction still open when the program ends: closing rolls it back -------------
printf 'CREATE TABLE t(a);\nBEGIN;\nINSERT INTO t VALUES (1);\n' >"$WORK/open.sql"
sq open "$WORK/open.sql"
CALLS=$((CALLS + 3))
settle $CALLS
check "open at exit: one transaction span, rolled back" "transaction rollback" \
	"$(sj open -r 'map(select(.name == "transaction")) | map("\(.name) \(.attributes["db.transaction.outcome"])") | join(",")')"
check "open at exit: its children, BEGIN and the insert" "BEGIN,INSERT t" \
	"$(sj open -r '(map(select(.name == "transaction")) | .[0].span_id) as $t |
		map(select(.parent_span_id == $t)) | sort_by(.start_ns) | map(.name) | join(",")')"
check "open at exit: 4 spans in all" 4 "$(count open)"

# ---- 7. a COMMIT that fails but leaves the transaction open (a deferred foreign key) -------
cat >"$WORK/defer.sql" <<'SQL'
PRAGMA foreign_keys = ON;
CREATE TABLE p(id INTEGER PRIMARY KEY);
CREATE TABLE c(pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);
BEGIN;
INSERT INTO c VALUES (1);
COMMIT;
INSERT INTO p VALUES (1);
COMMIT;
SQL
sq defer "$WORK/defer.sql"
CALLS=$((CALLS + 8))
settle $CALLS
check "deferred key: the failed COMMIT kept the transaction: one, committed" "transaction commit" \
	"$(sj defer -r 'map(select(.name == "transaction")) | map("\(.name) \(.attributes["db.transaction.outcome"])") | join(",")')"
check "deferred key: its children, the failed COMMIT and the statements after it included" \
	"BEGIN,INSERT c,COMMIT,INSERT p,COMMIT" \
	"$(sj defer -r '(map(select(.name == "transaction")) | .[0].span_id) as $t |
		map(select(.parent_span_id == $t)) | sort_by(.start_ns) | map(.name) | join(",")')"
check "deferred key: the first COMMIT failed" "2 SQLITE_CONSTRAINT_FOREIGNKEY" \
	"$(sj defer -r 'map(select(.name == "COMMIT")) | sort_by(.start_ns) | .[0] | "\(.status_code) \(.attributes["error.type"])"')"

total=$((total + 2 + 4 + MAIN_SPANS + 2 + MAIN_SPANS + MAIN_SPANS + k + 2 + 4 + 9))
check "nothing dropped" "0 0 0 0 0" "$(get /metrics | awk '$1 ~ /^dbprobe_spans_dropped_total/ { printf "%s%s", s, $2; s = " " }')"
check "exporter: received == exported == spans at the receiver" "$total $total $total" \
	"$(metric dbprobe_spans_received_total) $(metric dbprobe_spans_exported_total) $(otlp_span_count)"
check "no span line twice" "$total" "$(otlp_jq -r 'map(.span_id) | unique | length')"
