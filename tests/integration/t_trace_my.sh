# Traces from the stock `mariadb` client and sysbench against a real MariaDB server, received
# by a real OTLP/HTTP collector (otlp_lib.sh). The CLI (its own static client library: the agent
# follows its bytes) gives exact spans and attributes of a known workload: a failure with its
# error number, transactions as parent spans, the connect span. sysbench (libmariadb, through
# the interposed API) runs a Lua script for sqlcommenter: the traceparent the server saw
# (PROCESSLIST.INFO) names a span that arrived; never on a prepared statement; and its
# oltp_read_write: one transaction span per event, parent of exactly its 20 statements.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/otlp_lib.sh"
need_mariadb || { fail "MariaDB server did not start"; exit 1; }
cli() { mariadb --no-defaults --socket="$MY_SOCKET" -udbprobe "$@"; }


Q="SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()"
TP_RE="00-([0-9a-f]{32})-([0-9a-f]{16})-01"

# ---- a known workload with the mariadb CLI ---------------------------------------------------

cat >"$WORK/work.sql" <<'EOF'
DROP TABLE IF EXISTS tr_items;
CREATE TABLE tr_items (id INT PRIMARY KEY, name VARCHAR(16)) ENGINE=InnoDB;
INSERT INTO tr_items VALUES (1, 'one');
INSERT INTO tr_items VALUES (2, 'two');
BEGIN;
INSERT INTO tr_items VALUES (3, 'three');
UPDATE tr_items SET name = 'uno' WHERE id = 1;
SELECT name FROM tr_items WHERE id <= 3;
DELETE FROM tr_items WHERE id = 2;
COMMIT;
START TRANSACTION;
INSERT INTO tr_items VALUES (4, 'four');
ROLLBACK;
SELECT * FROM tr_missing;
SELECT name FROM tr_items ORDER BY id;
DROP TABLE tr_items;
EOF
# 16 statements, 2 transactions, 1 connection.
otlp_traced
agent cli --force dbprobe <"$WORK/work.sql" >"$WORK/work.out" 2>"$WORK/work.err"
check "workload: the client ran it all, one statement failed" "0 1" \
	"$? $(grep -c "^ERROR 1146 (42S02) at line 14: Table 'dbprobe.tr_missing' doesn't exist$" "$WORK/work.err")"
otlp_wait_spans 19 >/dev/null
otlp_untraced
check "workload: exactly 19 spans (16 statements, 2 transactions, 1 connect)" 19 "$(otlp_span_count)"
# (START TRANSACTION shows as its text: its summary is not what this asserts.)
check "workload: statement spans in order, named by their summary" \
	"DROP TABLE tr_items,CREATE TABLE tr_items,INSERT tr_items,INSERT tr_items,BEGIN,INSERT tr_items,UPDATE tr_items,SELECT tr_items,DELETE tr_items,COMMIT,START TRANSACTION,INSERT tr_items,ROLLBACK,SELECT tr_missing,SELECT tr_items,DROP TABLE tr_items" \
	"$(otlp_sel '.name != "transaction" and .name != "connect"' -r \
		'map(if .attributes."db.query.text" == "START TRANSACTION" then "START TRANSACTION" else .name end) | join(",")')"
check "workload: every span is CLIENT (3)" "[3]" "$(otlp_jq -c 'map(.kind) | unique')"
check "workload: every span: mariadb, the namespace, the socket as address, no port" \
	"[[\"mariadb\",\"dbprobe\",\"$MY_SOCKET\",false]]" \
	"$(otlp_jq -c 'map(.attributes | [."db.system.name", ."db.namespace", ."server.address", has("server.port")]) | unique')"
check "workload: the resource is the client's" mariadb \
	"$(otlp_jq -r 'map(.resource."service.name") | unique | join(",")')"
check "workload: span ids all distinct" "$(otlp_span_count)" "$(otlp_jq 'map(.span_id) | unique | length')"
check "workload: statement spans: db.query.summary is the name, db.query.text is set" 0 \
	"$(otlp_sel '.name != "transaction" and .name != "connect"' \
		'[.[] | select(.attributes."db.query.summary" != .name or (.attributes."db.query.text" | type) != "string")] | length')"
check "workload: the update's normalized text" "UPDATE tr_items SET name = ? WHERE id = ?" \
	"$(otlp_attr "UPDATE tr_items" db.query.text)"
check "workload: returned rows: the select in the transaction, the last one" "3 2" \
	"$(otlp_sel '.name == "SELECT tr_items"' -r 'map(.attributes."db.response.returned_rows") | join(" ")')"
check "workload: one span with status ERROR (2): the missing table" "SELECT tr_missing" \
	"$(otlp_sel '.status_code == 2' -r 'map(.name) | join(",")')"
check "workload: its error.type and db.response.status_code: 1146" "1146 1146" \
	"$(otlp_sel '.name == "SELECT tr_missing"' -r '.[0].attributes | "\(."error.type") \(."db.response.status_code")"')"
check "workload: no error.type on the others" 0 \
	"$(otlp_sel '.status_code != 2 and (.attributes | has("error.type"))' 'length')"
check "workload: one connect span, a root without statement text, before the first statement" \
	"1 true" "$(otlp_jq -r 'map(select(.name == "connect")) as $c |
		"\($c | length) \($c[0].parent_span_id == "" and ($c[0].attributes | has("db.query.text") | not) and
			$c[0].end_ns <= (map(select(.name != "connect") | .start_ns) | min))"')"
# Transactions: a span each, parent of its statements (BEGIN / START TRANSACTION and COMMIT /
# ROLLBACK included), in its trace.
mapfile -t txids < <(otlp_sel '.name == "transaction"' -r '.[].span_id')
check "workload: 2 transaction spans, roots, outcomes commit then rollback" "2 2 commit,rollback" \
	"${#txids[@]} $(otlp_sel '.name == "transaction"' -r \
		'"\(map(select(.parent_span_id == "")) | length) \(map(.attributes."db.transaction.outcome") | join(","))"')"
children() { otlp_sel ".parent_span_id == \"$1\"" -r 'map(.attributes."db.query.text") | join(",")'; }
check "workload: transaction 1's children" \
	"BEGIN,INSERT INTO tr_items VALUES (?, ?),UPDATE tr_items SET name = ? WHERE id = ?,SELECT name FROM tr_items WHERE id <= ?,DELETE FROM tr_items WHERE id = ?,COMMIT" \
	"$(children "${txids[0]:-x}")"
check "workload: transaction 2's children" "START TRANSACTION,INSERT INTO tr_items VALUES (?, ?),ROLLBACK" \
	"$(children "${txids[1]:-x}")"
check "workload: each transaction's children share its trace id" 0 \
	"$(otlp_jq '(map(select(.name == "transaction")) | map({key: .span_id, value: .trace_id}) | from_entries) as $t |
		[.[] | select(.parent_span_id != "" and $t[.parent_span_id] != .trace_id)] | length')"
check "workload: statements outside transactions are roots, each its own trace" "7 7" \
	"$(otlp_sel '.name != "transaction" and .name != "connect" and .parent_span_id == ""' -r \
		'"\(length) \(map(.trace_id) | unique | length)"')"

# ---- sqlcommenter, through libmariadb (sysbench) --------------------------------------------

# One event of a script: each line it prints is TAG|what the server saw (or sysbench's answer).
cat >"$WORK/sc.lua" <<EOF
local Q = "$Q"
function event()
	local con = sysbench.sql.driver():connect()
	local function seen(tag, sql, col) print(tag .. "|" .. tostring(con:query(sql):fetch_row()[col or 1])) end
	seen("text", Q)
	seen("semi", Q .. " ;  ")
	seen("mine", Q .. " /* mine */")
	seen("hash", Q .. " # mine")
	seen("quoted", "SELECT '#x -- /* y */' AS s, INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()", 2)
	con:query("BEGIN")
	seen("txn", Q)
	con:query("COMMIT")
	-- A prepared statement (mysql_stmt_prepare / mysql_stmt_execute) stores what the server saw
	-- in tr_seen, read by the CLI afterwards (sysbench 1.0.20 crashes at exit when a result is
	-- fetched after a prepared statement's execution on the same connection).
	con:query("DELETE FROM tr_seen")
	local st = con:prepare("INSERT INTO tr_seen SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
	st:execute()
	st:close()
	print("done|1")
	con:disconnect()
end
EOF
cli dbprobe -e "DROP TABLE IF EXISTS tr_seen; CREATE TABLE tr_seen (q TEXT)"
sb() {
	agent sysbench --db-driver=mysql --mysql-socket="$MY_SOCKET" --mysql-user=dbprobe \
		--mysql-db=dbprobe --events=1 --threads=1 --time=0 "$WORK/sc.lua" run >"$WORK/sb.out" 2>&1
	echo "rc|$?"
	grep -E '^(text|semi|mine|hash|quoted|txn|done)\|' "$WORK/sb.out"
	echo "prepared|$(cli -N dbprobe -e "SELECT q FROM tr_seen")"
}
# line TAG: the server's text for TAG; tp_of TEXT: "TRACE SPAN" of its traceparent ("none").
line() { sed -n "s/^$1|//p" "$WORK/sc.out"; }
tp_of() {
	if [[ $1 =~ /\*traceparent=\'$TP_RE\'\*/ ]]; then echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"; else echo none; fi
}
span_of() {
	otlp_jq -r --arg t "$1" --arg s "$2" \
		'.[] | select(.trace_id == $t and .span_id == $s) | "\(.name)|\(.parent_span_id)|\(.attributes."db.query.text")"'
}

otlp_traced
DBPROBE_SQLCOMMENT=1 sb >"$WORK/sc.out"
check "sqlcomment: sysbench ran the script" "0 done|1" "$(line rc) $(grep '^done|' "$WORK/sc.out")"
read -r t1 s1 <<<"$(tp_of "$(line text)")"
check "sqlcomment: the server saw the statement with the traceparent at its end" \
	"$Q /*traceparent='00-$t1-$s1-01'*/" "$(line text)"
read -r t2 s2 <<<"$(tp_of "$(line semi)")"
# (The server drops a statement's trailing ';' and blanks: the comment was before them.)
check "sqlcomment: before the trailing ';' and blanks" "$Q /*traceparent='00-$t2-$s2-01'*/" "$(line semi)"
check "sqlcomment: a statement with its own /* */ comment arrives unchanged" "$Q /* mine */" "$(line mine)"
check "sqlcomment: a statement with its own # comment arrives unchanged" "$Q # mine" "$(line hash)"
read -r t3 s3 <<<"$(tp_of "$(line quoted)")"
check "sqlcomment: comment markers inside quotes are no comment: it is added" \
	"SELECT '#x -- /* y */' AS s, INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID() /*traceparent='00-$t3-$s3-01'*/" \
	"$(line quoted)"
read -r t4 s4 <<<"$(tp_of "$(line txn)")"
check "sqlcomment: a prepared statement arrives unchanged" \
	"INSERT INTO tr_seen SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()" \
	"$(line prepared)"
sb >"$WORK/plain.out"
check "without DBPROBE_SQLCOMMENT nothing is added" "$Q" "$(sed -n 's/^text|//p' "$WORK/plain.out")"
# 2 runs x (connect, 5 + 3 + 1 + 1 statements, 1 transaction); the prepare is no span.
otlp_wait_spans 24 >/dev/null
otlp_untraced
check "sqlcomment: 24 spans from the two runs" 24 "$(otlp_span_count)"
check "sqlcomment: the span with the comment's ids: name, a root, the program's own text" \
	"SELECT information_schema.PROCESSLIST||$Q" "$(span_of "$t1" "$s1")"
check "sqlcomment: ';' case: its span" "SELECT information_schema.PROCESSLIST||$Q" "$(span_of "$t2" "$s2")"
check "sqlcomment: quotes case: its span" \
	"SELECT information_schema.PROCESSLIST||SELECT ? AS s, INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()" \
	"$(span_of "$t3" "$s3")"
txn=$(otlp_jq -r --arg t "$t4" '.[] | select(.trace_id == $t and .name == "transaction") | .span_id')
check "sqlcomment: in a transaction: the span is its child, in its trace" \
	"SELECT information_schema.PROCESSLIST|${txn:-none}|$Q" "$(span_of "$t4" "$s4")"
check "sqlcomment: the prepared statement's executions: spans, no comment" \
	"INSERT INTO tr_seen SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()" \
	"$(otlp_sel '.name == "INSERT tr_seen SELECT information_schema.PROCESSLIST"' -r 'map(.attributes."db.query.text") | unique | join(",")')"
check "sqlcomment: no span's text has a traceparent comment" 0 \
	"$(otlp_jq '[.[] | select(.attributes."db.query.text" // "" | test("traceparent"))] | length')"
cli dbprobe -e "DROP TABLE tr_seen"

# ---- sysbench oltp_read_write: transactions -------------------------------------------------

E=40
S=(--db-driver=mysql --mysql-socket="$MY_SOCKET" --mysql-user=dbprobe --mysql-db=sbtest
	--tables=1 --table-size=1000)
sysbench oltp_read_write "${S[@]}" cleanup >/dev/null 2>&1
if sysbench oltp_read_write "${S[@]}" prepare >"$WORK/prep.out" 2>&1; then
	otlp_traced
	# One thread: two would deadlock now and then, and sysbench retries such transactions.
	agent sysbench oltp_read_write "${S[@]}" --events=$E --threads=1 --time=0 run >"$WORK/run.out" 2>&1
	check "oltp_read_write: sysbench succeeds" 0 "$?"
	otlp_wait_spans $((E * 21 + 1)) 10 >/dev/null
	otlp_untraced
	check "oltp_read_write: $E transactions x (20 statements + its span) + 1 connect" \
		$((E * 21 + 1)) "$(otlp_span_count)"
	check "oltp_read_write: $E transaction spans, each parent of exactly 20, all committed" \
		"[[20,$E,\"commit\"]]" \
		"$(otlp_jq -c '. as $a | map(select(.name == "transaction") | . as $x |
			[([$a[] | select(.parent_span_id == $x.span_id)] | length), .attributes."db.transaction.outcome"]) |
			group_by(.) | map([.[0][0], length, .[0][1]])')"
	check "oltp_read_write: every statement is in a transaction" 0 \
		"$(otlp_sel '.name != "transaction" and .name != "connect" and .parent_span_id == ""' length)"
	check "oltp_read_write: the point select: 10 a transaction, 1 row each" "$((E * 10)) $((E * 10))" \
		"$(otlp_sel '.attributes."db.query.text" == "SELECT c FROM sbtest1 WHERE id = ?"' -r \
			'"\(length) \(map(select(.attributes."db.response.returned_rows" == 1)) | length)"')"
else
	fail "sysbench prepare"
	cat "$WORK/prep.out"
fi
sysbench oltp_read_write "${S[@]}" cleanup >/dev/null 2>&1

# ---- a BEGIN inside a transaction: MySQL commits the open one first; one left open at exit is
# rolled back when the connection closes.
otlp_traced
agent cli dbprobe -e "BEGIN; SELECT 1; BEGIN; SELECT 2" >/dev/null 2>"$WORK/nested.err"
check "nested BEGIN: the client exits 0" 0 "$?"
otlp_wait_spans 7 >/dev/null
otlp_untraced
check "nested BEGIN: two transactions, the first committed, the second rolled back at close" \
	"commit rollback" \
	"$(otlp_jq -r 'map(select(.name == "transaction")) | sort_by(.start_ns) | map(.attributes["db.transaction.outcome"]) | join(" ")')"
check "nested BEGIN: each transaction has its BEGIN and its SELECT" "2 2" \
	"$(otlp_jq -r '. as $all | map(select(.name == "transaction")) | sort_by(.start_ns) |
		map(.span_id as $t | $all | map(select(.parent_span_id == $t)) | length) | join(" ")')"
