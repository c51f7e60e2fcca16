# A hooked write() called from a signal handler while the main thread writes heavily to a
# socket: the program finishes (no deadlock) with its data intact, the main thread's writes
# are counted exactly, the handler's at most as often as they happened. First, without a
# handler, a writer busy across several of the agent's once-a-second shipments of totals.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
start_exporter

# row SERVICE PEER: "CALLS BYTES" of its outbound series (no database system), or "0 0".
row() {
	local r
	r=$(series "$1" | awk -v p="$2" '$1 == p && $2 == "outbound" && $3 == "-" { print $4, $5 }')
	echo "${r:-0 0}"
}

# 1000000 writes of 64 bytes to a Unix socket, for some seconds: the totals the agent ships
# while the writer counts must add up, at every shipment.
D=$WORK/none
mkdir "$D"
OTEL_SERVICE_NAME=net_flood agent timeout 60 "$B/tests/net_client" signal "$D" none 1000000 \
	>"$WORK/out"
check "flood: exits 0" 0 "$?"
check "flood: the consumer got every byte" "net_client: ok" "$(tail -1 "$WORK/out")"
check "flood: 1000000 writes of 64 bytes" 64000000 "$(kv main_bytes)"
wait_sockets net_flood "$(kv main_calls)" >/dev/null
check "flood: every write counted" "$(kv main_calls) $(kv main_bytes)" \
	"$(row net_flood "unix:$D/main.sock")"

# 200000 writes of 64 bytes to a Unix socket; every 1 ms a SIGALRM handler writes 32 bytes to
# another socket ("other") or to the same one ("same"). The consumer (a thread that takes no
# signals) must receive every byte: net_client checks that before saying ok.
for where in other same; do
	svc=net_signal_$where
	D=$WORK/$where
	mkdir "$D"
	OTEL_SERVICE_NAME=$svc agent timeout 60 "$B/tests/net_client" signal "$D" "$where" \
		>"$WORK/out"
	check "$where: exits 0 within 60 s (124: timed out)" 0 "$?"
	check "$where: the consumer got every byte" "net_client: ok" "$(tail -1 "$WORK/out")"
	mc=$(kv main_calls) mb=$(kv main_bytes) hc=$(kv handler_calls) hb=$(kv handler_bytes)
	check "$where: 200000 writes of 64 bytes" 12800000 "$mb"
	wait_sockets "$svc" "$mc" >/dev/null
	main="unix:$D/main.sock"
	if [[ $where == other ]]; then
		check "other: main thread's writes exact ($mc calls)" "$mc $mb" "$(row "$svc" "$main")"
		read -r c b <<<"$(row "$svc" "unix:$D/alarm.sock")"
		check_cmd "other: handler's writes at most those made ($c of $hc calls)" \
			test "$c" -le "$hc" -a "$b" -le "$hb" -a "$b" -eq $((c * 32))
	else
		read -r c b <<<"$(row "$svc" "$main")"
		check_cmd "same: main <= counted <= main + handler ($mc <= $c <= $((mc + hc)) calls)" \
			test "$c" -ge "$mc" -a "$c" -le $((mc + hc))
		check_cmd "same: bytes likewise ($mb <= $b <= $((mb + hb)))" \
			test "$b" -ge "$mb" -a "$b" -le $((mb + hb))
	fi
	check "$where: no errors, no other peers" "" \
		"$(series "$svc" | awk -v m="$main" -v a="unix:$D/alarm.sock" \
			'($1 != m && $1 != a) || $2 != "outbound" || $6 != "{}"')"
done
check "no frame rejected by the exporter" 0 \
	"$(metric 'dbprobe_decode_errors_total{reason="malformed"}')"
