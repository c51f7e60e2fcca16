# MySQL client usages that once fooled the agent (tests/clients/my_edge.c), each with what must
# be recorded, and that the program's outcome never changes.
source "$(dirname "$0")/lib.sh"
need_mariadb || { fail "MariaDB server did not start"; exit 1; }

# edge MODE: runs one mode under a fresh exporter (30 s at most: a hang is a failure).
edge() {
	stop_exporter
	start_exporter
	timeout 30 env DBPROBE_SOCKET="$EXP_SOCK" LD_PRELOAD="$AGENT" "$B/tests/my_edge" "$1" \
		"$MY_SOCKET" dbprobe dbprobe >"$WORK/out" 2>&1
	check "$1: the program's outcome is unchanged" "0|my_edge: ok" "$?|$(cat "$WORK/out")"
	sleep 0.3
	get "/queries?limit=1000" >"$WORK/q.json"
}
# row SQL: "calls|errors|rows|namespace" of a normalized statement
row() {
	jq -r --arg q "$1" '[.queries[] | select(.query == $q)] |
		if length == 0 then "absent" else "\(.[0].calls)|\(.[0].errors)|\(.[0].rows)|\(.[0].db_namespace)" end' \
		"$WORK/q.json"
}

edge minus1
check "minus1: a NUL-terminated text query" "1|0|1|dbprobe" "$(row "SELECT ? AS minus_one")"
check "minus1: a NUL-terminated prepare" "1|0|1|dbprobe" "$(row "SELECT ? AS minus_one_prepared")"

edge direct
check "direct: both execute_direct calls under their text, 3 rows each" "2|0|6|dbprobe" \
	"$(row "SELECT seq FROM seq_1_to_3 WHERE seq > ?")"
check "direct: the reused handle's old text only for its own execution" "1|0|1|dbprobe" \
	"$(row "SELECT ? AS x_text")"

edge reconnect
check "reconnect: the connection keeps its labels" "1|0|1|dbprobe|mariadb" \
	"$(jq -r '[.queries[] | select(.query == "SELECT ? AS r")] | .[0] | "\(.calls)|\(.errors)|\(.rows)|\(.db_namespace)|\(.db_system)"' "$WORK/q.json")"

edge use
check "use: the statement after USE runs in the new database" "1|0|1|dbprobe_use" \
	"$(row "SELECT ? AS after_use")"
check "use: USE itself ran in the old one" "1|0|0|dbprobe" "$(row "USE dbprobe_use")"
check "use: mysql_change_user moves it back" "1|0|1|dbprobe" "$(row "SELECT ? AS after_change_user")"

edge outofsync
for c in a b c; do
	check "outofsync: statement $c recorded once, no error" "1|0|1|dbprobe" "$(row "SELECT ? AS $c")"
done

edge proc
check "proc: a BEGIN ... END body is one statement" "1|0|0|dbprobe" \
	"$(row "CREATE PROCEDURE edge_p() BEGIN SELECT ? AS one; SELECT ? AS two UNION SELECT ?; END")"
check "proc: each CALL is one call, with all its rows" "2|0|6|dbprobe" "$(row "CALL edge_p()")"

edge udp
check "udp: thousands of other sockets leave the labels alone" "1|1|0|dbprobe" \
	"$(row "SELECT * FROM edge_missing")"
check "udp: and the error number" 1 "$(get /metrics | grep -c '_count{.*error_type="1146"')"

edge sigclose

edge callunread
check "callunread: CALLs whose status went unread are still recorded, with their rows" \
	"2|0|4|dbprobe" "$(row "CALL edge_p2()")"
check "callunread: the refused query is its own failure, without the CALL's rows" \
	"1|1|0|dbprobe" "$(row "SELECT ? AS oos")"
check "callunread: the next query" "1|0|1|dbprobe" "$(row "SELECT ? AS afterwards")"

edge compound
check "compound: END CASE closes the CASE, the statements after are split" "1|0|1|dbprobe" \
	"$(row "SELECT ? AS twenty")"
check "compound: and the last" "1|0|1|dbprobe" "$(row "SELECT ? AS twentyone")"
check "compound: END FOR does not end the body" absent "$(row "SELECT ? AS three")"
check "compound: the statement after it" "1|0|1|dbprobe" "$(row "SELECT ? AS thirty")"
check "compound: a column named begin is a name" "1|0|2|dbprobe" "$(row "SELECT \`begin\` FROM edge_b")"
check "compound: the statement after it" "1|0|1|dbprobe" "$(row "SELECT ? AS five")"
