# lib.sh: shared helpers for the integration tests. Each t_*.sh sources this, gets a private
# work dir and exporter, and reports each check as one line: "ok - ..." or "FAIL - ...".
# RESULTS (set by run.sh) collects one line per check for the final count.
set -uo pipefail

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
B=${BUILD:-$ROOT/build}
AGENT=$B/agent/libagent.so
EXPORTER=$B/exporter/dbprobe-exporter
RESULTS=${RESULTS:-/dev/null}
WORK=$(mktemp -d /tmp/dbprobe-test.XXXXXX)
EXP_PID=
EXP_SOCK=$WORK/dbprobe.sock
EXP_URL=

OWN_PG=
OWN_MY=

_cleanup() {
	stop_exporter
	if [[ -n $OWN_PG ]]; then
		"$ROOT/scripts/pg" stop "$PG_DIR" >/dev/null 2>&1
		rm -rf "$PG_DIR"
	fi
	if [[ -n $OWN_MY ]]; then
		"$ROOT/scripts/mariadb" stop "$MY_DIR" >/dev/null 2>&1
		rm -rf "$MY_DIR"
	fi
	rm -rf "$WORK"
}
trap _cleanup EXIT

pass() {
	echo "ok - $*"
	echo "pass $*" >>"$RESULTS"
}

fail() {
	echo "FAIL - $*"
	echo "fail $*" >>"$RESULTS"
}

# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}

# check_cmd DESCRIPTION COMMAND...: passes when the command succeeds.
check_cmd() {
	local d=$1
	shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	echo 29464
}

# start_exporter [ARGS...]: a private exporter on $EXP_SOCK; waits until it answers.
start_exporter() {
	local port
	port=$(free_port)
	EXP_URL=http://127.0.0.1:$port
	"$EXPORTER" --socket "$EXP_SOCK" --listen "127.0.0.1:$port" "$@" \
		>>"$WORK/exporter.out" 2>>"$WORK/exporter.err" &
	EXP_PID=$!
	for _ in $(seq 100); do
		curl -fsS "$EXP_URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "exporter did not start:" >&2
	cat "$WORK/exporter.err" >&2
	return 1
}

stop_exporter() {
	if [[ -n $EXP_PID ]]; then
		kill "$EXP_PID" 2>/dev/null
		wait "$EXP_PID" 2>/dev/null
		EXP_PID=
	fi
}

# agent CMD...: runs CMD with the agent preloaded, talking to our exporter.
agent() {
	DBPROBE_SOCKET=$EXP_SOCK LD_PRELOAD=$AGENT "$@"
}

get() { curl -fsS "$EXP_URL$1"; }

calls_received() { get /healthz | jq -r .calls_received; }

# wait_calls N: until the exporter has received N calls, at most 1 s (the promise: what a
# process recorded is visible within a second of its exit). Prints the count reached.
wait_calls() {
	local n=0
	for _ in $(seq 20); do
		n=$(calls_received)
		((n >= $1)) && break
		sleep 0.05
	done
	echo "$n"
}

# query_field SQL FIELD: a field of the /queries entry whose normalized text is SQL.
query_field() {
	get "/queries?limit=100000" | jq -r --arg q "$1" --arg f "$2" \
		'[.queries[] | select(.query == $q)] | if length == 0 then "absent" else .[0][$f] end'
}

metric() {
	get /metrics | awk -v m="$1" '$1 == m { print $2 }'
}

# need_pg: a PostgreSQL server: the suite's (PG_DIR and PG_PORT, started by scripts/test) or,
# when a test runs alone, one of its own, stopped at exit. It listens on a Unix socket in PG_DIR
# and on 127.0.0.1:PG_PORT with TLS.
need_pg() {
	if [[ -z ${PG_DIR:-} ]]; then
		PG_DIR=$(mktemp -d /tmp/dbprobe-pg.XXXXXX)
		PG_PORT=$(free_port)
		OWN_PG=1
		"$ROOT/scripts/pg" start "$PG_DIR" --tcp "$PG_PORT" --ssl || return 1
	fi
	export PGUSER=dbprobe PGDATABASE=dbprobe
	pg_via unix
}

# pg_via unix|tls: where libpq programs connect from now on (PGHOST and friends). PG_CONNINFO
# says the same as a connection string, for the C clients.
pg_via() {
	unset PGSSLMODE
	if [[ $1 == tls ]]; then
		export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGSSLMODE=require
		PG_CONNINFO="host=127.0.0.1 port=$PG_PORT user=dbprobe dbname=dbprobe sslmode=require"
		PG_SERVER=127.0.0.1
	else
		export PGHOST=$PG_DIR PGPORT=$PG_PORT
		PG_CONNINFO="host=$PG_DIR port=$PG_PORT user=dbprobe dbname=dbprobe"
		PG_SERVER=$PG_DIR
	fi
}

# need_mariadb: a MariaDB server: the suite's (MY_DIR, started by scripts/test) or, when a test
# runs alone, one of its own, stopped at exit. MY_SOCKET is its Unix socket (no TCP).
need_mariadb() {
	if [[ -z ${MY_DIR:-} ]]; then
		MY_DIR=$(mktemp -d /tmp/dbprobe-my.XXXXXX)
		OWN_MY=1
		"$ROOT/scripts/mariadb" start "$MY_DIR" || return 1
	fi
	MY_SOCKET=$MY_DIR/mysqld.sock
}
