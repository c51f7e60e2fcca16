# Failed socket writes: counted as calls with no bytes, under their errno's name, exactly as
# often as the program saw them fail; in /sockets and as dbprobe_socket_write_errors_total.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
start_exporter

# row SERVICE PEER: "CALLS BYTES ERRORS" of its outbound series, ERRORS as sorted JSON.
row() {
	get /sockets | jq -r --arg s "$1" --arg p "$2" '[.sockets[] |
		select(.service_name == $s and .peer == $p and .direction == "outbound")] |
		if length == 0 then "absent" else .[0] |
		"\(.calls) \(.bytes) \(.errors | to_entries | sort_by(.key) | from_entries | tojson)" end'
}

# errs NAME=N...: the errors object expected, the names with a zero count left out.
errs() {
	local kv out=
	for kv in "$@"; do
		[[ ${kv#*=} == 0 ]] && continue
		out+="${out:+,}\"${kv%%=*}\":${kv#*=}"
	done
	echo "{$out}"
}

D=$WORK/net
mkdir "$D"
OTEL_SERVICE_NAME=net_errors agent timeout 60 "$B/tests/net_client" errors "$D" >"$WORK/out"
check "net_client errors exits 0" 0 "$?"
check "net_client errors says ok" "net_client: ok" "$(tail -1 "$WORK/out")"
sleep 1.1 # shipped at exit: within a second

# Unix: the server closed first; 3 sends with MSG_NOSIGNAL, then (SIGPIPE ignored) a write, a
# writev, a sendto and a sendmsg: 7 calls, every one EPIPE.
check "Unix, peer gone: 7 calls, 0 bytes, EPIPE 7" '7 0 {"EPIPE":7}' \
	"$(row net_errors "unix:$(kv epipe_path)")"
# TCP: sends until 3 failed (the first may still go out, before the reset comes back).
ok=$(kv tcp_ok) ep=$(kv tcp_epipe) rs=$(kv tcp_reset)
check "TCP, peer gone: $ok sent, EPIPE $ep, ECONNRESET $rs" \
	"$((ok + ep + rs)) $(kv tcp_bytes) $(errs ECONNRESET="$rs" EPIPE="$ep")" \
	"$(row net_errors "127.0.0.1:$(kv tcp_port)")"
# Non-blocking, the server never reads: sends of 4096 until the first EAGAIN, then 2 sends, a
# write and a writev: 5 EAGAIN.
ok=$(kv full_ok)
check "full non-blocking socket: $ok sent, then EAGAIN 5" \
	"$((ok + 5)) $(kv full_bytes) {\"EAGAIN\":5}" "$(row net_errors "unix:$(kv full_path)")"
# Connected UDP to a port closed since: sends until the port unreachable answer fails one.
ok=$(kv udp_ok) rf=$(kv udp_refused)
check "UDP, port closed: $ok sent, ECONNREFUSED $rf" \
	"$((ok + rf)) $((ok * 50)) $(errs ECONNREFUSED="$rf")" \
	"$(row net_errors "127.0.0.1:$(kv udp_port)")"
check "no other peers" 4 "$(get /sockets | jq '[.sockets[] | select(.service_name == "net_errors")] | length')"

m=$(get /metrics)
labels="service_name=\"net_errors\",peer=\"unix:$(kv epipe_path)\",direction=\"outbound\",db_system_name=\"\""
check "metrics: EPIPE counter" 1 \
	"$(grep -cxF "dbprobe_socket_write_errors_total{$labels,error_type=\"EPIPE\"} 7" <<<"$m")"
check "metrics: failed calls are calls" 1 \
	"$(grep -cxF "dbprobe_socket_write_calls_total{$labels} 7" <<<"$m")"
check "metrics: and write no bytes" 1 "$(grep -cxF "dbprobe_socket_write_bytes_total{$labels} 0" <<<"$m")"
labels="service_name=\"net_errors\",peer=\"unix:$(kv full_path)\",direction=\"outbound\",db_system_name=\"\""
check "metrics: EAGAIN counter" 1 \
	"$(grep -cxF "dbprobe_socket_write_errors_total{$labels,error_type=\"EAGAIN\"} 5" <<<"$m")"
check_cmd "promtool check metrics passes" promtool check metrics <<<"$m"
