/* test_config: DBPROBE_* / OTEL_* parsing from a fake environment, warnings on fd 2. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "stack.h"

/* ---- a fake environment ---- */

#define MAX_ENV 16
static struct {
	const char *name, *value;
} env_tab[MAX_ENV];
static size_t env_n;

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < env_n; i++)
		if (!strcmp(env_tab[i].name, name))
			return env_tab[i].value;
	return NULL;
}

static void env_clear(void)
{
	env_n = 0;
}

static void env_set(const char *name, const char *value)
{
	cr_assert_lt(env_n, MAX_ENV);
	env_tab[env_n].name = name;
	env_tab[env_n].value = value;
	env_n++;
}

/* Loads cfg with fd 2 sent to a temporary file (log.c writes with a raw write syscall, which
 * cr_redirect_stderr would not see), and returns what was written there. */
static char *load_capture(struct dbp_config *cfg)
{
	static char out[8192];
	FILE *tmp = tmpfile();
	cr_assert_not_null(tmp);
	fflush(stderr);
	int saved = dup(2);
	cr_assert_geq(saved, 0);
	cr_assert_geq(dup2(fileno(tmp), 2), 0);
	memset(cfg, 0xa5, sizeof *cfg); /* load must not depend on what was there */
	dbp_config_load(cfg, fake_getenv);
	cr_assert_geq(dup2(saved, 2), 0);
	close(saved);
	cr_assert_eq(fseek(tmp, 0, SEEK_SET), 0);
	size_t n = fread(out, 1, sizeof out - 1, tmp);
	out[n] = 0;
	fclose(tmp);
	return out;
}

/* Loads and expects no output at all. */
static void load_quiet(struct dbp_config *cfg)
{
	const char *err = load_capture(cfg);
	cr_assert_str_empty(err, "unexpected warning: %s", err);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The basename of this executable, the service default. */
static const char *exe_basename(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	cr_assert_gt(n, 0);
	path[n] = 0;
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void expect_defaults_except(const struct dbp_config *c, const char *except)
{
	if (strcmp(except, "DBPROBE_DISABLE"))
		cr_assert_eq(c->disabled, 0);
	if (strcmp(except, "DBPROBE_HOOKS"))
		cr_assert_eq(c->shims, DBP_SHIM_ALL);
	if (strcmp(except, "DBPROBE_QUERY_TEXT"))
		cr_assert_eq(c->qtext, DBP_QTEXT_NORMALIZED);
	if (strcmp(except, "DBPROBE_SLOW_MS"))
		cr_assert_eq(c->slow_ns, 100000000ull);
	if (strcmp(except, "DBPROBE_LOG"))
		cr_assert_eq(c->log, 0);
	if (strcmp(except, "DBPROBE_BUFFER_KB"))
		cr_assert_eq(c->buffer_bytes, 524288);
	if (strcmp(except, "DBPROBE_SOCKET"))
		cr_assert_str_eq(c->socket_path, "/tmp/dbprobe.sock");
	if (strcmp(except, "DBPROBE_STACKS"))
		cr_assert_eq(c->stacks, DBP_STACKS_SAMPLED);
	if (strcmp(except, "DBPROBE_STACK_DEPTH"))
		cr_assert_eq(c->stack_depth, 32);
	if (strcmp(except, "OTEL_SERVICE_NAME"))
		cr_assert_str_eq(c->service, exe_basename());
}

/* One variable set to an invalid value: exactly one line, "dbprobe[pid]: NAME='value' ...
 * using the default DEFAULT", and every setting at its default. */
static void expect_warning(const char *name, const char *value, const char *dflt)
{
	struct dbp_config c;
	char head[4096 + 64], tail[256];

	env_clear();
	env_set(name, value);
	const char *err = load_capture(&c);
	cr_assert_eq(count_lines(err), 1, "%s='%s': want one line, got: %s", name, value, err);
	/* Warnings quote at most 64 bytes of the value, then "...", control characters as '?'. */
	char quoted[80];
	snprintf(quoted, sizeof quoted, "%.64s%s", value, strlen(value) > 64 ? "..." : "");
	for (char *p = quoted; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	snprintf(head, sizeof head, "dbprobe[%d]: %s='%s'", (int)getpid(), name, quoted);
	cr_assert_eq(strncmp(err, head, strlen(head)), 0, "got: %s\nwant start: %s", err, head);
	snprintf(tail, sizeof tail, "using the default %s\n", dflt);
	size_t el = strlen(err), tl = strlen(tail);
	cr_assert(el >= tl && !strcmp(err + el - tl, tail), "got: %s\nwant end: %s", err, tail);
	expect_defaults_except(&c, "");
}

/* ---- defaults ---- */

Test(config, defaults_when_nothing_is_set)
{
	struct dbp_config c;

	env_clear();
	load_quiet(&c);
	expect_defaults_except(&c, "");
	cr_assert_eq(DBP_DEFAULT_SLOW_MS, 100);
	cr_assert_eq(DBP_DEFAULT_BUFFER_KB, 512);
	cr_assert_str_eq(DBP_DEFAULT_SOCKET, "/tmp/dbprobe.sock");
	cr_assert_str_not_empty(c.service);
	cr_assert_null(strchr(c.service, '/'), "service is a basename: %s", c.service);
}

Test(config, unrelated_variables_are_ignored)
{
	struct dbp_config c;

	env_clear();
	env_set("DBPROBE_BOGUS", "1");
	env_set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x");
	env_set("dbprobe_disable", "1"); /* names are case-sensitive */
	load_quiet(&c);
	expect_defaults_except(&c, "");
}

/* ---- valid values ---- */

Test(config, disable_valid)
{
	struct dbp_config c;
	const char *on[] = { "1", "true", "TRUE", "yes", "Yes", "on", "ON" };
	const char *off[] = { "0", "false", "False", "no", "NO", "off", "Off", "" };

	for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
		env_clear();
		env_set("DBPROBE_DISABLE", on[i]);
		load_quiet(&c);
		cr_assert_eq(c.disabled, 1, "DBPROBE_DISABLE=%s", on[i]);
		expect_defaults_except(&c, "DBPROBE_DISABLE");
	}
	for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
		env_clear();
		env_set("DBPROBE_DISABLE", off[i]);
		load_quiet(&c);
		cr_assert_eq(c.disabled, 0, "DBPROBE_DISABLE=%s", off[i]);
		expect_defaults_except(&c, "");
	}
}

Test(config, hooks_valid)
{
	struct dbp_config c;
	const struct {
		const char *v;
		unsigned mask;
	} cases[] = {
		{ "sqlite", DBP_SHIM_SQLITE },
		{ "sqlite3", DBP_SHIM_SQLITE },
		{ "SQLite", DBP_SHIM_SQLITE },
		{ "SQLITE3", DBP_SHIM_SQLITE },
		{ "pq", DBP_SHIM_PQ },
		{ "libpq", DBP_SHIM_PQ },
		{ "PostgreSQL", DBP_SHIM_PQ },
		{ "sqlite,pq", DBP_SHIM_SQLITE | DBP_SHIM_PQ },
		{ "mysql", DBP_SHIM_MYSQL },
		{ "MariaDB,pq", DBP_SHIM_MYSQL | DBP_SHIM_PQ },
		{ "all", DBP_SHIM_ALL },
		{ "ALL", DBP_SHIM_ALL },
		{ "All", DBP_SHIM_ALL },
		{ "none", 0 },
		{ "NONE", 0 },
		{ "None", 0 },
		{ "sqlite,sqlite3", DBP_SHIM_SQLITE },
		{ " sqlite ", DBP_SHIM_SQLITE },
		{ ",,sqlite,,", DBP_SHIM_SQLITE },
		{ "none, sqlite", DBP_SHIM_SQLITE },
		{ "sqlite ,  none", DBP_SHIM_SQLITE },
		{ "none,none", 0 },
		{ "none all", DBP_SHIM_ALL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		env_set("DBPROBE_HOOKS", cases[i].v);
		load_quiet(&c);
		cr_assert_eq(c.shims, cases[i].mask, "DBPROBE_HOOKS='%s'", cases[i].v);
		expect_defaults_except(&c, "DBPROBE_HOOKS");
	}
}

Test(config, query_text_valid)
{
	struct dbp_config c;
	const struct {
		const char *v;
		enum dbp_qtext q;
	} cases[] = {
		{ "normalized", DBP_QTEXT_NORMALIZED },
		{ "NORMALIZED", DBP_QTEXT_NORMALIZED },
		{ "raw", DBP_QTEXT_RAW },
		{ "Raw", DBP_QTEXT_RAW },
		{ "off", DBP_QTEXT_OFF },
		{ "OFF", DBP_QTEXT_OFF },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		env_set("DBPROBE_QUERY_TEXT", cases[i].v);
		load_quiet(&c);
		cr_assert_eq(c.qtext, cases[i].q, "DBPROBE_QUERY_TEXT=%s", cases[i].v);
		expect_defaults_except(&c, "DBPROBE_QUERY_TEXT");
	}
}

Test(config, slow_ms_valid)
{
	struct dbp_config c;
	const struct {
		const char *v;
		uint64_t ns;
	} cases[] = {
		{ "0", 0 },
		{ "1", 1000000ull },
		{ "250", 250000000ull },
		{ "007", 7000000ull },
		{ "86400000", 86400000000000ull },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		env_set("DBPROBE_SLOW_MS", cases[i].v);
		load_quiet(&c);
		cr_assert_eq(c.slow_ns, cases[i].ns, "DBPROBE_SLOW_MS=%s", cases[i].v);
		expect_defaults_except(&c, "DBPROBE_SLOW_MS");
	}
}

Test(config, log_valid)
{
	struct dbp_config c;
	const struct {
		const char *v;
		int level;
	} cases[] = {
		{ "0", 0 },  { "off", 0 },  { "false", 0 }, { "no", 0 },    { "", 0 },
		{ "1", 1 },  { "info", 1 }, { "INFO", 1 },  { "true", 1 },  { "yes", 1 },
		{ "on", 1 }, { "2", 2 },    { "debug", 2 }, { "DEBUG", 2 }, { "Debug", 2 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		env_set("DBPROBE_LOG", cases[i].v);
		load_quiet(&c);
		cr_assert_eq(c.log, cases[i].level, "DBPROBE_LOG=%s", cases[i].v);
		expect_defaults_except(&c, "DBPROBE_LOG");
	}
}

Test(config, buffer_kb_valid)
{
	struct dbp_config c;
	const struct {
		const char *v;
		size_t bytes;
	} cases[] = {
		{ "16", 16384 },
		{ "64", 65536 },
		{ "256", 262144 },
		{ "1048576", 1073741824ull },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		env_set("DBPROBE_BUFFER_KB", cases[i].v);
		load_quiet(&c);
		cr_assert_eq(c.buffer_bytes, cases[i].bytes, "DBPROBE_BUFFER_KB=%s", cases[i].v);
		expect_defaults_except(&c, "DBPROBE_BUFFER_KB");
	}
}

Test(config, stacks_valid)
{
	struct dbp_config c;
	const struct {
		const char *v;
		int mode;
	} cases[] = {
		{ "sampled", DBP_STACKS_SAMPLED }, { "off", DBP_STACKS_OFF },
		{ "all", DBP_STACKS_ALL },         { "ALL", DBP_STACKS_ALL },
		{ "Off", DBP_STACKS_OFF },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		env_set("DBPROBE_STACKS", cases[i].v);
		load_quiet(&c);
		cr_assert_eq(c.stacks, cases[i].mode, "DBPROBE_STACKS=%s", cases[i].v);
		expect_defaults_except(&c, "DBPROBE_STACKS");
	}
}

Test(config, stack_depth_valid)
{
	struct dbp_config c;
	const struct {
		const char *v;
		int depth;
	} cases[] = { { "1", 1 }, { "32", 32 }, { "128", 128 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		env_set("DBPROBE_STACK_DEPTH", cases[i].v);
		load_quiet(&c);
		cr_assert_eq(c.stack_depth, cases[i].depth, "DBPROBE_STACK_DEPTH=%s", cases[i].v);
		expect_defaults_except(&c, "DBPROBE_STACK_DEPTH");
	}
}

Test(config, stacks_invalid)
{
	const char *bad[] = { "", "on", "1", "sample", "all ", "everything" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_STACKS", bad[i], "sampled");
}

Test(config, stack_depth_invalid)
{
	const char *bad[] = { "", "0", "129", "-1", "32 ", "deep", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_STACK_DEPTH", bad[i], "32");
}

Test(config, socket_valid)
{
	struct dbp_config c;
	char longest[108];

	env_clear();
	env_set("DBPROBE_SOCKET", "/run/dbprobe/agent.sock");
	load_quiet(&c);
	cr_assert_str_eq(c.socket_path, "/run/dbprobe/agent.sock");
	expect_defaults_except(&c, "DBPROBE_SOCKET");

	/* sun_path holds 108 bytes with the terminator: 107 characters is the longest. */
	memset(longest, 'p', sizeof longest - 1);
	longest[0] = '/';
	longest[sizeof longest - 1] = 0;
	env_clear();
	env_set("DBPROBE_SOCKET", longest);
	load_quiet(&c);
	cr_assert_str_eq(c.socket_path, longest);
	cr_assert_eq(strlen(c.socket_path), 107);
}

Test(config, service_name_valid)
{
	struct dbp_config c;
	char longest[256];

	env_clear();
	env_set("OTEL_SERVICE_NAME", "checkout-api");
	load_quiet(&c);
	cr_assert_str_eq(c.service, "checkout-api");
	expect_defaults_except(&c, "OTEL_SERVICE_NAME");

	memset(longest, 's', sizeof longest - 1);
	longest[sizeof longest - 1] = 0;
	env_clear();
	env_set("OTEL_SERVICE_NAME", longest);
	load_quiet(&c);
	cr_assert_str_eq(c.service, longest);
	cr_assert_eq(strlen(c.service), 255);
}

Test(config, all_valid_together)
{
	struct dbp_config c;

	env_clear();
	env_set("DBPROBE_DISABLE", "yes");
	env_set("DBPROBE_HOOKS", "none");
	env_set("DBPROBE_QUERY_TEXT", "raw");
	env_set("DBPROBE_SLOW_MS", "5");
	env_set("DBPROBE_LOG", "debug");
	env_set("DBPROBE_BUFFER_KB", "32");
	env_set("DBPROBE_SOCKET", "/x.sock");
	env_set("OTEL_SERVICE_NAME", "svc");
	load_quiet(&c);
	cr_assert_eq(c.disabled, 1);
	cr_assert_eq(c.shims, 0);
	cr_assert_eq(c.qtext, DBP_QTEXT_RAW);
	cr_assert_eq(c.slow_ns, 5000000ull);
	cr_assert_eq(c.log, 2);
	cr_assert_eq(c.buffer_bytes, 32768);
	cr_assert_str_eq(c.socket_path, "/x.sock");
	cr_assert_str_eq(c.service, "svc");
}

/* ---- invalid values: one warning each, default kept ---- */

Test(config, disable_invalid)
{
	const char *bad[] = { "2", "maybe", " 1", "1 ", "truee", "-1", "01" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_DISABLE", bad[i], "0");
}

Test(config, hooks_invalid)
{
	const char *bad[] = { "pg",    "sqlite,pgsql", "mysqli",     "sqlite4",
			      "sqlit", "all,bogus",    "sqlite;all", "sqlite\t" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_HOOKS", bad[i], "all");
}

Test(config, warning_stays_one_short_line)
{
	/* A newline in a value must not split the warning; a huge value is cut. */
	expect_warning("DBPROBE_LOG", "a\nb", "off");
	char big[700];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	expect_warning("DBPROBE_SLOW_MS", big, "100");
}

Test(config, hooks_empty_means_default)
{
	struct dbp_config c;
	env_clear();
	env_set("DBPROBE_HOOKS", ",, ");
	const char *err = load_capture(&c);
	cr_assert_str_eq(err, "");
	cr_assert_eq(c.shims, DBP_SHIM_ALL);
}

Test(config, query_text_invalid)
{
	const char *bad[] = { "", "none", "normal", "raw ", "on", "1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_QUERY_TEXT", bad[i], "normalized");
}

Test(config, slow_ms_invalid)
{
	const char *bad[] = { "",
			      "-1",
			      "+5",
			      " 5",
			      "5 ",
			      "5ms",
			      "abc",
			      "1.5",
			      "0x10",
			      "86400001",
			      "18446744073709551616",
			      "99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_SLOW_MS", bad[i], "100");
}

Test(config, log_invalid)
{
	const char *bad[] = { "3", "verbose", "trace", "-1", " info", "debug2" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_LOG", bad[i], "off");
}

Test(config, buffer_kb_invalid)
{
	const char *bad[] = { "", "0", "15", "1048577", "-16", "16k", "4294967296", " 64" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("DBPROBE_BUFFER_KB", bad[i], "512");
}

Test(config, socket_invalid)
{
	char too_long[109];

	memset(too_long, 'p', sizeof too_long - 1);
	too_long[0] = '/';
	too_long[sizeof too_long - 1] = 0; /* 108 characters: no room for the terminator */
	expect_warning("DBPROBE_SOCKET", "", "/tmp/dbprobe.sock");
	expect_warning("DBPROBE_SOCKET", too_long, "/tmp/dbprobe.sock");
}

Test(config, service_name_invalid)
{
	char too_long[257];

	memset(too_long, 's', sizeof too_long - 1);
	too_long[sizeof too_long - 1] = 0; /* 256 characters */
	expect_warning("OTEL_SERVICE_NAME", "", "(the executable's name)");
	expect_warning("OTEL_SERVICE_NAME", too_long, "(the executable's name)");
}

Test(config, every_variable_invalid_at_once)
{
	struct dbp_config c;
	const char *names[] = { "DBPROBE_DISABLE",    "DBPROBE_HOOKS",     "DBPROBE_QUERY_TEXT",
				"DBPROBE_SLOW_MS",    "DBPROBE_LOG",       "DBPROBE_BUFFER_KB",
				"DBPROBE_SOCKET",     "OTEL_SERVICE_NAME", "DBPROBE_STACKS",
				"DBPROBE_STACK_DEPTH" };

	env_clear();
	env_set("DBPROBE_DISABLE", "x");
	env_set("DBPROBE_HOOKS", "x");
	env_set("DBPROBE_QUERY_TEXT", "x");
	env_set("DBPROBE_SLOW_MS", "x");
	env_set("DBPROBE_LOG", "x");
	env_set("DBPROBE_BUFFER_KB", "x");
	env_set("DBPROBE_SOCKET", "");
	env_set("OTEL_SERVICE_NAME", "");
	env_set("DBPROBE_STACKS", "x");
	env_set("DBPROBE_STACK_DEPTH", "x");
	const char *err = load_capture(&c);
	cr_assert_eq(count_lines(err), 10, "got: %s", err);
	/* Each line names exactly one variable, and each variable has a line of its own. */
	int named[10] = { 0 };
	const char *line = err;
	for (size_t i = 0; i < 10; i++) {
		const char *nl = strchr(line, '\n');
		cr_assert_not_null(nl);
		size_t hits = 0;
		for (size_t k = 0; k < 10; k++) {
			char pat[64];
			snprintf(pat, sizeof pat, " %s='", names[k]);
			const char *at = strstr(line, pat);
			if (at && at < nl) {
				hits++;
				named[k]++;
			}
		}
		cr_assert_eq(hits, 1, "line %zu: %.*s", i, (int)(nl - line), line);
		line = nl + 1;
	}
	for (size_t k = 0; k < 10; k++)
		cr_assert_eq(named[k], 1, "%s", names[k]);
	expect_defaults_except(&c, "");
}

Test(config, bad_value_does_not_disturb_good_ones)
{
	struct dbp_config c;

	env_clear();
	env_set("DBPROBE_SLOW_MS", "fast");
	env_set("DBPROBE_LOG", "info");
	env_set("DBPROBE_BUFFER_KB", "128");
	const char *err = load_capture(&c);
	cr_assert_eq(count_lines(err), 1, "got: %s", err);
	cr_assert_not_null(strstr(err, "DBPROBE_SLOW_MS='fast'"));
	cr_assert_eq(c.slow_ns, 100000000ull);
	cr_assert_eq(c.log, 1);
	cr_assert_eq(c.buffer_bytes, 131072);
}

/* ---- traces ---- */

Test(config, trace_defaults)
{
	struct dbp_config c;
	env_clear();
	load_quiet(&c);
	cr_assert_eq(c.sampler, DBP_SAMPLER_PARENT_ON);
	cr_assert_eq(c.sampler_bound, UINT64_MAX);
	cr_assert_eq(c.sqlcomment, 0);
	cr_assert_not(c.parent.valid);
	cr_assert_str_empty(c.tracestate);
	cr_assert_str_empty(c.resource_attrs);
}

Test(config, samplers_valid)
{
	struct dbp_config c;
	static const struct {
		const char *name;
		int sampler;
	} ok[] = {
		{ "always_on", DBP_SAMPLER_ON },
		{ "always_off", DBP_SAMPLER_OFF },
		{ "traceidratio", DBP_SAMPLER_RATIO },
		{ "parentbased_always_on", DBP_SAMPLER_PARENT_ON },
		{ "parentbased_always_off", DBP_SAMPLER_PARENT_OFF },
		{ "parentbased_traceidratio", DBP_SAMPLER_PARENT_RATIO },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		env_clear();
		env_set("OTEL_TRACES_SAMPLER", ok[i].name);
		load_quiet(&c);
		cr_assert_eq(c.sampler, ok[i].sampler, "%s", ok[i].name);
		expect_defaults_except(&c, "");
	}
	env_clear();
	env_set("OTEL_TRACES_SAMPLER", "traceidratio");
	env_set("OTEL_TRACES_SAMPLER_ARG", "0.25");
	load_quiet(&c);
	cr_assert_eq(c.sampler_bound, 1ull << 62);
	env_clear();
	env_set("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
	env_set("OTEL_TRACES_SAMPLER_ARG", "0");
	load_quiet(&c);
	cr_assert_eq(c.sampler_bound, 0);
}

Test(config, samplers_invalid)
{
	const char *bad[] = { "on", "ALWAYS_ON", "jaeger_remote", "xray" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_warning("OTEL_TRACES_SAMPLER", bad[i], "parentbased_always_on");
	const char *badarg[] = { "1.5", "-0.1", "half", "0.5x" };
	for (size_t i = 0; i < sizeof badarg / sizeof badarg[0]; i++) {
		struct dbp_config c;
		env_clear();
		env_set("OTEL_TRACES_SAMPLER", "traceidratio");
		env_set("OTEL_TRACES_SAMPLER_ARG", badarg[i]);
		const char *err = load_capture(&c);
		cr_assert_eq(count_lines(err), 1, "%s", err);
		cr_assert(strstr(err, "OTEL_TRACES_SAMPLER_ARG='") && strstr(err, "default 1.0\n"),
			  "%s", err);
		cr_assert_eq(c.sampler_bound, UINT64_MAX);
	}
}

Test(config, traceparent_and_tracestate)
{
	struct dbp_config c;
	env_clear();
	env_set("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	env_set("TRACESTATE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	load_quiet(&c);
	cr_assert(c.parent.valid);
	cr_assert(c.parent.sampled);
	cr_assert_str_eq(c.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	expect_warning("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		       "none");
	expect_warning("TRACEPARENT", "junk", "none");
	/* A tracestate without a parent means nothing. */
	env_clear();
	env_set("TRACESTATE", "rojo=1");
	load_quiet(&c);
	cr_assert_str_empty(c.tracestate);
}

Test(config, sqlcomment)
{
	struct dbp_config c;
	env_clear();
	env_set("DBPROBE_SQLCOMMENT", "1");
	load_quiet(&c);
	cr_assert_eq(c.sqlcomment, 1);
	expect_warning("DBPROBE_SQLCOMMENT", "maybe", "0");
}

Test(config, resource_attributes_name_the_service)
{
	struct dbp_config c;
	env_clear();
	env_set("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, service.name = "
					    "pay%20api ,team=x");
	load_quiet(&c);
	cr_assert_str_eq(c.service, "pay api");
	cr_assert_str_eq(c.resource_attrs,
			 "deployment.environment=prod, service.name = pay%20api ,team=x");
	/* OTEL_SERVICE_NAME wins. */
	env_set("OTEL_SERVICE_NAME", "checkout");
	load_quiet(&c);
	cr_assert_str_eq(c.service, "checkout");
	/* Without service.name: the executable's name. */
	env_clear();
	env_set("OTEL_RESOURCE_ATTRIBUTES", "team=x");
	load_quiet(&c);
	cr_assert_str_eq(c.service, exe_basename());
}
