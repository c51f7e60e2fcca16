# Descriptor numbers that change meaning under the agent's per-descriptor cache: a file on a
# closed socket's number is not a socket, a socket on a file's number is; and daemon-style
# programs that close every descriptor keep working and keep being recorded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
start_exporter

# row SERVICE PEER: "CALLS BYTES ERRORS" of its outbound series (no database system).
row() {
	local r
	r=$(series "$1" | awk -v p="$2" '$1 == p && $2 == "outbound" && $3 == "-" { print $4, $5, $6 }')
	echo "${r:-absent}"
}

# Each case writes to its own Unix server (peer unix:DIR/<case>.sock) less than 1000 bytes;
# every write to a file is 1000 bytes or more, so a file write counted shows in the bytes.
D=$WORK/reuse
mkdir "$D"
OTEL_SERVICE_NAME=net_reuse agent timeout 60 "$B/tests/net_client" reuse "$D" >"$WORK/out"
check "reuse: exits 0" 0 "$?"
check "reuse: says ok" "net_client: ok" "$(tail -1 "$WORK/out")"
wait_sockets net_reuse 11 >/dev/null
sleep 0.2 # and whatever more a miscount would add
check "close(), then a file on the number: the file's 1001 + 2500 bytes not counted" \
	"1 100 {}" "$(row net_reuse "unix:$D/a.sock")"
check "dup2() of a file over a socket: the file's 2002 bytes not counted" \
	"1 200 {}" "$(row net_reuse "unix:$D/b.sock")"
check "dup3() of a file over a socket: the file's 3003 bytes not counted" \
	"1 300 {}" "$(row net_reuse "unix:$D/c.sock")"
check "F_DUPFD_CLOEXEC and F_DUPFD copies write to the socket's peer" \
	"3 444 {}" "$(row net_reuse "unix:$D/d.sock")"
check "close_range(), then a file on the number: the file's 5005 bytes not counted" \
	"1 500 {}" "$(row net_reuse "unix:$D/e.sock")"
check "a socket on a closed file's number is counted" \
	"1 600 {}" "$(row net_reuse "unix:$D/f.sock")"
check "dup2() of a socket over a file, then dup() onto its number: both counted" \
	"2 770 {}" "$(row net_reuse "unix:$D/g.sock")"
check "fclose() of an fdopen()ed socket, then a file on the number: 8008 bytes not counted" \
	"1 800 {}" "$(row net_reuse "unix:$D/h.sock")"
check "reuse: no other peers" "$(for c in a b c d e f g h; do echo "unix:$D/$c.sock"; done | sort)" \
	"$(series net_reuse | awk '{ print $1 }' | sort)"

# Daemon style: close_range(3, ~0U, 0), close() of 3..1024, or the close_range system call
# itself (no hook sees it). 10 UDP sends of 100 bytes, a pause (300 ms), the close; then a file
# opens on the lowest number (perhaps the agent's old one), 20 sends of 50, a pause past the
# agent's periodic shipping, 30 sends of 10. The program's file must hold only its own 2000
# bytes. "range-late" closes 970 ms in: just before the agent ships its socket totals (1 s
# after its first record), while it is still to reconnect.
for run in range:300 loop:300 raw:300 range-late:970; do
	how=${run%%:*} pause=${run#*:}
	svc=net_daemon_${how/-/_}
	D=$WORK/daemon-$how
	mkdir "$D"
	OTEL_SERVICE_NAME=$svc agent timeout 60 "$B/tests/net_client" daemon "$D" "${how%-late}" \
		"$pause" >"$WORK/out"
	check "daemon $how: exits 0" 0 "$?"
	check "daemon $how: says ok" "net_client: ok" "$(tail -1 "$WORK/out")"
	check "daemon $how: its file holds its own bytes only" 2000 "$(stat -c %s "$D/daemon.file")"
	check "daemon $how: all 60 writes reach the exporter" 60 "$(wait_sockets "$svc" 60)"
	check "daemon $how: before closing: 10 calls, 1000 bytes" "10 1000 {}" \
		"$(row "$svc" "127.0.0.1:$(kv before_port)")"
	check "daemon $how: just after: 20 calls, 1000 bytes" "20 1000 {}" \
		"$(row "$svc" "127.0.0.1:$(kv after_port)")"
	check "daemon $how: a second later: 30 calls, 300 bytes" "30 300 {}" \
		"$(row "$svc" "127.0.0.1:$(kv later_port)")"
	check "daemon $how: no other peers" "" "$(series "$svc" | awk -v a="127.0.0.1:$(kv before_port)" \
		-v b="127.0.0.1:$(kv after_port)" -v c="127.0.0.1:$(kv later_port)" \
		'$1 != a && $1 != b && $1 != c')"
done
check "no frame rejected by the exporter" 0 \
	"$(metric 'dbprobe_decode_errors_total{reason="malformed"}')"
