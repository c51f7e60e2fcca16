# The stock curl uploading a known body to a local HTTP server (net_client http-sink, run
# without the agent): its socket writes to that server add up to the request it received.
source "$(dirname "$0")/lib.sh"
start_exporter

BODY=200000
head -c "$BODY" /dev/zero | tr '\0' 'b' >"$WORK/body"
timeout 60 "$B/tests/net_client" http-sink "$WORK/port" >"$WORK/sink.out" &
sink=$!
for _ in $(seq 100); do
	[[ -s $WORK/port ]] && break
	sleep 0.05
done
port=$(cat "$WORK/port")

code=$(agent curl -sS -X POST --data-binary @"$WORK/body" \
	-o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/upload")
check "curl exits 0" 0 "$?"
check "the server answered 200" 200 "$code"
wait "$sink"
check "the sink exits 0" 0 "$?"
check "the sink got the whole body" "$BODY" "$(sed -n 's/^body=//p' "$WORK/sink.out")"
headers=$(sed -n 's/^headers=//p' "$WORK/sink.out")

peer="127.0.0.1:$port"
bytes=0
for _ in $(seq 40); do
	bytes=$(get /sockets | jq --arg p "$peer" \
		'[.sockets[] | select(.service_name == "curl" and .peer == $p) | .bytes] | add // 0')
	((bytes >= BODY)) && break
	sleep 0.05
done
check_cmd "bytes to the server: at least the body ($bytes)" test "$bytes" -ge "$BODY"
check_cmd "bytes to the server: at most the body and 1 KiB of headers ($bytes)" \
	test "$bytes" -le $((BODY + 1024))
check "bytes to the server: exactly what it received (request head $headers + body)" \
	$((headers + BODY)) "$bytes"
s=$(get /sockets | jq -c --arg p "$peer" \
	'[.sockets[] | select(.service_name == "curl" and .peer == $p)] |
	 map({direction, db_system_name, errors})')
check "one outbound series, no database system, no errors" \
	'[{"direction":"outbound","db_system_name":"","errors":{}}]' "$s"
