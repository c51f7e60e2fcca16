# Traces from the stock psql and pgbench against a real PostgreSQL server, received by a real
# OTLP/HTTP collector (otlp_lib.sh): exact spans and attributes of a known psql workload over
# TLS (statements, a failure, transactions as parent spans, the connect span), W3C context in
# (TRACEPARENT) and the sampler, pgbench -S with one span per select and nothing dropped, and
# sqlcommenter: the traceparent the server saw (pg_stat_activity) names a span that arrived.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/otlp_lib.sh"
need_pg || { fail "PostgreSQL server did not start"; exit 1; }


Q="SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()"
QRE=${Q//(/\\(} QRE=${QRE//)/\\)} # as an extended regular expression
TP_RE="00-([0-9a-f]{32})-([0-9a-f]{16})-01"

# ---- a known psql workload over TLS -------------------------------------------------------

pg_via tls
cat >"$WORK/work.sql" <<'EOF'
DROP TABLE IF EXISTS tr_items;
CREATE TABLE tr_items (id int PRIMARY KEY, name text);
INSERT INTO tr_items VALUES (1, 'one');
INSERT INTO tr_items VALUES (2, 'two');
BEGIN;
INSERT INTO tr_items VALUES (3, 'three');
UPDATE tr_items SET name = 'uno' WHERE id = 1;
SELECT name FROM tr_items WHERE id <= 3;
DELETE FROM tr_items WHERE id = 2;
COMMIT;
BEGIN;
INSERT INTO tr_items VALUES (4, 'four');
ROLLBACK;
SELECT * FROM tr_missing;
BEGIN;
INSERT INTO tr_items VALUES (5, 'five');
SELECT * FROM tr_missing;
COMMIT;
SELECT name FROM tr_items ORDER BY id;
DROP TABLE tr_items;
EOF
# 20 statements, 3 transactions, 1 connection.
otlp_traced
agent psql -X -q -f "$WORK/work.sql" >"$WORK/work.out" 2>"$WORK/work.err"
check "workload: psql exits 0 (-f goes on after errors)" 0 "$?"
otlp_wait_spans 24 >/dev/null
otlp_untraced
check "workload: exactly 24 spans (20 statements, 3 transactions, 1 connect)" 24 "$(otlp_span_count)"
check "workload: statement spans in order, named by their summary" \
	"DROP TABLE tr_items,CREATE TABLE tr_items,INSERT tr_items,INSERT tr_items,BEGIN,INSERT tr_items,UPDATE tr_items,SELECT tr_items,DELETE tr_items,COMMIT,BEGIN,INSERT tr_items,ROLLBACK,SELECT tr_missing,BEGIN,INSERT tr_items,SELECT tr_missing,COMMIT,SELECT tr_items,DROP TABLE tr_items" \
	"$(otlp_sel '.name != "transaction" and .name != "connect"' -r 'map(.name) | join(",")')"
check "workload: every span is CLIENT (3)" "[3]" "$(otlp_jq -c 'map(.kind) | unique')"
check "workload: every span: system, namespace, server address and port (TCP)" \
	"[[\"postgresql\",\"dbprobe\",\"127.0.0.1\",$PG_PORT]]" \
	"$(otlp_jq -c 'map(.attributes | [."db.system.name", ."db.namespace", ."server.address", ."server.port"]) | unique')"
check "workload: the resource is psql's" "psql" "$(otlp_jq -r 'map(.resource."service.name") | unique | join(",")')"
check "workload: span ids all distinct" "$(otlp_span_count)" "$(otlp_jq 'map(.span_id) | unique | length')"
check "workload: no span ends before it starts" 0 \
	"$(otlp_jq '[.[] | select(.end_ns < .start_ns or (.end_ns | length) != (.start_ns | length))] | length')"
check "workload: statement spans: db.query.summary is the name, db.query.text is set" 0 \
	"$(otlp_sel '.name != "transaction" and .name != "connect"' \
		'[.[] | select(.attributes."db.query.summary" != .name or (.attributes."db.query.text" | type) != "string")] | length')"
check "workload: the update's normalized text" "UPDATE tr_items SET name = ? WHERE id = ?" \
	"$(otlp_attr "UPDATE tr_items" db.query.text)"
check "workload: returned rows of the select inside the transaction" 3 \
	"$(otlp_sel '.attributes."db.query.text" == "SELECT name FROM tr_items WHERE id <= ?"' -r '.[0].attributes."db.response.returned_rows"')"
check "workload: returned rows of the last select (1 and 3: the rest rolled back)" 2 \
	"$(otlp_sel '.attributes."db.query.text" == "SELECT name FROM tr_items ORDER BY id"' -r '.[0].attributes."db.response.returned_rows"')"

# The two failures, and nothing else failed.
check "workload: 2 spans with status ERROR (2), both the missing table" "SELECT tr_missing,SELECT tr_missing" \
	"$(otlp_sel '.status_code == 2' -r 'map(.name) | join(",")')"
check "workload: the failures: error.type and db.response.status_code 42P01" '[["42P01","42P01"]]' \
	"$(otlp_sel '.name == "SELECT tr_missing"' -c 'map(.attributes | [."error.type", ."db.response.status_code"]) | unique')"
check "workload: no error.type on the others" 0 \
	"$(otlp_sel '.status_code != 2 and (.attributes | has("error.type"))' 'length')"

# The connect span: one, a root of its own, before the first statement, no statement text.
check "workload: one connect span" 1 "$(otlp_sel '.name == "connect"' 'length')"
check "workload: connect: a root without db.query.text" '["",false]' \
	"$(otlp_sel '.name == "connect"' -c '.[0] | [.parent_span_id, (.attributes | has("db.query.text"))]')"
check "workload: connect ends before the first statement starts" true \
	"$(otlp_jq 'map(select(.name == "connect"))[0].end_ns <= (map(select(.name != "connect") | .start_ns) | min)')"

# (Times are decimal strings of nanoseconds, all 19 digits: compared as strings, or in bash,
# since jq's numbers are doubles.)
# Transactions: a span each, parent of its statements (BEGIN and COMMIT/ROLLBACK included), in
# its trace, from BEGIN's start to (at least) the end's end.
mapfile -t txids < <(otlp_sel '.name == "transaction"' -r '.[].span_id')
check "workload: 3 transaction spans, roots" "3 3" \
	"${#txids[@]} $(otlp_sel '.name == "transaction" and .parent_span_id == ""' 'length')"
children() { otlp_sel ".parent_span_id == \"$1\"" -r 'map(.name) | join(",")'; }
check "workload: transaction 1's children" \
	"BEGIN,INSERT tr_items,UPDATE tr_items,SELECT tr_items,DELETE tr_items,COMMIT" "$(children "${txids[0]:-x}")"
check "workload: transaction 2's children" "BEGIN,INSERT tr_items,ROLLBACK" "$(children "${txids[1]:-x}")"
check "workload: transaction 3's children" "BEGIN,INSERT tr_items,SELECT tr_missing,COMMIT" \
	"$(children "${txids[2]:-x}")"
check "workload: each transaction's children share its trace id" 0 \
	"$(otlp_jq '(map(select(.name == "transaction")) | map({key: .span_id, value: .trace_id}) | from_entries) as $t |
		[.[] | select(.parent_span_id != "" and $t[.parent_span_id] != .trace_id)] | length')"
# (Ticks become nanoseconds batch by batch, and the sender refines the tick rate between
# batches: a transaction's record and its BEGIN's, sent in different batches, may read the same
# tick a few nanoseconds apart. A microsecond is far below any statement's duration here.)
bad=0
while read -r ts cs te ce; do
	((ts >= cs - 1000 && ts <= cs + 1000 && te >= ce - 1000)) || bad=$((bad + 1))
done < <(otlp_jq -r '. as $all | .[] | select(.name == "transaction") | . as $x |
	[$all[] | select(.parent_span_id == $x.span_id)] as $c |
	"\($x.start_ns) \($c | map(.start_ns) | min) \($x.end_ns) \($c | map(.end_ns) | max)"')
check "workload: a transaction starts with its BEGIN and contains all its statements" 0 "$bad"
check "workload: transactions' attributes: system, namespace, server" \
	"[[\"postgresql\",\"dbprobe\",\"127.0.0.1\",$PG_PORT]]" \
	"$(otlp_sel '.name == "transaction"' -c 'map(.attributes | [."db.system.name", ."db.namespace", ."server.address", ."server.port"]) | unique')"
# The third one's COMMIT came after a failed statement: PostgreSQL rolled it back (the COMMIT
# answers with the command tag ROLLBACK), so its outcome is rollback.
check "workload: outcomes: commit, rollback, rollback (COMMIT of an aborted transaction)" \
	"commit,rollback,rollback" \
	"$(otlp_sel '.name == "transaction"' -r 'map(.attributes."db.transaction.outcome") | join(",")')"
check "workload: statements outside transactions are roots, each its own trace" "7 7" \
	"$(otlp_sel '.name != "transaction" and .name != "connect" and .parent_span_id == ""' -r \
		'"\(length) \(map(.trace_id) | unique | length)"')"
check "workload: 11 traces: the connect's, the 7 roots', the 3 transactions'" 11 \
	"$(otlp_jq 'map(.trace_id) | unique | length')"

# ---- W3C context in, and the sampler --------------------------------------------------------

pg_via unix
TRACE=0af7651916cd43dd8448eb211c80319c PARENT=b7ad6b7169203331
otlp_traced
TRACEPARENT=00-$TRACE-$PARENT-01 TRACESTATE=vendor=x agent psql -X -q -c 'SELECT 1 AS tp' >/dev/null
otlp_wait_spans 2 >/dev/null
otlp_untraced
check "TRACEPARENT: connect and the statement, children of the given span in its trace" \
	"connect $TRACE $PARENT vendor=x|SELECT $TRACE $PARENT vendor=x" \
	"$(otlp_sel 'true' -r 'map("\(.name) \(.trace_id) \(.parent_span_id) \(.trace_state)") | join("|")')"
check "TRACEPARENT: over the Unix socket, server.address is the socket's directory" "$PG_DIR" \
	"$(otlp_attr SELECT server.address)"

otlp_traced
TRACEPARENT=00-$TRACE-$PARENT-00 agent psql -X -q -c 'SELECT 2 AS unsampled' -c 'SELECT * FROM tr_missing' \
	>/dev/null 2>&1
OTEL_TRACES_SAMPLER=always_off agent psql -X -q -c 'SELECT 3 AS off' -c 'SELECT * FROM tr_missing2' \
	>/dev/null 2>&1
otlp_wait_spans 2 >/dev/null
otlp_untraced
check "unsampled parent, always_off: only the failed statements are exported" \
	"SELECT tr_missing,SELECT tr_missing2" "$(otlp_sel 'true' -r 'map(.name) | join(",")')"
check "unsampled parent: the failure kept stays in the parent's trace" "$TRACE $PARENT" \
	"$(otlp_sel '.name == "SELECT tr_missing"' -r '.[0] | "\(.trace_id) \(.parent_span_id)"')"

# ---- pgbench: one span per select, none lost ------------------------------------------------

N=3000
pgbench -i -q -s 1 >"$WORK/init.out" 2>&1 || { fail "pgbench -i"; cat "$WORK/init.out"; }
otlp_traced
agent pgbench -S -n -c 1 -t $N >"$WORK/bench.out" 2>&1
check "pgbench: succeeds" 0 "$?"
check "pgbench: ran every transaction" 1 \
	"$(grep -c "number of transactions actually processed: $N/$N" "$WORK/bench.out")"
otlp_wait_spans $((N + 2)) 10 >/dev/null
# Until the exporter has handed over all it received (it keeps counting while we look).
for _ in $(seq 100); do
	m=$(get /metrics)
	rcv=$(awk '$1 == "dbprobe_spans_received_total" { print $2 }' <<<"$m")
	exp=$(awk '$1 == "dbprobe_spans_exported_total" { print $2 }' <<<"$m")
	[[ -n $rcv && $rcv == "$exp" && $rcv == "$(otlp_span_count)" ]] && break
	sleep 0.1
done
check "pgbench: spans received == exported == what the collector got" "$rcv $rcv" "$exp $(otlp_span_count)"
check "pgbench: nothing dropped, for any reason" "0" \
	"$(grep '^dbprobe_spans_dropped_total{' <<<"$m" | awk '{ s += $2 } END { print s + 0 }')"
check "pgbench: the five drop reasons are all there" 5 "$(grep -c '^dbprobe_spans_dropped_total{' <<<"$m")"
otlp_untraced
check "pgbench: exactly $N spans of its select" $N "$(otlp_sel '.name == "SELECT pgbench_accounts"' length)"
check "pgbench: the select's text" "SELECT abalance FROM pgbench_accounts WHERE aid = ?" \
	"$(otlp_attr "SELECT pgbench_accounts" db.query.text)"
check "pgbench: each select its own trace, its own span, one row, no error" "$N $N $N 0" \
	"$(otlp_sel '.name == "SELECT pgbench_accounts"' -r '"\(map(.trace_id) | unique | length) \(map(.span_id) | unique | length) \(map(select(.attributes."db.response.returned_rows" == 1)) | length) \(map(select(.status_code != 0)) | length)"')"
check "pgbench: two connections (its setup and its client)" 2 "$(otlp_sel '.name == "connect"' length)"

# ---- sqlcommenter ---------------------------------------------------------------------------

# span_of TRACE SPAN: "NAME|PARENT|TEXT" of the spans with these ids, one a line.
span_of() {
	otlp_jq -r --arg t "$1" --arg s "$2" \
		'.[] | select(.trace_id == $t and .span_id == $s) | "\(.name)|\(.parent_span_id)|\(.attributes."db.query.text")"'
}
# tp_of TEXT: "TRACE SPAN" of the one traceparent comment in TEXT ("none" without).
tp_of() {
	if [[ $1 =~ /\*traceparent=\'$TP_RE\'\*/ ]]; then echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"; else echo none; fi
}
sc() { DBPROBE_SQLCOMMENT=1 agent psql -X -A -t "$@" 2>&1; }

otlp_traced
out=$(sc -c "$Q")
check "sqlcomment: the server saw the statement with the traceparent at its end" 1 \
	"$(grep -cxE "$QRE /\*traceparent='$TP_RE'\*/" <<<"$out")"
read -r t1 s1 <<<"$(tp_of "$out")"
out2=$(sc -c "$Q ;  ")
check "sqlcomment: before the trailing ';' and blanks" 1 \
	"$(grep -cxE "$QRE /\*traceparent='$TP_RE'\*/ ;  " <<<"$out2")"
read -r t2 s2 <<<"$(tp_of "$out2")"
out=$(sc -c "$Q /* mine */")
check "sqlcomment: a statement with its own /* */ comment arrives unchanged" "$Q /* mine */" "$out"
out=$(sc -c "$Q -- mine")
check "sqlcomment: a statement with its own -- comment arrives unchanged" "$Q -- mine" "$out"
out=$(sc -c "SELECT \$\$d\$\$ AS s, query FROM pg_stat_activity WHERE pid = pg_backend_pid()")
check "sqlcomment: a statement with '\$' arrives unchanged" \
	"d|SELECT \$\$d\$\$ AS s, query FROM pg_stat_activity WHERE pid = pg_backend_pid()" "$out"
out=$(sc -c "SELECT '--x /* y */' AS s, query FROM pg_stat_activity WHERE pid = pg_backend_pid()")
read -r t3 s3 <<<"$(tp_of "$out")"
check "sqlcomment: comment markers inside quotes are no comment: it is added" \
	"--x /* y */|SELECT '--x /* y */' AS s, query FROM pg_stat_activity WHERE pid = pg_backend_pid() /*traceparent='00-$t3-$s3-01'*/" \
	"$out"
out=$(agent psql -X -A -t -c "$Q")
check "without DBPROBE_SQLCOMMENT nothing is added" "$Q" "$out"
# Inside a transaction: the statement's ids are in the transaction's trace.
out=$(sc -c "BEGIN" -c "$Q" -c "COMMIT")
read -r t4 s4 <<<"$(tp_of "$out")"
# One string of two statements: one comment, at the end; one of its two spans has the ids.
out=$(sc -c "SELECT 1 AS one; $Q")
read -r t5 s5 <<<"$(tp_of "$out")"
# A traceparent handed to the process: the comment is in its trace.
out=$(TRACEPARENT=00-$TRACE-$PARENT-01 sc -c "$Q")
read -r t6 s6 <<<"$(tp_of "$out")"
# SQL-level PREPARE / EXECUTE (simple queries): the EXECUTE carries a comment (its span is
# named after the prepared body); the body the server keeps must not carry one (it would name
# the PREPARE's span at every later EXECUTE).
cat >"$WORK/prep.sql" <<EOF
PREPARE tr_p AS $Q;
EXECUTE tr_p;
SELECT statement FROM pg_prepared_statements WHERE name = 'tr_p';
EOF
sc -q -f "$WORK/prep.sql" >"$WORK/prep.out"
exe=$(sed -n 1p "$WORK/prep.out")
read -r t7 s7 <<<"$(tp_of "$exe")"
check "sqlcomment: EXECUTE carries a comment" "EXECUTE tr_p /*traceparent='00-$t7-$s7-01'*/;" "$exe"
check "sqlcomment: the prepared body kept by the server has no comment" "PREPARE tr_p AS $Q;" \
	"$(sed -n 2p "$WORK/prep.out")"

# Protocol-level prepared statements never get one: pgbench's three query modes run a script
# that stores what the server saw (simple: PQsendQuery; extended: PQsendQueryParams;
# prepared: PQprepare + PQexecPrepared). No '$' in it, so only the protocol decides.
psql -X -q -c "DROP TABLE IF EXISTS tr_seen" -c "CREATE TABLE tr_seen (q text)" 2>/dev/null
echo "INSERT INTO tr_seen SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid();" >"$WORK/seen.sql"
SEEN="INSERT INTO tr_seen SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()"
for mode in simple extended prepared; do
	psql -X -q -c "TRUNCATE tr_seen"
	DBPROBE_SQLCOMMENT=1 agent pgbench -n -c 1 -t 1 -M $mode -f "$WORK/seen.sql" >"$WORK/seen.out" 2>&1 ||
		{ fail "sqlcomment: pgbench -M $mode"; cat "$WORK/seen.out"; }
	got=$(psql -X -A -t -c "SELECT q FROM tr_seen")
	if [[ $mode == simple ]]; then
		read -r t8 s8 <<<"$(tp_of "$got")"
		check "sqlcomment: pgbench -M simple: commented" "$SEEN /*traceparent='00-$t8-$s8-01'*/;" "$got"
	else
		check "sqlcomment: pgbench -M $mode: a prepared statement, unchanged" "$SEEN;" "$got"
	fi
done
psql -X -q -c "DROP TABLE tr_seen"
# 11 psql runs and 3 pgbench runs of 2 connections: 17 connect spans; 11 selects of
# pg_stat_activity, SELECT 1, PREPARE, the pg_prepared_statements select, 3 inserts, BEGIN,
# COMMIT and their transaction.
otlp_wait_spans 37 >/dev/null
otlp_untraced
check "sqlcomment: exactly 37 spans" 37 "$(otlp_span_count)"

check "sqlcomment: the span with the comment's ids: name, a root, the program's own text" \
	"SELECT pg_stat_activity||$Q" "$(span_of "$t1" "$s1")"
check "sqlcomment: ';' case: its span" "SELECT pg_stat_activity||$Q" "$(span_of "$t2" "$s2")"
check "sqlcomment: quotes case: its span" \
	"SELECT pg_stat_activity||SELECT ? AS s, query FROM pg_stat_activity WHERE pid = pg_backend_pid()" \
	"$(span_of "$t3" "$s3")"
txn=$(otlp_jq -r --arg t "$t4" '.[] | select(.trace_id == $t and .name == "transaction") | .span_id')
check "sqlcomment: in a transaction: the span is its child, in its trace" \
	"SELECT pg_stat_activity|${txn:-none}|$Q" "$(span_of "$t4" "$s4")"
check "sqlcomment: a two-statement string: exactly one of its spans has the ids" 1 \
	"$(span_of "$t5" "$s5" | grep -cxF -e "SELECT||SELECT ? AS one" -e "SELECT pg_stat_activity||$Q")"
check "sqlcomment: TRACEPARENT: the comment is in the given trace, its span a child of the parent" \
	"$TRACE SELECT pg_stat_activity|$PARENT|$Q" "$t6 $(span_of "$t6" "$s6")"
check "sqlcomment: EXECUTE's span has the ids, named after the body" "SELECT pg_stat_activity||$Q" \
	"$(span_of "$t7" "$s7")"
check "sqlcomment: pgbench -M simple: its span has the ids" "INSERT tr_seen SELECT pg_stat_activity||$SEEN" \
	"$(span_of "$t8" "$s8")"
check "sqlcomment: no span's text has a traceparent comment" 0 \
	"$(otlp_jq '[.[] | select(.attributes."db.query.text" // "" | test("traceparent"))] | length')"

# ---- a transaction still open when psql ends: PQfinish closes it, the server rolls it back --
otlp_traced
agent psql -X -q -c "BEGIN" -c "SELECT 1" >/dev/null 2>"$WORK/open.err"
check "open at exit: psql exits 0" 0 "$?"
otlp_wait_spans 4 >/dev/null
otlp_untraced
check "open at exit: connect, BEGIN, SELECT, and the transaction, rolled back" \
	"BEGIN SELECT connect transaction:rollback" \
	"$(otlp_jq -r 'sort_by(.start_ns, (.name != "transaction")) | map(.name + (if .name == "transaction" then ":" + .attributes["db.transaction.outcome"] else "" end)) | sort | join(" ")')"
check "open at exit: BEGIN and SELECT are the transaction's children" 2 \
	"$(otlp_jq -r '(map(select(.name == "transaction")) | .[0].span_id) as $t | map(select(.parent_span_id == $t)) | length')"
