// stack_cxx: C++ exceptions and glibc backtrace() in a program whose stacks the agent captures
// (DBPROBE_STACKS=all): the agent loads libunwind privately, and neither the exceptions'
// unwinding (libgcc_s) nor backtrace() may change under it. Each job runs a statement in
// query_then_throw(), which then calls a deeper function that throws; the exception passes
// through query_then_throw() (the frame that called SQLite) and a rethrowing frame, running
// destructors on its way, and is caught in run_job(), four frames up. backtrace() runs before
// the first statement (before the agent loaded libunwind) and after the last.
// Usage: stack_cxx. Prints a deterministic report (the same with and without the agent) and
// exits 0, or names the failed step on stderr and exits 1.
#include <execinfo.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include <stdexcept>
#include <string>

#define NOINLINE __attribute__((noinline))

static const int JOBS = 20;
static int unwound; // destructors run while an exception passed through their frame

namespace
{

struct guard {
	~guard()
	{
		unwound++;
	}
};

struct job_error : std::runtime_error {
	explicit job_error(const std::string &what) : std::runtime_error(what)
	{
	}
};

} // namespace

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "stack_cxx: %s: %s\n", what, msg);
	exit(1);
}

static NOINLINE void fail_deeper(int job)
{
	guard g;
	throw job_error("job " + std::to_string(job) + " failed after its query");
}

static NOINLINE void query_then_throw(sqlite3 *db, sqlite3_stmt *st, int job)
{
	guard g;
	sqlite3_bind_int(st, 1, job % 2 + 1);
	int rc = sqlite3_step(st); /* CALL_CXX */
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		die("step", sqlite3_errmsg(db));
	fail_deeper(job);
}

// Catches everything and rethrows it: a handler frame between the thrower and the catcher.
static NOINLINE void rethrow_layer(sqlite3 *db, sqlite3_stmt *st, int job)
{
	guard g;
	try {
		query_then_throw(db, st, job);
	} catch (...) {
		throw;
	}
}

static NOINLINE std::string run_job(sqlite3 *db, sqlite3_stmt *st, int job)
{
	try {
		rethrow_layer(db, st, job);
	} catch (const std::runtime_error &e) {
		return e.what();
	}
	return "not thrown";
}

// glibc's backtrace() (libgcc_s's unwinder), never libunwind's namesake: the same frames with
// and without the agent. Prints the count and how many lines backtrace_symbols_fd() wrote.
static NOINLINE void report_backtrace(const char *when)
{
	void *pcs[64];
	int n = backtrace(pcs, 64);
	FILE *f = tmpfile();
	if (!f)
		die("tmpfile", "failed");
	backtrace_symbols_fd(pcs, n, fileno(f));
	rewind(f);
	int lines = 0;
	for (int ch; (ch = getc(f)) != EOF;)
		lines += ch == '\n';
	fclose(f);
	printf("backtrace %s: frames=%d more_than_3=%s symbol_lines=%d\n", when, n,
	       n > 3 ? "yes" : "no", lines);
}

int main()
{
	report_backtrace("before");
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		die("open", "failed");
	if (sqlite3_exec(db,
			 "CREATE TABLE cxx_items(id INTEGER PRIMARY KEY, n INT);"
			 "INSERT INTO cxx_items VALUES (1, 0), (2, 0);",
			 nullptr, nullptr, nullptr) != SQLITE_OK)
		die("schema", sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, "UPDATE cxx_items SET n = n + 1 WHERE id = ?", -1, &st,
			       nullptr) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	int caught = 0;
	for (int job = 0; job < JOBS; job++) {
		std::string msg = run_job(db, st, job);
		caught += msg.find("failed after its query") != std::string::npos;
		if (job == 0 || job == JOBS - 1)
			printf("caught: %s\n", msg.c_str());
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	printf("jobs=%d caught=%d unwound=%d\n", JOBS, caught, unwound);
	report_backtrace("after");
	return caught == JOBS ? 0 : 1;
}
