/* spanq: the bounded span queue, its push thread (libcurl, one reused handle), retries with
 * backoff, the /traces ring, and the configuration from OTel's environment variables. */
#include "spanq.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "buf.h"
#include "otlp.h"
#include "trace_service.pb-c.h"
#include "zipkin.h"

const char *const dbp_span_drop_names[DBP_SPAN_DROP_COUNT] = {
	[DBP_SPAN_DROP_QUEUE_FULL] = "queue_full",     [DBP_SPAN_DROP_REJECTED] = "rejected",
	[DBP_SPAN_DROP_RETRIES] = "retries_exhausted", [DBP_SPAN_DROP_SHUTDOWN] = "shutdown",
	[DBP_SPAN_DROP_OOM] = "out_of_memory",
};

static const struct dbp_span_encoder *const encoders[] = {
	[DBP_FMT_OTLP] = &dbp_otlp_encoder,
	[DBP_FMT_ZIPKIN] = &dbp_zipkin_encoder,
};

const struct dbp_span_encoder *dbp_span_encoder_get(enum dbp_span_format format)
{
	if ((unsigned)format >= sizeof encoders / sizeof encoders[0])
		return NULL;
	return encoders[format];
}

#define RESPONSE_MAX 65536 /* of a collector's answer kept (a partial success is small) */

struct dbp_spanq {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the push thread's: spans came, or stop (CLOCK_MONOTONIC) */

	/* Copied from the configuration. */
	enum dbp_span_format format;
	const struct dbp_span_encoder *enc;
	char *endpoint;
	struct curl_slist *headers;
	int gzip;
	long timeout_ms, delay_ms, backoff_ms, backoff_max_ms, flush_ms;
	unsigned queue_max, batch_max, retries;

	/* The queue: a ring of queue_max, with when each span came (coarse monotonic ns). */
	struct dbp_span **q;
	uint64_t *q_ns;
	unsigned head, count;
	/* Spans of the batch taken out of the queue and not yet counted as exported or dropped
	 * (sent, or waiting for a retry): stats count them as queued. */
	unsigned inflight;

	/* The latest spans for /traces, each with its own reference. */
	struct dbp_span **latest;
	unsigned latest_max, latest_next, latest_n;
	/* dbp_spanq_admit's token bucket without a collector: when the bucket is empty again
	 * (coarse monotonic ns), GCRA. Its caller's only. */
	uint64_t admit_tat;

	int stopping;              /* atomic: read by curl's progress callback too */
	uint64_t stop_deadline_ns; /* set before stopping */
	int has_thread;
	pthread_t thread;
	struct dbp_spanq_stats st;

	/* The push thread's own. */
	CURL *curl;
	struct dbp_buf body, gz, resp;
	z_stream z;
	int z_ready, curl_global;
	long retry_after_ms; /* of the last answer, -1: none */
	uint64_t rng;
	char last_problem[160]; /* logged once until it changes or pushes work again */
};

/* ---- time ---- */

static uint64_t mono_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return mono_ns(CLOCK_MONOTONIC);
}

/* Waits on q->wake until the monotonic time `until` (or a signal of it). */
static void wait_until(struct dbp_spanq *q, uint64_t until)
{
	struct timespec ts = { .tv_sec = (time_t)(until / 1000000000ull),
			       .tv_nsec = (long)(until % 1000000000ull) };
	pthread_cond_timedwait(&q->wake, &q->lock, &ts);
}

/* ---- put, latest, stats ---- */

int dbp_spanq_admit(struct dbp_spanq *q, uint64_t now)
{
	if (!q)
		return 0;
	if (!q->has_thread) {
		if (!q->latest_max)
			return 0;
		const uint64_t iv = 1000000000ull / DBP_SPANQ_LATEST_RATE;
		uint64_t slack = (uint64_t)q->latest_max * iv;
		if (q->admit_tat > now + slack)
			return 0;
		q->admit_tat = (q->admit_tat > now ? q->admit_tat : now) + iv;
		return 1;
	}
	if (__atomic_load_n(&q->count, __ATOMIC_RELAXED) < q->queue_max)
		return 1;
	pthread_mutex_lock(&q->lock);
	int full = q->count >= q->queue_max;
	if (full) {
		q->st.received++;
		q->st.dropped[DBP_SPAN_DROP_QUEUE_FULL]++;
	}
	pthread_mutex_unlock(&q->lock);
	return !full;
}

void dbp_spanq_put(struct dbp_spanq *q, struct dbp_span *sp)
{
	if (!sp)
		return;
	if (!q) {
		dbp_span_unref(sp);
		return;
	}
	struct dbp_span *evicted = NULL, *dropped = NULL;
	if (q->latest_max)
		dbp_span_ref(sp); /* the ring's */
	/* The coarse clock (a few ms of resolution) costs a few ns: enough for a delay. */
	uint64_t t = q->has_thread ? mono_ns(CLOCK_MONOTONIC_COARSE) : 0;
	pthread_mutex_lock(&q->lock);
	q->st.received++;
	if (q->latest_max) {
		evicted = q->latest[q->latest_next];
		q->latest[q->latest_next] = sp;
		q->latest_next = (q->latest_next + 1) % q->latest_max;
		if (q->latest_n < q->latest_max)
			q->latest_n++;
	}
	if (!q->has_thread) {
		dropped = sp; /* no collector: only /traces sees spans, nothing is lost */
	} else if (q->count < q->queue_max) {
		unsigned i = (q->head + q->count) % q->queue_max;
		q->q[i] = sp;
		q->q_ns[i] = t;
		q->count++;
		/* The thread waits without a deadline on an empty queue, and sleeps until the
		 * oldest span is due otherwise: it needs waking only for these two. */
		if (q->count == 1 || q->count == q->batch_max)
			pthread_cond_signal(&q->wake);
	} else {
		q->st.dropped[DBP_SPAN_DROP_QUEUE_FULL]++;
		dropped = sp;
	}
	pthread_mutex_unlock(&q->lock);
	/* Outside the lock: the last reference frees. */
	dbp_span_unref(evicted);
	dbp_span_unref(dropped);
}

size_t dbp_spanq_latest(struct dbp_spanq *q, struct dbp_span **out, size_t limit)
{
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	size_t n = q->latest_n < limit ? q->latest_n : limit;
	for (size_t i = 0; i < n; i++) {
		unsigned idx = (unsigned)((q->latest_next + q->latest_max - 1 - i) % q->latest_max);
		out[i] = q->latest[idx];
		dbp_span_ref(out[i]);
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

void dbp_spanq_stats(struct dbp_spanq *q, struct dbp_spanq_stats *out)
{
	if (!q) {
		*out = (struct dbp_spanq_stats){ .format = DBP_FMT_NONE };
		return;
	}
	pthread_mutex_lock(&q->lock);
	*out = q->st;
	out->queued = (uint64_t)q->count + q->inflight;
	out->format = q->format;
	pthread_mutex_unlock(&q->lock);
}

/* ---- one HTTP request ---- */

enum outcome { SENT, RETRY, REJECT };

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct dbp_spanq *q = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	if (len > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1)) {
		char v[64];
		size_t vl = len - (sizeof name - 1);
		if (vl >= sizeof v)
			vl = sizeof v - 1;
		memcpy(v, p + sizeof name - 1, vl);
		v[vl] = 0;
		char *s = v;
		while (*s == ' ' || *s == '\t')
			s++;
		s[strcspn(s, "\r\n")] = 0;
		/* RFC 9110 10.2.3: delay-seconds or an HTTP-date. */
		char *end;
		errno = 0;
		long secs = strtol(s, &end, 10);
		if (end != s && !*end && !errno && secs >= 0) {
			q->retry_after_ms = secs > 86400 ? 86400000 : secs * 1000;
		} else {
			time_t when = curl_getdate(s, NULL);
			if (when != -1) {
				time_t now = time(NULL);
				q->retry_after_ms = when > now ? (long)(when - now) * 1000 : 0;
			}
		}
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct dbp_spanq *q = arg;
	size_t len = size * n;
	if (q->resp.len + len <= RESPONSE_MAX)
		dbp_buf_put(&q->resp, p, len);
	return len;
}

/* Aborts a request in flight once the flush at stop is over. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct dbp_spanq *q = arg;
	(void)dt, (void)dn, (void)ut, (void)un;
	return __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE) && now_ns() >= q->stop_deadline_ns;
}

/* Gzips body into q->gz (RFC 1952: zlib's windowBits 15 + 16). The fastest level: on one
 * thread it pushes 1.4 times the spans of the default level (bench_push) for a body 10% larger;
 * the exporter shares its host with the programs it watches. */
static int gzip_body(struct dbp_spanq *q)
{
	if (!q->z_ready) {
		if (deflateInit2(&q->z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
			return -1;
		q->z_ready = 1;
	} else if (deflateReset(&q->z) != Z_OK) {
		return -1;
	}
	q->gz.len = 0;
	q->z.next_in = (Bytef *)q->body.p;
	q->z.avail_in = (uInt)q->body.len;
	unsigned char chunk[65536];
	int rc;
	do {
		q->z.next_out = chunk;
		q->z.avail_out = sizeof chunk;
		rc = deflate(&q->z, Z_FINISH);
		if (rc == Z_STREAM_ERROR)
			return -1;
		dbp_buf_put(&q->gz, (const char *)chunk, sizeof chunk - q->z.avail_out);
	} while (rc != Z_STREAM_END);
	return q->gz.oom ? -1 : 0;
}

static void problem(struct dbp_spanq *q, const char *what)
{
	if (!strcmp(q->last_problem, what))
		return;
	snprintf(q->last_problem, sizeof q->last_problem, "%s", what);
	fprintf(stderr, "dbprobe-exporter: pushing spans to %s: %s\n", q->endpoint, what);
}

/* The OTLP answer to a 2xx: partial_success.rejected_spans of the batch were refused. */
static uint64_t otlp_rejected(struct dbp_spanq *q, size_t n)
{
	const char *ct = NULL;
	if (q->format != DBP_FMT_OTLP || !q->resp.len ||
	    curl_easy_getinfo(q->curl, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || !ct ||
	    strncasecmp(ct, "application/x-protobuf", 22))
		return 0;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, q->resp.len, (const uint8_t *)q->resp.p);
	if (!r)
		return 0;
	uint64_t rej = 0;
	if (r->partial_success && r->partial_success->rejected_spans > 0) {
		rej = (uint64_t)r->partial_success->rejected_spans;
		if (rej > n)
			rej = n;
		char what[160];
		snprintf(what, sizeof what, "the collector refused %llu of %zu spans (%s)",
			 (unsigned long long)rej, n,
			 r->partial_success->error_message ? r->partial_success->error_message
							   : "");
		problem(q, what);
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
		r, NULL);
	return rej;
}

static enum outcome post(struct dbp_spanq *q, const char *data, size_t len, size_t n,
			 uint64_t *rejected)
{
	CURL *c = q->curl;
	q->retry_after_ms = -1;
	q->resp.len = 0;
	*rejected = 0;
	long timeout = q->timeout_ms;
	if (__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE)) {
		uint64_t now = now_ns();
		long left = q->stop_deadline_ns > now
				    ? (long)((q->stop_deadline_ns - now) / 1000000)
				    : 0;
		timeout = left < 1 ? 1 : left < timeout ? left : timeout;
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	CURLcode rc = curl_easy_perform(c);
	char what[160];
	if (rc != CURLE_OK) {
		snprintf(what, sizeof what, "%s", curl_easy_strerror(rc));
		problem(q, what);
		/* A URL curl cannot use never will be: no point retrying it. */
		return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? REJECT
										     : RETRY;
	}
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300) {
		*rejected = otlp_rejected(q, n);
		if (!*rejected && q->last_problem[0]) {
			q->last_problem[0] = 0;
			fprintf(stderr, "dbprobe-exporter: pushing spans to %s works again\n",
				q->endpoint);
		}
		return SENT;
	}
	snprintf(what, sizeof what, "HTTP %ld", code);
	problem(q, what);
	/* The OTLP/HTTP spec's retryable codes (also Zipkin's collector's overload answers). */
	if (code == 429 || code == 502 || code == 503 || code == 504)
		return RETRY;
	return REJECT;
}

/* ---- the push thread ---- */

static uint64_t rnd(struct dbp_spanq *q)
{
	q->rng ^= q->rng << 13;
	q->rng ^= q->rng >> 7;
	q->rng ^= q->rng << 17;
	return q->rng;
}

/* Counts where the n spans in flight went (called with the lock held). */
static void settle(struct dbp_spanq *q, enum dbp_span_drop why, size_t n)
{
	q->st.dropped[why] += n;
	q->inflight = 0;
}

/* Sends one batch (q->inflight spans), retrying what may be retried; counts where its spans
 * went. Once stop came, a retryable failure of an attempt started before it (or a backoff
 * stop cut short) earns one more attempt if the flush has time left: the batch gets at least
 * one attempt after stop, none past its deadline. */
static void send_batch(struct dbp_spanq *q, struct dbp_span **spans, size_t n)
{
	q->body.len = 0;
	q->body.oom = 0;
	if (q->enc->encode(spans, n, &q->body) < 0 || (q->gzip && gzip_body(q) < 0)) {
		problem(q, "out of memory encoding a batch");
		pthread_mutex_lock(&q->lock);
		settle(q, DBP_SPAN_DROP_OOM, n);
		pthread_mutex_unlock(&q->lock);
		return;
	}
	const struct dbp_buf *b = q->gzip ? &q->gz : &q->body;
	long backoff = q->backoff_ms;
	for (unsigned attempt = 0;; attempt++) {
		uint64_t rejected;
		int after_stop = __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE);
		enum outcome o = post(q, b->p, b->len, n, &rejected);
		pthread_mutex_lock(&q->lock);
		q->st.requests++;
		if (attempt)
			q->st.retries++;
		if (o == SENT) {
			q->st.exported += n - rejected;
			settle(q, DBP_SPAN_DROP_REJECTED, rejected);
			pthread_mutex_unlock(&q->lock);
			return;
		}
		if (o == REJECT) {
			settle(q, DBP_SPAN_DROP_REJECTED, n);
			pthread_mutex_unlock(&q->lock);
			return;
		}
		if (attempt >= q->retries) {
			settle(q, DBP_SPAN_DROP_RETRIES, n);
			pthread_mutex_unlock(&q->lock);
			return;
		}
		if (q->stopping) {
			/* Stop came while this attempt was in flight: one more, now. */
			if (after_stop || now_ns() >= q->stop_deadline_ns) {
				settle(q, DBP_SPAN_DROP_SHUTDOWN, n);
				pthread_mutex_unlock(&q->lock);
				return;
			}
			pthread_mutex_unlock(&q->lock);
			continue;
		}
		/* The collector's Retry-After (capped), else the backoff with jitter: a half to
		 * the whole of it, so that exporters restarted together spread out. */
		long wait;
		if (q->retry_after_ms >= 0)
			wait = q->retry_after_ms < q->backoff_max_ms ? q->retry_after_ms
								     : q->backoff_max_ms;
		else
			wait = backoff / 2 + (long)(rnd(q) % (uint64_t)(backoff - backoff / 2 + 1));
		backoff = backoff > q->backoff_max_ms / 2 ? q->backoff_max_ms : backoff * 2;
		/* New spans keep queueing meanwhile (and overflow as queue_full). */
		uint64_t until = now_ns() + (uint64_t)wait * 1000000ull;
		while (!q->stopping && now_ns() < until)
			wait_until(q, until);
		/* Stop cuts the wait short: the next attempt is the last, if there is time. */
		if (q->stopping && now_ns() >= q->stop_deadline_ns) {
			settle(q, DBP_SPAN_DROP_SHUTDOWN, n);
			pthread_mutex_unlock(&q->lock);
			return;
		}
		pthread_mutex_unlock(&q->lock);
	}
}

static void *push_main(void *arg)
{
	struct dbp_spanq *q = arg;
	struct dbp_span **batch = malloc(q->batch_max * sizeof *batch);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stopping && q->count < q->batch_max) {
			if (!q->count) {
				pthread_cond_wait(&q->wake, &q->lock);
				continue;
			}
			uint64_t due = q->q_ns[q->head] + (uint64_t)q->delay_ms * 1000000ull;
			if (now_ns() >= due)
				break;
			wait_until(q, due);
		}
		if (!q->count && q->stopping)
			break;
		if (!batch) { /* try again: memory may have come back since */
			pthread_mutex_unlock(&q->lock);
			batch = malloc(q->batch_max * sizeof *batch);
			pthread_mutex_lock(&q->lock);
		}
		int over = q->stopping && now_ns() >= q->stop_deadline_ns;
		if (!batch || over) {
			/* The flush is over (or we cannot send for want of memory): the rest is
			 * lost. Each span counted as it leaves, so that the counters add up. */
			enum dbp_span_drop why = over ? DBP_SPAN_DROP_SHUTDOWN : DBP_SPAN_DROP_OOM;
			if (!batch)
				problem(q, "out of memory allocating a batch");
			while (q->count) {
				struct dbp_span *sp = q->q[q->head];
				q->head = (q->head + 1) % q->queue_max;
				q->count--;
				q->st.dropped[why]++;
				pthread_mutex_unlock(&q->lock);
				dbp_span_unref(sp);
				pthread_mutex_lock(&q->lock);
			}
			if (q->stopping)
				break;
			continue;
		}
		size_t n = q->count < q->batch_max ? q->count : q->batch_max;
		for (size_t i = 0; i < n; i++) {
			batch[i] = q->q[q->head];
			q->head = (q->head + 1) % q->queue_max;
		}
		q->count -= (unsigned)n;
		q->inflight = (unsigned)n; /* still "queued" until send_batch counts them */
		pthread_mutex_unlock(&q->lock);
		send_batch(q, batch, n);
		dbp_span_unref_all(batch, n);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	free(batch);
	return NULL;
}

/* ---- start, stop ---- */

static int setup_curl(struct dbp_spanq *q, const struct dbp_spanq_cfg *cfg, char *err,
		      size_t errlen)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	q->curl_global = 1;
	q->curl = curl_easy_init();
	if (!q->curl) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	char ct[96];
	snprintf(ct, sizeof ct, "Content-Type: %s", q->enc->content_type);
	struct curl_slist *h = curl_slist_append(NULL, ct);
	/* No "Expect: 100-continue" round trip for large bodies: not every collector answers
	 * it, and curl would then wait a second per request. */
	if (h)
		h = curl_slist_append(h, "Expect:");
	if (h && q->gzip)
		h = curl_slist_append(h, "Content-Encoding: gzip");
	for (char **p = cfg->headers; h && p && *p; p++)
		h = curl_slist_append(h, *p);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	q->headers = h;
	CURL *c = q->curl;
	curl_easy_setopt(c, CURLOPT_URL, q->endpoint);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, q->headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dbprobe-exporter/" DBPROBE_VERSION);
	/* Our thread blocks every signal: curl must not use alarm() for its DNS timeouts. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, q->timeout_ms);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, q);
	return 0;
}

static void spanq_free(struct dbp_spanq *q)
{
	for (unsigned i = 0; i < q->count; i++)
		dbp_span_unref(q->q[(q->head + i) % q->queue_max]);
	for (unsigned i = 0; i < q->latest_n; i++)
		dbp_span_unref(q->latest[i]);
	if (q->curl)
		curl_easy_cleanup(q->curl);
	curl_slist_free_all(q->headers);
	if (q->curl_global)
		curl_global_cleanup();
	if (q->z_ready)
		deflateEnd(&q->z);
	dbp_buf_free(&q->body);
	dbp_buf_free(&q->gz);
	dbp_buf_free(&q->resp);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q->q);
	free(q->q_ns);
	free(q->latest);
	free(q->endpoint);
	free(q);
}

struct dbp_spanq *dbp_spanq_start(const struct dbp_spanq_cfg *cfg, char *err, size_t errlen)
{
	struct dbp_spanq *q = calloc(1, sizeof *q);
	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->wake, &ca);
	pthread_condattr_destroy(&ca);
	q->format = cfg->format;
	q->st.format = cfg->format;
	q->latest_max = cfg->latest;
	if (q->latest_max && !(q->latest = calloc(q->latest_max, sizeof *q->latest))) {
		snprintf(err, errlen, "out of memory");
		spanq_free(q);
		return NULL;
	}
	q->enc = dbp_span_encoder_get(cfg->format);
	if (!q->enc) {
		q->format = q->st.format = DBP_FMT_NONE;
		return q;
	}
	if (!cfg->endpoint || !*cfg->endpoint) {
		snprintf(err, errlen, "no endpoint to push spans to");
		spanq_free(q);
		return NULL;
	}
	q->endpoint = strdup(cfg->endpoint);
	q->gzip = cfg->gzip && cfg->format == DBP_FMT_OTLP;
	q->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	q->delay_ms = cfg->delay_ms >= 0 ? cfg->delay_ms : 5000;
	q->queue_max = cfg->queue_max ? cfg->queue_max : 2048;
	q->batch_max = cfg->batch_max ? cfg->batch_max : 512;
	if (q->batch_max > q->queue_max)
		q->batch_max = q->queue_max;
	q->retries = cfg->retries;
	q->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : 1000;
	q->backoff_max_ms =
		cfg->backoff_max_ms > q->backoff_ms ? cfg->backoff_max_ms : q->backoff_ms;
	q->flush_ms = cfg->flush_ms >= 0 ? cfg->flush_ms : 5000;
	q->rng = now_ns() ^ (uint64_t)(uintptr_t)q ^ 0x9e3779b97f4a7c15ull;
	q->q = malloc(q->queue_max * sizeof *q->q);
	q->q_ns = malloc(q->queue_max * sizeof *q->q_ns);
	if (!q->endpoint || !q->q || !q->q_ns) {
		snprintf(err, errlen, "out of memory");
		spanq_free(q);
		return NULL;
	}
	if (setup_curl(q, cfg, err, errlen) < 0) {
		spanq_free(q);
		return NULL;
	}
	/* The thread starts with every signal blocked (the mask is inherited): the process's
	 * handlers (SIGTERM, SIGINT) must run on threads that expect them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&q->thread, NULL, push_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the span push thread: %s", strerror(rc));
		spanq_free(q);
		return NULL;
	}
	q->has_thread = 1;
	return q;
}

void dbp_spanq_stop(struct dbp_spanq *q)
{
	if (!q)
		return;
	if (q->has_thread) {
		pthread_mutex_lock(&q->lock);
		q->stop_deadline_ns = now_ns() + (uint64_t)q->flush_ms * 1000000ull;
		__atomic_store_n(&q->stopping, 1, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&q->wake);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
	}
	spanq_free(q);
}

/* ---- configuration ---- */

/* The first of two variables set to something (the signal-specific one first). */
static const char *env2(const char *specific, const char *general, const char **name)
{
	const char *v = getenv(specific);
	*name = specific;
	if (!v || !*v) {
		v = getenv(general);
		*name = general;
	}
	return v && *v ? v : NULL;
}

static long env_long(const char *name, const char *v, long def, long min, long max)
{
	if (!v)
		return def;
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	while (end != v && isspace((unsigned char)*end))
		end++;
	if (end == v || *end || errno || x < min || x > max) {
		fprintf(stderr,
			"dbprobe-exporter: %s='%s' is not a whole number from %ld to %ld; "
			"using %ld\n",
			name, v, min, max, def);
		return def;
	}
	return x;
}

/* HTTP field names are tokens (RFC 9110 5.6.2). */
static int is_token(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return 0;
	return n > 0;
}

struct hdrs {
	char **v;
	size_t n;
	int bad;
};

static int add_header(const char *key, size_t klen, const char *value, size_t vlen, void *arg)
{
	struct hdrs *h = arg;
	/* No CR or LF (a second header smuggled in), nor a name curl would mangle. */
	if (!is_token(key, klen) || strpbrk(value, "\r\n")) {
		h->bad++;
		return 0;
	}
	char **v = realloc(h->v, (h->n + 2) * sizeof *v);
	if (!v)
		return -1;
	h->v = v;
	size_t len = klen + vlen + 3;
	char *line = malloc(len);
	if (!line)
		return -1;
	/* "Name:" with no value would make curl remove the header: "Name;" sends it empty. */
	if (vlen)
		snprintf(line, len, "%.*s: %s", (int)klen, key, value);
	else
		snprintf(line, len, "%.*s;", (int)klen, key);
	h->v[h->n++] = line;
	h->v[h->n] = NULL;
	return 0;
}

/* DBPROBE_OTLP_RETRY_MS: the first backoff before a retry, in ms (default 1000). Not an OTel
 * variable: it lets tests (and impatient operators) make retries fast. */
int dbp_spanq_config(struct dbp_spanq_cfg *cfg, const char *zipkin_endpoint)
{
	*cfg = (struct dbp_spanq_cfg){
		.format = DBP_FMT_NONE,
		.timeout_ms = 10000,
		.queue_max = 2048,
		.batch_max = 512,
		.delay_ms = 5000,
		.retries = 5,
		.backoff_ms = 1000,
		.backoff_max_ms = 32000,
		.flush_ms = 5000,
		.latest = 1000,
	};
	const char *name, *v;
	if (zipkin_endpoint && *zipkin_endpoint) {
		cfg->format = DBP_FMT_ZIPKIN;
		if (!(cfg->endpoint = strdup(zipkin_endpoint)))
			return -1;
	} else if ((v = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) && *v) {
		/* The signal-specific URL is used as it is (OTLP exporter spec). */
		cfg->format = DBP_FMT_OTLP;
		if (!(cfg->endpoint = strdup(v)))
			return -1;
	} else if ((v = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) && *v) {
		/* The base URL: the signal's path is appended, without a double slash. */
		size_t n = strlen(v);
		while (n && v[n - 1] == '/')
			n--;
		cfg->format = DBP_FMT_OTLP;
		if (!(cfg->endpoint = malloc(n + sizeof "/v1/traces")))
			return -1;
		memcpy(cfg->endpoint, v, n);
		memcpy(cfg->endpoint + n, "/v1/traces", sizeof "/v1/traces");
	}

	if (cfg->format == DBP_FMT_OTLP) {
		v = env2("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL",
			 &name);
		if (v && strcmp(v, "http/protobuf"))
			fprintf(stderr,
				"dbprobe-exporter: %s='%s' is not supported; using http/protobuf\n",
				name, v);
		v = env2("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &name);
		if (v) {
			struct hdrs h = { 0 };
			int bad = dbp_kv_parse(v, strlen(v), add_header, &h);
			cfg->headers = h.v;
			if (bad < 0)
				return -1;
			if (bad + h.bad)
				fprintf(stderr,
					"dbprobe-exporter: %s: %d malformed entries skipped (want "
					"name=value,... with values percent-encoded)\n",
					name, bad + h.bad);
		}
		v = env2("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION",
			 &name);
		if (v && !strcmp(v, "gzip"))
			cfg->gzip = 1;
		else if (v && strcmp(v, "none"))
			fprintf(stderr,
				"dbprobe-exporter: %s='%s' is not gzip or none; using none\n", name,
				v);
	}
	v = env2("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &name);
	cfg->timeout_ms = env_long(name, v, cfg->timeout_ms, 1, 3600000);
	cfg->queue_max =
		(unsigned)env_long("OTEL_BSP_MAX_QUEUE_SIZE", getenv("OTEL_BSP_MAX_QUEUE_SIZE"),
				   cfg->queue_max, 1, 1 << 24);
	unsigned batch_def = cfg->batch_max < cfg->queue_max ? cfg->batch_max : cfg->queue_max;
	cfg->batch_max = (unsigned)env_long("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
					    getenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), batch_def, 1,
					    cfg->queue_max);
	cfg->delay_ms = env_long("OTEL_BSP_SCHEDULE_DELAY", getenv("OTEL_BSP_SCHEDULE_DELAY"),
				 cfg->delay_ms, 0, 3600000);
	cfg->backoff_ms = env_long("DBPROBE_OTLP_RETRY_MS", getenv("DBPROBE_OTLP_RETRY_MS"),
				   cfg->backoff_ms, 1, 600000);
	if (cfg->backoff_max_ms < cfg->backoff_ms)
		cfg->backoff_max_ms = cfg->backoff_ms;
	return 0;
}

void dbp_spanq_cfg_free(struct dbp_spanq_cfg *cfg)
{
	free(cfg->endpoint);
	for (char **p = cfg->headers; p && *p; p++)
		free(*p);
	free(cfg->headers);
	cfg->endpoint = NULL;
	cfg->headers = NULL;
}
