# Socket writes through each hooked call (write, writev, send, sendto, sendmsg, sendmmsg) to
# each kind of peer, from a client that runs its own servers: exact calls and bytes per peer in
# /sockets and /metrics, inbound writes on accepted sockets, and nothing for files or pipes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
start_exporter

# series SERVICE: its /sockets series, one line each, sorted:
# "PEER DIRECTION DB_SYSTEM CALLS BYTES ERRORS" (DB_SYSTEM "-" for none, ERRORS as JSON).
# row SERVICE PEER DIRECTION: "CALLS BYTES ERRORS" of that series (no database system).
row() {
	local r
	r=$(series "$1" | awk -v p="$2" -v d="$3" '$1 == p && $2 == d && $3 == "-" { print $4, $5, $6 }')
	echo "${r:-absent}"
}

# wait_sockets SERVICE CALLS: until the service's series hold CALLS calls, at most 2 s (the
# agent ships socket totals every second and at exit). Prints the count reached.
# kv KEY: a key=value line of the client's output.
mkdir "$WORK/net"
OTEL_SERVICE_NAME=net_peers agent timeout 60 "$B/tests/net_client" peers "$WORK/net" >"$WORK/out"
check "net_client peers exits 0" 0 "$?"
check "net_client peers says ok" "net_client: ok" "$(tail -1 "$WORK/out")"

# One round is write 1000 + writev 600 + send 2000 + sendto 3000 + sendmsg 900 + sendmmsg 333
# (one call, two messages): 6 calls, 7833 bytes. TCP 1 round, IPv6 2, Unix 3, UDP 4.
# Unconnected UDP: sendto 300 + sendmsg 100 + sendmmsg 25 + 35 to its first destination.
# Inbound: write 777 on an accepted TCP socket; send 555 + writev 145 on an accepted Unix one.
total=$((6 + 12 + 18 + 24 + 3 + 1 + 1 + 2))
check "all $total socket writes shipped at exit" "$total" "$(wait_sockets net_peers "$total")"

tcp4="127.0.0.1:$(kv tcp4_port)"
tcp6="[::1]:$(kv tcp6_port)"
unix="unix:$(kv unix_path)"
udp="127.0.0.1:$(kv udp_port)"
udpv="127.0.0.1:$(kv udpv_port)"
udpw="127.0.0.1:$(kv udpw_port)"
udp6="[::1]:$(kv udp6_port)"
in4=":$(kv in4_port)"
inu="unix:$(kv inu_path)"
check "TCP 127.0.0.1: 6 calls, 7833 bytes" "6 7833 {}" "$(row net_peers "$tcp4" outbound)"
check "TCP [::1]: 12 calls, 15666 bytes" "12 15666 {}" "$(row net_peers "$tcp6" outbound)"
check "Unix stream: 18 calls, 23499 bytes" "18 23499 {}" "$(row net_peers "$unix" outbound)"
check "connected UDP: 24 calls, 31332 bytes" "24 31332 {}" "$(row net_peers "$udp" outbound)"
check "unconnected UDP: each call's destination, sendmmsg as one call with all its bytes" \
	"3 460 {}" "$(row net_peers "$udpv" outbound)"
check "unconnected UDP: sendmmsg's second destination is not a peer" absent \
	"$(row net_peers "$udpw" outbound)"
check "unconnected UDP over IPv6" "1 123 {}" "$(row net_peers "$udp6" outbound)"
check "accepted TCP socket: inbound, peer :port" "1 777 {}" "$(row net_peers "$in4" inbound)"
check "accepted Unix socket: inbound, peer the listening path" "2 700 {}" \
	"$(row net_peers "$inu" inbound)"
# /dev/null, the pipe and the regular file (and send-family calls failing on them with
# ENOTSOCK) are not socket writes: no series beyond those above.
check "no other peers (files, pipes, /dev/null)" \
	"$(printf '%s\n' "$tcp4 outbound" "$tcp6 outbound" "$unix outbound" "$udp outbound" \
		"$udpv outbound" "$udp6 outbound" "$in4 inbound" "$inu inbound" | sort)" \
	"$(series net_peers | awk '{ print $1, $2 }' | sort)"

m=$(get /metrics)
labels="service_name=\"net_peers\",peer=\"$unix\",direction=\"outbound\",db_system_name=\"\""
check "metrics: bytes counter" 1 "$(grep -cxF "dbprobe_socket_write_bytes_total{$labels} 23499" <<<"$m")"
check "metrics: calls counter" 1 "$(grep -cxF "dbprobe_socket_write_calls_total{$labels} 18" <<<"$m")"
check "metrics: histogram count" 1 \
	"$(grep -cxF "dbprobe_socket_write_duration_seconds_count{$labels} 18" <<<"$m")"
check "metrics: +Inf bucket" 1 \
	"$(grep -cxF "dbprobe_socket_write_duration_seconds_bucket{$labels,le=\"+Inf\"} 18" <<<"$m")"
check "metrics: no error series" 0 "$(grep -c '^dbprobe_socket_write_errors_total{service_name="net_peers"' <<<"$m")"
check_cmd "promtool check metrics passes" promtool check metrics <<<"$m"

# The same program without the agent: same output but for the ports, nothing recorded.
stop_exporter
start_exporter
"$B/tests/net_client" peers "$WORK/net" >"$WORK/out.plain" 2>&1
check "without the agent: exits 0" 0 "$?"
DBPROBE_HOOKS=sqlite,pq,mysql OTEL_SERVICE_NAME=net_off agent "$B/tests/net_client" peers \
	"$WORK/net" >"$WORK/out.off" 2>&1
check "DBPROBE_HOOKS without net: exits 0" 0 "$?"
sleep 1.2
check "DBPROBE_HOOKS without net: nothing recorded" "" "$(series net_off)"
