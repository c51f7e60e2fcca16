/* dbprobe-exporter: receives agent records, serves /metrics and the JSON API. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "http.h"
#include "ingest.h"
#include "slowlog.h"
#include "spanq.h"
#include "store.h"
#include "symbolize.h"

#define DEFAULT_SOCKET "/tmp/dbprobe.sock"
#define DEFAULT_LISTEN "127.0.0.1:9464"
#define DEFAULT_MAX_FINGERPRINTS 5000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dbprobe-exporter [OPTION]...\n"
		"Receives the records of every dbprobe agent on this host and serves them.\n"
		"\n"
		"  -s, --socket PATH          agents' Unix socket (env DBPROBE_SOCKET; default "
		"%s)\n"
		"  -l, --listen HOST:PORT     HTTP address (env DBPROBE_LISTEN; default %s)\n"
		"      --slow-ms N            log calls slower than N ms (default: the agents'\n"
		"                             DBPROBE_SLOW_MS decides)\n"
		"      --slow-log FILE        slow calls and socket writes as JSON lines to FILE\n"
		"                             (default stdout)\n"
		"      --max-fingerprints N   distinct statements kept before folding new ones\n"
		"                             into \"other\" (default %d)\n"
		"      --zipkin-endpoint URL  push spans as Zipkin v2 JSON to URL instead of OTLP\n"
		"  -h, --help                 this help\n"
		"  -V, --version              version\n"
		"\n"
		"HTTP: /metrics (Prometheus; OpenMetrics with exemplars when asked for),\n"
		"/queries?sort=total|calls|mean|p99|errors&limit=N, /sockets, /agents,\n"
		"/stacks/ID, /traces?limit=N, /healthz. SIGTERM or SIGINT stop it (pending\n"
		"spans are flushed) and remove the socket.\n"
		"\n"
		"Traces: OTLP/HTTP (protobuf) to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or\n"
		"OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces; OTEL_EXPORTER_OTLP_HEADERS,\n"
		"OTEL_EXPORTER_OTLP_COMPRESSION=gzip, OTEL_EXPORTER_OTLP_TIMEOUT (ms),\n"
		"OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE.\n"
		"With none configured, the latest spans stay at /traces.\n"
		"\n"
		"DBPROBE_DEBUGINFOD=1 lets elfutils fetch debug info from DEBUGINFOD_URLS; by\n"
		"default stacks are symbolized from local files only (a debuginfod server that\n"
		"does not answer would stall the slow log and the pages that show stacks).\n",
		DEFAULT_SOCKET, DEFAULT_LISTEN, DEFAULT_MAX_FINGERPRINTS);
}

static int parse_count(const char *opt, const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || !*v || *end || n < lo || n > hi) {
		fprintf(stderr, "dbprobe-exporter: %s '%s' is not a whole number from %ld to %ld\n",
			opt, v, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

int main(int argc, char **argv)
{
	dbp_sym_init_env(); /* first: no thread may read the environment while it changes */
	const char *socket_path = getenv("DBPROBE_SOCKET");
	const char *listen = getenv("DBPROBE_LISTEN");
	const char *slow_file = NULL, *zipkin = NULL;
	long slow_ms = -1, max_fp = DEFAULT_MAX_FINGERPRINTS;
	if (!socket_path || !*socket_path)
		socket_path = DEFAULT_SOCKET;
	if (!listen || !*listen)
		listen = DEFAULT_LISTEN;

	enum { OPT_SLOW_MS = 256, OPT_SLOW_LOG, OPT_MAX_FP, OPT_ZIPKIN };
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "slow-ms", required_argument, NULL, OPT_SLOW_MS },
		{ "slow-log", required_argument, NULL, OPT_SLOW_LOG },
		{ "max-fingerprints", required_argument, NULL, OPT_MAX_FP },
		{ "zipkin-endpoint", required_argument, NULL, OPT_ZIPKIN },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "s:l:hV", longs, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case OPT_SLOW_MS:
			if (parse_count("--slow-ms", optarg, 0, 86400000, &slow_ms) < 0)
				return 2;
			break;
		case OPT_SLOW_LOG:
			slow_file = optarg;
			break;
		case OPT_MAX_FP:
			if (parse_count("--max-fingerprints", optarg, 1, 10000000, &max_fp) < 0)
				return 2;
			break;
		case OPT_ZIPKIN:
			zipkin = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dbprobe-exporter %s\n", DBPROBE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dbprobe-exporter: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	/* Blocked before any thread exists, so only the signalfd ever sees them. */
	sigset_t stopsigs;
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigprocmask(SIG_BLOCK, &stopsigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &stopsigs, SFD_CLOEXEC | SFD_NONBLOCK);

	struct dbp_slowlog slowlog = { .threshold_ns = slow_ms < 0 ? -1 : slow_ms * 1000000 };
	slowlog.out = stdout;
	if (slow_file && !(slowlog.out = fopen(slow_file, "a"))) {
		fprintf(stderr, "dbprobe-exporter: cannot open slow log %s: %s\n", slow_file,
			strerror(errno));
		return 1;
	}

	static struct dbp_store store;
	dbp_store_init(&store, (unsigned)max_fp);
	char err[512];
	struct dbp_spanq_cfg scfg;
	if (dbp_spanq_config(&scfg, zipkin) < 0) {
		fprintf(stderr, "dbprobe-exporter: out of memory\n");
		return 1;
	}
	store.spans = dbp_spanq_start(&scfg, err, sizeof err);
	if (!store.spans) {
		fprintf(stderr, "dbprobe-exporter: %s\n", err);
		return 1;
	}
	struct dbp_ingest_opts io = { .socket_path = socket_path,
				      .store = &store,
				      .slowlog = &slowlog };
	struct dbp_ingest *in = dbp_ingest_open(&io, err, sizeof err);
	if (!in) {
		fprintf(stderr, "dbprobe-exporter: %s\n", err);
		dbp_spanq_stop(store.spans);
		return 1;
	}
	struct dbp_http *http = dbp_http_start(listen, &store, err, sizeof err);
	if (!http) {
		fprintf(stderr, "dbprobe-exporter: %s\n", err);
		dbp_ingest_close(in);
		dbp_spanq_stop(store.spans);
		return 1;
	}
	fprintf(stderr, "dbprobe-exporter %s: agents on %s, HTTP on http://%s/metrics\n",
		DBPROBE_VERSION, socket_path, listen);
	if (scfg.format != DBP_FMT_NONE)
		fprintf(stderr, "dbprobe-exporter: spans to %s (%s)\n", scfg.endpoint,
			scfg.format == DBP_FMT_ZIPKIN ? "Zipkin v2 JSON" : "OTLP/HTTP protobuf");

	volatile int stop = 0;
	dbp_ingest_run(in, &stop, sfd);

	dbp_http_stop(http);
	dbp_ingest_close(in);
	/* After ingest: no span comes any more; what is queued goes out (bounded). */
	dbp_spanq_stop(store.spans);
	store.spans = NULL;
	dbp_spanq_cfg_free(&scfg);
	if (slowlog.out && slowlog.out != stdout)
		fclose(slowlog.out);
	fprintf(stderr, "dbprobe-exporter: stopped (%llu calls received)\n",
		(unsigned long long)store.calls);
	dbp_store_free(&store);
	return 0;
}
