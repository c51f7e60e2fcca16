# The stock psql over the Unix socket: its socket writes are labelled postgresql, and each
# statement's write_bytes in /queries is what its simple Query messages took on the wire.
source "$(dirname "$0")/lib.sh"
need_pg || { fail "PostgreSQL server did not start"; exit 1; }
start_exporter

# A simple Query message is 'Q', an int32 length, the text as psql sent it, a NUL: 6 bytes
# more than the raw text (not the normalized one). psql -c sends the string as given; psql -f
# sends each statement with its semicolon, spacing kept.
qmsg() {
	local n=0 s
	for s in "$@"; do n=$((n + 6 + ${#s})); done
	echo "$n"
}
c1="SELECT 1" c2="SELECT 12345" c3="select   7" c4="SELECT 'abc' AS t"
f1="SELECT 2 AS f;" f2="select  3   as   f ;"
printf '%s\n' "$f1" "$f2" >"$WORK/script.sql"

# The startup packet depends on the environment: these would add to it. stdin is not a tty,
# so psql asks for no client_encoding either.
run_psql() {
	env -u PGAPPNAME -u PGOPTIONS -u PGCLIENTENCODING DBPROBE_SOCKET="$EXP_SOCK" \
		LD_PRELOAD="$AGENT" psql -X -q "$@" </dev/null >/dev/null
}
run_psql -c "$c1" -c "$c2" -c "$c3" -c "$c4"
check "psql -c exits 0" 0 "$?"
run_psql -f "$WORK/script.sql"
check "psql -f exits 0" 0 "$?"
check "6 statements recorded" 6 "$(wait_calls 6)"

check "SELECT ?: 3 calls" 3 "$(query_field "SELECT ?" calls)"
check "SELECT ?: write_bytes of 3 raw texts of different lengths" "$(qmsg "$c1" "$c2" "$c3")" \
	"$(query_field "SELECT ?" write_bytes)"
check "SELECT ? AS t: write_bytes" "$(qmsg "$c4")" "$(query_field "SELECT ? AS t" write_bytes)"
check "psql -f statements: write_bytes with their semicolons" "$(qmsg "$f1" "$f2")" \
	"$(query_field "SELECT ? AS f" write_bytes)"
check "write_seconds counted" true "$(get "/queries?limit=1000" | jq '[.queries[] | .write_seconds > 0] | all')"

# Per connection: the startup packet (int32 length, int32 protocol, "user\0NAME\0",
# "database\0NAME\0", "application_name\0psql\0", a final NUL), the Query messages, and the
# Terminate message ('X', int32 length) that PQfinish sends.
startup=$((8 + 5 + ${#PGUSER} + 1 + 9 + ${#PGDATABASE} + 1 + 17 + 4 + 1 + 1))
peer="unix:$PG_DIR/.s.PGSQL.$PG_PORT"
q=$(qmsg "$c1" "$c2" "$c3" "$c4" "$f1" "$f2")
sock_total() {
	get /sockets | jq -r --arg p "$peer" --arg d "$1" '[.sockets[] |
		select(.service_name == "psql" and .peer == $p and .direction == "outbound" and
		       ($d == "*" or .db_system_name == $d))] |
		"\(map(.calls) | add // 0) \(map(.bytes) | add // 0)"'
}
check "all writes to the server: 2 connections x (startup + Terminate) + 6 queries" \
	"10 $((2 * startup + q + 2 * 5))" "$(sock_total '*')"
check "every one made inside a libpq call: labelled postgresql" \
	"10 $((2 * startup + q + 2 * 5))" "$(sock_total postgresql)"
check "no errors" "{}" "$(get /sockets | jq -c --arg p "$peer" \
	'[.sockets[] | select(.service_name == "psql" and .peer == $p) | .errors] | add')"
