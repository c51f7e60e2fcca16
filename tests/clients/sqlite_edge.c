/* sqlite_edge: edge cases the agent once got wrong. Usage: sqlite_edge MODE
 *   misuse      prepare on a NULL connection (SQLite answers MISUSE; nothing may crash)
 *   comments    sqlite3_exec of a script whose statements carry leading comments
 *   apptrace    the exec callback installs the program's own trace: it must survive exec
 *   forkthread  a worker thread forks; the child's copy of that thread then exits
 *   churn N     N statements prepared, run once and finalized (handle addresses recycle)
 *   mainexit    main() calls pthread_exit(); the process ends when its worker returns
 *   errno       errno after each call (set to a marker before it): must match without agent
 *   sharedexec  two threads share one serialized connection: 3000 exec scripts of two
 *               statements on one, 30000 steps of a prepared statement on the other
 *   fdchaos F   statements between closing every descriptor, dup2 over a range, and a file F
 *               written through a reused number: 3 x 1000 statements */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int traced;

static int app_trace(unsigned t, void *c, void *p, void *x)
{
	(void)t;
	(void)c;
	(void)p;
	(void)x;
	traced++;
	return 0;
}

static int install_trace(void *db, int n, char **v, char **c)
{
	(void)n;
	(void)v;
	(void)c;
	sqlite3_trace_v2(db, SQLITE_TRACE_STMT, app_trace, NULL);
	return 0;
}

static void *fork_worker(void *arg)
{
	sqlite3 *db = arg;
	sqlite3_exec(db, "SELECT 1 AS before_fork", NULL, NULL, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		sqlite3_exec(db, "SELECT 1 AS in_child", NULL, NULL, NULL);
		return (void *)1; /* the child's only thread returns: its TLS destructors run */
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child exit %d signal %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	       WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return NULL;
}

static void *exec_loop(void *arg)
{
	for (int i = 0; i < 3000; i++)
		sqlite3_exec(arg, "SELECT 1 AS from_exec; SELECT 2 AS from_exec_too", NULL, NULL,
			     NULL);
	return NULL;
}

static void *step_loop(void *arg)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(arg, "SELECT 3 AS from_step", -1, &st, NULL);
	for (int i = 0; i < 30000; i++) {
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return NULL;
}

static void run_n(sqlite3 *db, const char *sql, int n)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	for (int i = 0; i < n; i++) {
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

static void fd_chaos(sqlite3 *db, const char *file)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int top = rl.rlim_cur > 4096 ? 2048 : (int)rl.rlim_cur / 2;
	struct timespec pause = { 0, 200000000 };
	run_n(db, "SELECT 1 AS before_chaos", 1000);
	nanosleep(&pause, NULL);
	for (int fd = 3; fd < top; fd++) /* daemon style: close everything not stdio */
		close(fd);
	run_n(db, "SELECT 1 AS after_close_all", 1000);
	nanosleep(&pause, NULL);
	for (int fd = 3; fd < top; fd++) /* take every number over */
		dup2(2, fd);
	for (int fd = 3; fd < top; fd++)
		close(fd);
	int f = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (write(f, "hello", 5) != 5)
		return;
	run_n(db, "SELECT 1 AS after_dup2", 1000);
	nanosleep(&pause, NULL);
	close(f);
	printf("fd chaos done, file fd was %d\n", f);
}

static void *late_worker(void *arg)
{
	(void)arg;
	usleep(100000);
	sqlite3 *db;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "SELECT 1 AS late_worker", NULL, NULL, NULL);
	sqlite3_close(db);
	printf("worker done\n");
	fflush(stdout);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	sqlite3 *db = NULL;
	if (!strcmp(mode, "mainexit")) {
		pthread_t t;
		pthread_create(&t, NULL, late_worker, NULL);
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "misuse")) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(NULL, "SELECT 1", -1, &st, NULL);
		printf("prepare on NULL: %d\n", rc);
		return 0;
	}
	if (!strcmp(mode, "sharedexec")) {
		sqlite3_open_v2(":memory:", &db,
				SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
				NULL);
		pthread_t a, b;
		pthread_create(&a, NULL, exec_loop, db);
		pthread_create(&b, NULL, step_loop, db);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		sqlite3_close(db);
		printf("shared connection done\n");
		return 0;
	}
	sqlite3_open(":memory:", &db);
	if (!strcmp(mode, "fdchaos") && argc > 2) {
		fd_chaos(db, argv[2]);
	} else if (!strcmp(mode, "comments")) {
		char *err = NULL;
		int rc = sqlite3_exec(db,
				      "-- make a table\nCREATE TABLE t(a);\n"
				      "/* fill it */ INSERT INTO t VALUES (1);\n"
				      "-- read it\nSELECT a FROM t;\n"
				      "-- and fail\nSELECT * FROM nosuch;",
				      NULL, NULL, &err);
		printf("rc=%d err=%s\n", rc, err ? err : "-");
		sqlite3_free(err);
	} else if (!strcmp(mode, "apptrace")) {
		sqlite3_exec(db, "SELECT 1 AS installs", install_trace, db, NULL);
		sqlite3_exec(db, "SELECT 2 AS traced", NULL, NULL, NULL);
		printf("app trace fired %d\n", traced);
	} else if (!strcmp(mode, "forkthread")) {
		pthread_t t;
		void *r;
		pthread_create(&t, NULL, fork_worker, db);
		pthread_join(t, &r);
		if (r) /* in the child, after its thread returned */
			_exit(0);
	} else if (!strcmp(mode, "errno")) {
		sqlite3_stmt *st = NULL;
		const char *calls[] = { "exec",  "prepare",     "step",     "step",
					"reset", "bad prepare", "finalize", "bad exec" };
		for (int i = 0; i < 8; i++) {
			errno = 4242;
			switch (i) {
			case 0:
				sqlite3_exec(db, "CREATE TABLE e(a); INSERT INTO e VALUES (1)",
					     NULL, NULL, NULL);
				break;
			case 1:
				sqlite3_prepare_v2(db, "SELECT a FROM e", -1, &st, NULL);
				break;
			case 2:
			case 3:
				sqlite3_step(st);
				break;
			case 4:
				sqlite3_reset(st);
				break;
			case 5: {
				sqlite3_stmt *bad = NULL;
				sqlite3_prepare_v2(db, "SELEKT nonsense", -1, &bad, NULL);
				break;
			}
			case 6:
				sqlite3_finalize(st);
				break;
			case 7:
				sqlite3_exec(db, "INSERT INTO nosuch VALUES (1)", NULL, NULL, NULL);
				break;
			}
			printf("%s: errno %d\n", calls[i], errno);
		}
	} else if (!strcmp(mode, "churn")) {
		long n = argc > 2 ? atol(argv[2]) : 1000;
		long rows = 0;
		for (long i = 0; i < n; i++) {
			sqlite3_stmt *st;
			sqlite3_prepare_v2(db, "SELECT 1 AS churn", -1, &st, NULL);
			rows += sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
		printf("churn rows %ld\n", rows);
	}
	sqlite3_close(db);
	return 0;
}
