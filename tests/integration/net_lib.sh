# Helpers of the socket write tests (t_net_*.sh), sourced after lib.sh.

# series SERVICE: one line per socket series of the service, sorted:
# "PEER DIRECTION SYSTEM(- outside database calls) CALLS BYTES ERRORS(json)".
series() {
	get /sockets | jq -r --arg s "$1" '.sockets[] | select(.service_name == $s) |
		"\(.peer) \(.direction) \(if .db_system_name == "" then "-" else .db_system_name end) \(.calls) \(.bytes) \(.errors | tojson)"' |
		sort
}

# wait_sockets SERVICE N: waits (2 s at most) until the service's series count N calls; prints
# the count reached.
wait_sockets() {
	local n=0
	for _ in $(seq 40); do
		n=$(get /sockets | jq --arg s "$1" '[.sockets[] | select(.service_name == $s) | .calls] | add // 0')
		((n >= $2)) && break
		sleep 0.05
	done
	echo "$n"
}

# kv KEY: the value of a KEY=value line the client printed into $WORK/out.
kv() { sed -n "s/^$1=//p" "$WORK/out"; }
