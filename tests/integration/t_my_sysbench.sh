# The stock sysbench (linked with libmariadb) against a real MariaDB server: the calls recorded
# per statement add up to sysbench's own report of queries by type, exactly.
source "$(dirname "$0")/lib.sh"
need_mariadb || { fail "MariaDB server did not start"; exit 1; }

S=(--db-driver=mysql --mysql-socket="$MY_SOCKET" --mysql-user=dbprobe --mysql-db=sbtest
	--tables=1 --table-size=1000)
sysbench oltp_read_write "${S[@]}" cleanup >/dev/null 2>&1
sysbench oltp_read_write "${S[@]}" prepare >"$WORK/prep.out" 2>&1 || {
	fail "sysbench prepare"
	cat "$WORK/prep.out"
	exit 1
}

# reported TYPE: sysbench's "queries performed" count of that type.
reported() { awk -v t="$1:" '$1 == t { print $2 }' "$WORK/run.out"; }
# calls SUMMARY_REGEX: successful calls recorded under statements whose summary matches
# (sysbench reports failed queries apart, as "ignored errors").
calls() { get "/queries?limit=1000" | jq --arg r "$1" '[.queries[] | select(.summary | test($r)) | .calls - .errors] | add // 0'; }

start_exporter
agent sysbench oltp_point_select "${S[@]}" --events=400 --threads=2 --time=0 run >"$WORK/run.out" 2>&1
check "oltp_point_select: sysbench succeeds" 0 "$?"
check "oltp_point_select: 400 reads reported" 400 "$(reported read)"
wait_calls 400 >/dev/null
check "oltp_point_select: the point select counted as often as sysbench reports reads" \
	"$(reported read)" "$(query_field "SELECT c FROM sbtest1 WHERE id = ?" calls)"
check "oltp_point_select: 1 row each" 400 "$(query_field "SELECT c FROM sbtest1 WHERE id = ?" rows)"
check "oltp_point_select: 2 connections (threads) timed" 2 "$(get /agents | jq '.agents[0].connects')"
stop_exporter

start_exporter
# One thread: two would deadlock now and then, and sysbench retries such transactions.
agent sysbench oltp_read_write "${S[@]}" --events=60 --threads=1 --time=0 run >"$WORK/run.out" 2>&1
check "oltp_read_write: sysbench succeeds" 0 "$?"
total=$(reported total)
check "oltp_read_write: every query recorded" "$total" "$(wait_calls "$total")"
check "oltp_read_write: 60 transactions of 20 queries" 1200 "$total"
check "oltp_read_write: reads match" "$(reported read)" "$(calls '^SELECT')"
check "oltp_read_write: writes match" "$(reported write)" "$(calls '^(INSERT|UPDATE|DELETE)')"
check "oltp_read_write: other (BEGIN, COMMIT) match" "$(reported other)" "$(calls '^(BEGIN|COMMIT)$')"
check "oltp_read_write: 10 point selects a transaction" 600 \
	"$(query_field "SELECT c FROM sbtest1 WHERE id = ?" calls)"
check "oltp_read_write: range selects return their rows (100 each)" 6000 \
	"$(query_field "SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ?" rows)"
check "oltp_read_write: no errors, as sysbench says" "$(awk '$1 == "ignored" { print $3 }' "$WORK/run.out")" \
	"$(get /queries | jq '[.queries[].errors] | add')"
stop_exporter
sysbench oltp_read_write "${S[@]}" cleanup >/dev/null 2>&1
