# libagent.so loads with nothing but libc and exports nothing but its hooks.
source "$(dirname "$0")/lib.sh"

needed=$(readelf -d "$AGENT" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
check "libagent.so NEEDED is libc only" "libc.so.6 " "$needed"

exports=$(nm -D --defined-only "$AGENT" | awk '{print $3}' | sort)
unexpected=$(grep -v -E '^(sqlite3_(open|open16|open_v2|prepare|prepare_v2|prepare_v3|prepare16|prepare16_v2|prepare16_v3|step|reset|finalize|exec|close|close_v2|trace|trace_v2|profile)|PQ(connectdb|connectdbParams|setdbLogin|connectStart|connectStartParams|connectPoll|reset|resetStart|resetPoll|finish|exec|execParams|prepare|execPrepared|describePrepared|describePortal|sendQuery|sendQueryParams|sendPrepare|sendQueryPrepared|sendDescribePrepared|sendDescribePortal|getResult|pipelineSync|sendPipelineSync|sendClosePrepared|sendClosePortal|closePrepared|closePortal|setClientEncoding)|mariadb_stmt_execute_direct|mysql_(real_connect|close|select_db|change_user|query|real_query|send_query|read_query_result|store_result|use_result|fetch_row|free_result|next_result|stmt_init|stmt_prepare|stmt_execute|stmt_store_result|stmt_fetch|stmt_free_result|stmt_reset|stmt_close)|connect|read|write|recv|send|readv|writev|recvfrom|sendto|recvmsg|sendmsg|sendmmsg|socket|socketpair|accept|accept4|fcntl|fcntl64|close|dup2|dup3|close_range|dup|open|open64|openat|openat64|creat|creat64|pipe|pipe2|eventfd)$' <<<"$exports" || true)
check "libagent.so exports only interposed functions" "" "$unexpected"
check "libagent.so exports 18 SQLite, 30 libpq, 22 MySQL, 18 socket and 14 descriptor hooks" 102 "$(wc -l <<<"$exports")"

# No dynamic TLS: initial-exec only, so no __tls_get_addr (which would need ld.so).
check "no __tls_get_addr reference" 0 "$(nm -D "$AGENT" | grep -c __tls_get_addr)"
