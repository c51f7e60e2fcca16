# libpq usages that once fooled the agent (tests/clients/pq_edge.c), each with what must be
# recorded: exact calls, errors, rows, and durations that end with the statement.
source "$(dirname "$0")/lib.sh"
need_pg || { fail "PostgreSQL server did not start"; exit 1; }
pg_via unix

# edge MODE: runs one mode under a fresh exporter; its /queries land in $WORK/q.json.
edge() {
	stop_exporter
	start_exporter
	agent "$B/tests/pq_edge" "$1" "$PG_CONNINFO" >"$WORK/out" 2>&1
	check "$1: the program's outcome is unchanged" "pq_edge: ok" "$(cat "$WORK/out")"
	sleep 0.3
	get "/queries?limit=1000" >"$WORK/q.json"
}
# row SQL: "calls|errors|rows" of a normalized statement
row() {
	jq -r --arg q "$1" '[.queries[] | select(.query == $q)] |
		if length == 0 then "absent" else "\(.[0].calls)|\(.[0].errors)|\(.[0].rows)" end' \
		"$WORK/q.json"
}

edge strings
check "strings: a failed prepare still reads as an error with the string table full" "1|1|0" \
	"$(row "SELEC ?")"
check "strings: a failed query too" "1|1|0" "$(row "SELECT * FROM edge_no_such_table")"

edge held
check "held: a COPY whose final NULL was never taken is recorded, with its rows" "1|0|3" \
	"$(row "COPY edge_copy FROM STDIN")"
check "held: a statement ends with its last result, not with a NULL taken 300 ms later" 1 \
	"$(jq '[.queries[] | select(.query == "SELECT ?") | select(.max_ms < 100)] | length' "$WORK/q.json")"

edge reprepare
check "reprepare: executions keep the text the server still has" "6|0|6" "$(row "SELECT ?")"
check "reprepare: the duplicate name is a failed prepare (42P05)" "1|1|0" "$(row "SELECT ?, ?")"
check "reprepare: the syntax error too" "1|1|0" "$(row "SELEC ?")"

edge describe
check "describe: a refused describe shifts nothing (1 + SELECT 42)" "2|0|2" "$(row "SELECT ?")"
check "describe: pipeline of 2" "2|0|2" "$(row "SELECT ?, ?")"
check "describe: pipeline of 3" "3|0|3" "$(row "SELECT ?, ?, ?")"

edge split
check "split: a BEGIN ATOMIC body is one statement" "1|0|0" \
	"$(row "CREATE OR REPLACE FUNCTION edge_f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT ?; SELECT ?; END")"
check "split: and the statement after it has its own rows" "1|0|3" \
	"$(row "SELECT ?, ?, g FROM generate_series(?, ?) g")"
check "split: COPY TO STDOUT after a SELECT returns its rows" "1|0|5" "$(row "COPY edge_rv TO STDOUT")"
check "split: single-row mode keeps rows with their statement" "1|0|5" \
	"$(row "SELECT ?, g FROM generate_series(?, ?) g")"
check "split: '#' is an operator, in the split" "3|0|3" "$(row "SELECT ?")"
check "split: and in the normalized text" "1|0|1" "$(row "SELECT ? # ?")"

edge unnamed
check "unnamed: PQexecPrepared(\"\") runs what PQexecParams left there" "2|0|2" "$(row "SELECT ?, ?")"
check "unnamed: DISCARD ALL forgets SQL-level names" "1|1|0" "$(row "EXECUTE edge_u")"

edge encoding
check "encoding: libpq's own SET is not the program's" absent "$(row "SET client_encoding TO ?")"
check "encoding: the program's statement is" "1|0|1" "$(row "SELECT ?")"
