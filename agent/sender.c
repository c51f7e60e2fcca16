/* sender: the background thread that ships records to the exporter, and the exit flush. */
#include "sender.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "config.h"
#include "frame.h"
#include "log.h"
#include "process.h"
#include "peer.h"
#include "ring.h"
#include "sockstat.h"
#include "stack.h"

#define CYCLE_MS 50        /* idle wake-up: bounds how stale metrics get */
#define BACKOFF_MIN_MS 100 /* first reconnect delay, doubled up to BACKOFF_MAX_MS */
#define BACKOFF_MAX_MS 2000
#define SOCKET_PERIOD_MS 1000 /* socket write totals are shipped this often (and at exit) */

static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;
static int started;

/* Everything below is guarded by send_lock. */
static int sock = -1;
/* sock, readable without the lock: the descriptor hooks compare against it on every close. */
int dbp_sender_sock = -1;
static dev_t sock_dev;
static ino_t sock_ino;
static uint32_t gen; /* connection generation: interned texts are re-sent on each new one */
static uint64_t next_connect_ns, backoff_ms = BACKOFF_MIN_MS;
static struct dbp_frame frame;
static int frame_pending; /* a full frame the socket refused with EAGAIN */
static uint64_t frame_drops[DBP_DROP_REASON_COUNT]; /* drop counts carried by `frame` */
static int disconnected_logged;
static uint64_t sockets_due_ms;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Raw syscalls for our own socket: the program's libc-level hooks (and ours) never see it. */
static void sock_close(void)
{
	if (sock >= 0)
		syscall(SYS_close, sock);
	sock = -1;
	__atomic_store_n(&dbp_sender_sock, -1, __ATOMIC_RELEASE);
}

/* Programs that close every descriptor, or dup2 over ours, must not make us write into a file
 * that reused the number: the socket's inode is checked before each batch. */
static int sock_still_ours(void)
{
	struct stat st;
	if (syscall(SYS_fstat, sock, &st) != 0 || st.st_ino != sock_ino || st.st_dev != sock_dev) {
		dbp_log(1, "exporter socket fd %d was closed or replaced by the program", sock);
		sock = -1; /* not closed: the number may belong to the program now */
		__atomic_store_n(&dbp_sender_sock, -1, __ATOMIC_RELEASE);
		return 0;
	}
	return 1;
}

static void frame_start(void)
{
	dbp_frame_reset(&frame);
	memset(frame_drops, 0, sizeof frame_drops);
	frame_pending = 0;
}

static void try_connect(int force)
{
	uint64_t now = mono_ms();
	if (!force && now < next_connect_ns)
		return;
	int fd =
		(int)syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, dbp_cfg.socket_path, strlen(dbp_cfg.socket_path));
	if (syscall(SYS_connect, fd, &sa, sizeof sa) != 0) {
		syscall(SYS_close, fd);
		goto fail;
	}
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) != 0) {
		syscall(SYS_close, fd);
		goto fail;
	}
	sock = fd;
	__atomic_store_n(&dbp_sender_sock, fd, __ATOMIC_RELEASE);
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	gen++;
	backoff_ms = BACKOFF_MIN_MS;
	disconnected_logged = 0;
	frame_start();
	const struct dbp_process *p = dbp_process();
	dbp_frame_hello_ex(&frame, p->pid, p->ppid, p->start_unix_ns, p->exe, strlen(p->exe),
			   dbp_cfg.service, strlen(dbp_cfg.service), dbp_cfg.tracestate,
			   strlen(dbp_cfg.tracestate), dbp_cfg.resource_attrs,
			   strlen(dbp_cfg.resource_attrs));
	dbp_log(1, "connected to exporter at %s", dbp_cfg.socket_path);
	return;
fail:
	if (!disconnected_logged) {
		dbp_log(1, "exporter not reachable at %s (%s); records are dropped and counted",
			dbp_cfg.socket_path, strerror(errno));
		disconnected_logged = 1;
	}
	next_connect_ns = now + backoff_ms;
	backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
}

/* Sends the current frame. 0: sent (or nothing to send); 1: try later (EAGAIN); -1: the
 * connection broke and the frame's calls were counted as lost. */
static void frame_lost(void)
{
	dbp_ring_count_drops(DBP_DROP_SEND_FAILED, frame.ncalls);
	dbp_ring_return_drops(frame_drops);
	frame_start();
}

static int frame_send(void)
{
	if (dbp_frame_empty(&frame))
		return 0;
	/* Checked before every frame: a program closing descriptors while we drain must never
	 * get our bytes on a descriptor that reused the number. */
	if (!sock_still_ours()) {
		frame_lost();
		next_connect_ns = mono_ms() + backoff_ms;
		return -1;
	}
	for (;;) {
		long n = syscall(SYS_sendto, sock, frame.buf, frame.len,
				 MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0);
		if (n >= 0) {
			frame_start();
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			frame_pending = 1;
			return 1;
		}
		break;
	}
	dbp_log(1, "lost the exporter connection: %s", strerror(errno));
	frame_lost();
	sock_close();
	next_connect_ns = mono_ms() + backoff_ms;
	return -1;
}

/* Makes room for `need` bytes, sending the current frame if it must. */
static int frame_make_room(uint32_t need)
{
	if (dbp_frame_room(&frame) >= need)
		return 0;
	return frame_send() == 0 ? 0 : -1;
}

/* Definitions (QUERY/STRING) a record needs on this connection before its CALL. Returns -1
 * when the socket refused the frame they needed room in. */
static int define(const struct dbp_rec *r)
{
	const struct dbp_query_ent *q = r->query;
	const struct dbp_target_ent *t = r->target;
	const struct dbp_str_ent *ns = t ? t->ns : NULL, *srv = t ? t->server : NULL;
	const struct dbp_str_ent *err = r->err;
	int new_q = q->id && q->sent_gen != gen;
	int new_ns = ns && ns->sent_gen != gen, new_srv = srv && srv->sent_gen != gen;
	uint32_t need = sizeof(struct dbp_call);
	if (new_q)
		need += dbp_frame_query_size(q->text_len, q->summary_len);
	if (new_ns)
		need += dbp_frame_string_size(ns->len);
	if (new_srv)
		need += dbp_frame_string_size(srv->len);
	if (err && err->sent_gen != gen)
		need += dbp_frame_string_size(err->len);
	const struct dbp_stack_ent *stk = r->stack && r->stack->sent_gen != gen ? r->stack : NULL;
	uint32_t base_need = need;
	if (stk) {
		need += dbp_frame_stack_size(stk->nframes);
		for (unsigned i = 0; i < stk->nframes; i++) {
			const struct dbp_module_ent *m = stk->f[i].mod;
			unsigned k = 0;
			while (k < i && stk->f[k].mod != m) /* each module once */
				k++;
			if (k == i && m->sent_gen != gen)
				need += dbp_frame_module_size(m->path_len, m->build_id_len);
		}
	}
	/* A stack whose modules and frames cannot share one frame with its call (only deep
	 * stacks through many long-named libraries come close) is left out: the call goes
	 * without it. */
	if (stk && need > DBP_FRAME_MAX - sizeof(struct dbp_frame_hdr)) {
		need = base_need;
		stk = NULL;
	}
	if (frame_make_room(need) < 0)
		return -1;
	if (stk) {
		struct dbp_wire_frame wf[DBP_STACK_MAX];
		for (unsigned i = 0; i < stk->nframes; i++) {
			struct dbp_module_ent *m = (struct dbp_module_ent *)stk->f[i].mod;
			if (m->sent_gen != gen) {
				dbp_frame_module(&frame, m->id, m->base, m->path, m->path_len,
						 m->build_id, m->build_id_len);
				m->sent_gen = gen;
			}
			wf[i] = (struct dbp_wire_frame){ m->id, stk->f[i].offset };
		}
		dbp_frame_stack(&frame, stk->id, wf, stk->nframes);
		((struct dbp_stack_ent *)stk)->sent_gen = gen;
	}
	/* Interned entries are immortal and only the sender writes sent_gen (under send_lock). */
	if (new_q) {
		dbp_frame_query(&frame, q->id, q->flags, q->text, q->text_len, q->summary,
				q->summary_len);
		((struct dbp_query_ent *)q)->sent_gen = gen;
	}
	const struct dbp_str_ent *strs[3] = { new_ns ? ns : NULL, new_srv ? srv : NULL,
					      err && err->sent_gen != gen ? err : NULL };
	for (int i = 0; i < 3; i++) {
		if (strs[i]) {
			dbp_frame_string(&frame, strs[i]->id, strs[i]->kind, strs[i]->str,
					 strs[i]->len);
			((struct dbp_str_ent *)strs[i])->sent_gen = gen;
		}
	}
	if (t)
		((struct dbp_target_ent *)t)->sent_gen = gen;
	return 0;
}

/* A peer's name on this connection, before the first record that refers to it. */
static int define_peer(const struct dbp_str_ent *p, uint32_t need)
{
	int fresh = p && p->sent_gen != gen;
	if (frame_make_room(need + (fresh ? dbp_frame_string_size(p->len) : 0)) < 0)
		return -1;
	if (fresh) {
		dbp_frame_string(&frame, p->id, p->kind, p->str, p->len);
		((struct dbp_str_ent *)p)->sent_gen = gen;
	}
	return 0;
}

static int encode_sockwrite(const struct dbp_rec *r, uint32_t tid, const struct dbp_clock_snap *clk)
{
	const struct dbp_str_ent *p = dbp_peer_str(r->peer);
	if (!p)
		return 0;
	if (define_peer(p, sizeof(struct dbp_sockwrite)) < 0)
		return -1;
	struct dbp_sockwrite w = {
		.peer_id = p->id,
		.start_unix_ns = dbp_clock_unix_ns(clk, r->t0),
		.duration_ns = dbp_clock_ns(clk, r->dur),
		.bytes = r->io_bytes,
		.err_no = r->err_no,
		.tid = tid,
		.direction = r->direction,
		.db_system = r->db_system,
	};
	return dbp_frame_sockwrite(&frame, &w);
}

/* One SOCKET record per (peer, direction, system) that grew since the last. */
static int ship_total(const struct dbp_sock_total *t, void *arg)
{
	(void)arg;
	const struct dbp_str_ent *p = dbp_peer_str(t->peer);
	if (!p)
		return 0; /* never happens: a counted peer has a name */
	if (sock < 0 || define_peer(p, dbp_frame_sock_size(t->nerr)) < 0)
		return -1;
	struct dbp_sock s = {
		.peer_id = p->id,
		.calls = t->calls,
		.bytes = t->bytes,
		.sum_ns = t->sum_ns,
		.direction = t->dir,
		.db_system = t->sys,
		.nerr = t->nerr,
	};
	memcpy(s.buckets, t->buckets, sizeof s.buckets);
	return dbp_frame_sock(&frame, &s, t->errs);
}

/* The sender's inner loop: one CALL per record, written in place into the frame. */
static size_t encode(const struct dbp_rec *recs, size_t n, uint32_t tid, void *arg)
{
	(void)arg;
	struct dbp_clock_snap clk;
	dbp_clock_snapshot(&clk);
	uint64_t slow_ns = dbp_cfg.slow_ns;
	size_t i;
	for (i = 0; i < n; i++) {
		const struct dbp_rec *r = &recs[i];
		if (sock < 0) {
			/* The connection broke mid-batch: the rest is not deliverable. */
			dbp_ring_count_drops(DBP_DROP_NO_EXPORTER, n - i);
			return n;
		}
		if (DBP_UNLIKELY(r->kind == DBP_RK_SOCKWRITE)) {
			if (encode_sockwrite(r, tid, &clk) < 0) {
				if (sock >= 0)
					break;
				dbp_ring_count_drops(DBP_DROP_NO_EXPORTER, n - i);
				return n;
			}
			continue;
		}
		if (DBP_UNLIKELY(r->query->sent_gen != gen ||
				 (r->target && r->target->sent_gen != gen) ||
				 (r->err && r->err->sent_gen != gen) ||
				 (r->stack && r->stack->sent_gen != gen) ||
				 dbp_frame_room(&frame) < sizeof(struct dbp_call))) {
			if (define(r) < 0) {
				if (sock >= 0)
					break; /* socket full: keep the rest queued */
				dbp_ring_count_drops(DBP_DROP_NO_EXPORTER, n - i);
				return n;
			}
		}
		/* Both ends converted, not the duration: a transaction's span ends exactly where its
		 * COMMIT's does (its record holds the same end tick). */
		uint64_t start = dbp_clock_unix_ns(&clk, r->t0);
		uint64_t dur = dbp_clock_unix_ns(&clk, r->t0 + r->dur) - start;
		/* Room was made above: the slot is never NULL here. */
		struct dbp_call *c = dbp_frame_call_slot(
			&frame, (uint16_t)(r->flags | (dur >= slow_ns ? DBP_CALL_SLOW : 0)));
		c->query_id = r->query->id;
		const struct dbp_target_ent *t = r->target;
		c->namespace_id = t && t->ns ? t->ns->id : 0;
		c->server_id = t && t->server ? t->server->id : 0;
		c->server_port = t ? t->port : 0;
		c->error_id = r->err ? r->err->id : 0;
		c->start_unix_ns = start;
		c->duration_ns = dur;
		c->rows_returned = r->rows;
		c->rows_affected = r->affected;
		c->stack_id = r->stack && r->stack->sent_gen == gen ? r->stack->id : 0;
		memcpy(c->trace_id, r->trace_id, 32); /* trace_id, span_id, parent_span_id */
		c->write_bytes = r->io_bytes;
		c->write_ns = r->io_ticks ? dbp_clock_ns(&clk, r->io_ticks) : 0;
		c->tid = tid;
		c->db_system = r->db_system;
		c->reserved = 0;
	}
	return i;
}

/* One pass: connect if due, drain every ring into frames, report drops. 0 when everything
 * queued went out (or was dropped), 1 when the socket is full and work remains. */
static void sockets(int now)
{
	uint64_t t = mono_ms();
	if (!now && t < sockets_due_ms)
		return;
	sockets_due_ms = t + SOCKET_PERIOD_MS;
	/* Totals are counters: while no exporter listens they keep adding up (in a table of
	 * fixed size), and the next one receives them whole. */
	dbp_ring_collect_sockets();
	if (sock >= 0)
		dbp_sockstat_take(ship_total, NULL);
}

static int cycle(int force_connect, int final)
{
	dbp_clock_calibrate();
	if (sock >= 0 && !sock_still_ours())
		frame_lost();
	if (sock < 0)
		try_connect(force_connect);
	if (sock >= 0 && frame_pending && frame_send() == 1)
		return 1;
	if (sock < 0)
		dbp_ring_discard(DBP_DROP_NO_EXPORTER);
	else if (dbp_ring_drain(encode, NULL) < 0)
		return 1;
	sockets(final);
	uint64_t drops[DBP_DROP_REASON_COUNT];
	if (dbp_ring_take_drops(drops)) {
		if (sock < 0 || frame_make_room(sizeof(struct dbp_drops)) < 0 ||
		    dbp_frame_drops(&frame, drops) < 0) {
			dbp_ring_return_drops(drops); /* reported once an exporter listens */
		} else {
			for (int i = 0; i < DBP_DROP_REASON_COUNT; i++)
				frame_drops[i] += drops[i];
		}
	}
	if (sock >= 0)
		return frame_send() == 1;
	return 0;
}

/* Reads a small /proc file into buf (NUL-terminated); -1 on failure. */
static int read_proc(const char *path, char *buf, size_t cap)
{
	int fd = (int)syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long n = syscall(SYS_read, fd, buf, cap - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* Field `want` (1-based) of a /proc stat line; the command name (field 2) may hold spaces and
 * parentheses, so fields are counted from its closing one. */
static const char *stat_field(const char *stat, int want)
{
	const char *p = strrchr(stat, ')');
	for (int field = 2; p && field < want; field++)
		p = strchr(p + 1, ' ');
	return p ? p + 1 : NULL;
}

/* Whether every thread of the program is gone and only ours is left. A thread group leader
 * that called pthread_exit() stays as a zombie, still counted in num_threads: so a count of
 * two or less is checked thread by thread. */
static int only_thread_left(void)
{
	char buf[1024];
	if (read_proc("/proc/self/stat", buf, sizeof buf) < 0)
		return 0;
	const char *f = stat_field(buf, 20);
	long n = f ? strtol(f, NULL, 10) : 0;
	if (n < 1 || n > 2)
		return 0;
	uint32_t pid = (uint32_t)syscall(SYS_getpid), self = (uint32_t)syscall(SYS_gettid);
	if (n == 1)
		return 1;
	if (pid == self)
		return 0;
	/* Two threads: us, and the leader. Is the leader a zombie? */
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%u/stat", pid);
	if (read_proc(path, buf, sizeof buf) < 0)
		return 0;
	f = stat_field(buf, 3);
	return f && *f == 'Z';
}

static void *sender_main(void *arg)
{
	(void)arg;
	dbp_tls_busy = 1; /* nothing this thread does is the program's */
	for (;;) {
		uint32_t seen = __atomic_load_n(&dbp_ring_wake_word, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) != DBP_ST_RUNNING)
			break;
		pthread_mutex_lock(&send_lock);
		int busy = cycle(0, 0);
		pthread_mutex_unlock(&send_lock);
		/* When every thread of the program has called pthread_exit(), glibc ends the
		 * process with exit(0) as the last one leaves; our thread must not keep it alive.
		 * So we do what glibc would have done, here (the exit flush runs as usual). */
		if (only_thread_left())
			exit(0);
		struct timespec ts = { 0, (busy ? 2 : CYCLE_MS) * 1000000L };
		syscall(SYS_futex, &dbp_ring_wake_word, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
	}
	return NULL;
}

void dbp_sender_ensure(void)
{
	if (DBP_LIKELY(__atomic_load_n(&started, __ATOMIC_RELAXED)))
		return;
	int expect = 0;
	if (!__atomic_compare_exchange_n(&started, &expect, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return;
	int saved = errno;
	/* All signals blocked: the program's handlers must never run on our thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_t t;
	int rc = pthread_create(&t, &attr, sender_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		dbp_log(1, "cannot start the sender thread: %s", strerror(rc));
		__atomic_store_n(&started, 0, __ATOMIC_RELAXED);
	} else {
		pthread_setname_np(t, "dbprobe-sender");
	}
	errno = saved;
}

int dbp_sender_started(void)
{
	return __atomic_load_n(&started, __ATOMIC_RELAXED);
}

void dbp_sender_flush(int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
	pthread_mutex_lock(&send_lock);
	int force = 1;
	while (cycle(force, 1) == 1) {
		force = 0;
		uint64_t now = mono_ms();
		if (now >= deadline || sock < 0)
			break;
		struct pollfd pfd = { .fd = sock, .events = POLLOUT };
		poll(&pfd, 1, (int)(deadline - now));
	}
	pthread_mutex_unlock(&send_lock);
}

int dbp_sender_vacate(int lo, int hi)
{
	pthread_mutex_lock(&send_lock);
	int moved = 0;
	if (sock >= lo && sock <= hi) {
		/* A new number above the range; the old one is the program's to close. */
		int to = hi < 0x7ffffffe ? hi + 1 : -1;
		long fd = to >= 0 ? syscall(SYS_fcntl, sock, F_DUPFD_CLOEXEC, to) : -1;
		if (fd >= 0) {
			dbp_log(2, "exporter socket moved from fd %d to %ld for the program", sock,
				fd);
			sock = (int)fd;
			__atomic_store_n(&dbp_sender_sock, sock, __ATOMIC_RELEASE);
			moved = 1;
		} else {
			/* No room: forget it (the program's call closes it) and reconnect later. */
			frame_lost();
			sock = -1;
			__atomic_store_n(&dbp_sender_sock, -1, __ATOMIC_RELEASE);
			next_connect_ns = mono_ms() + backoff_ms;
		}
	}
	pthread_mutex_unlock(&send_lock);
	return moved;
}

void dbp_sender_lock(void)
{
	pthread_mutex_lock(&send_lock);
}

void dbp_sender_unlock(void)
{
	pthread_mutex_unlock(&send_lock);
}

void dbp_sender_reset_child(void)
{
	/* The child's copy of the parent's socket is closed without shutdown(), which leaves the
	 * parent's connection intact; the child connects on its own. */
	sock_close();
	started = 0;
	gen++;
	next_connect_ns = 0;
	backoff_ms = BACKOFF_MIN_MS;
	frame_start();
}
