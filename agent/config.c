/* config: the DBPROBE_* / OTEL_* environment, parsed once at start-up. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "stack.h"

struct dbp_config dbp_cfg;

/* Parses a whole decimal number in [lo, hi]; anything else (sign, junk, overflow) fails. */
static int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || !*s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A value as quoted in a warning: at most 64 bytes, control characters shown as '?', so a
 * warning stays one short line whatever the environment holds. Config is parsed on one
 * thread, once, so a static buffer will do. */
static const char *shown(const char *v)
{
	static char buf[72];
	size_t i = 0;
	for (; v[i] && i < 64; i++)
		buf[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	if (v[i])
		memcpy(buf + i, "...", 4);
	else
		buf[i] = 0;
	return buf;
}

static int hexdigit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static int is_true(const char *s)
{
	return !strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
	       !strcasecmp(s, "on");
}

static int is_false(const char *s)
{
	return !strcmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
	       !strcasecmp(s, "off") || !*s;
}

static const struct {
	const char *name;
	unsigned mask;
} shim_names[] = {
	{ "sqlite", DBP_SHIM_SQLITE }, { "sqlite3", DBP_SHIM_SQLITE }, { "pq", DBP_SHIM_PQ },
	{ "libpq", DBP_SHIM_PQ },      { "postgresql", DBP_SHIM_PQ },  { "mysql", DBP_SHIM_MYSQL },
	{ "mariadb", DBP_SHIM_MYSQL }, { "net", DBP_SHIM_NET },        { "socket", DBP_SHIM_NET },
	{ "sockets", DBP_SHIM_NET },
};

/* "sqlite,pq" -> mask; -1 when any name is unknown. "all" and "none" are accepted too. */
static long parse_shims(const char *s)
{
	unsigned mask = 0;
	while (*s) {
		size_t n = strcspn(s, ", ");
		if (n) {
			unsigned m = 0;
			if (n == 3 && !strncasecmp(s, "all", 3))
				m = DBP_SHIM_ALL;
			else if (n == 4 && !strncasecmp(s, "none", 4))
				m = 0;
			else {
				size_t i;
				for (i = 0; i < sizeof shim_names / sizeof shim_names[0]; i++)
					if (strlen(shim_names[i].name) == n &&
					    !strncasecmp(s, shim_names[i].name, n))
						break;
				if (i == sizeof shim_names / sizeof shim_names[0])
					return -1;
				m = shim_names[i].mask;
			}
			mask |= m;
		}
		s += n;
		s += strspn(s, ", ");
	}
	return mask;
}

static void default_service(char *out, size_t cap)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	const char *name = "unknown";
	if (n > 0) {
		path[n] = 0;
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	size_t len = strlen(name);
	if (len >= cap)
		len = cap - 1;
	memcpy(out, name, len);
	out[len] = 0;
}

/* service.name=... in OTEL_RESOURCE_ATTRIBUTES ("k=v,k=v", values percent-encoded): 0 and
 * the value in out, or -1 when absent, empty or too long. */
static int resource_service(const char *attrs, char *out, size_t cap)
{
	const char *p = attrs;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *k = p;
		while (k < p + n && *k == ' ')
			k++;
		if (!strncmp(k, "service.name", 12)) {
			const char *e = k + 12;
			while (e < p + n && *e == ' ')
				e++;
			if (e < p + n && *e == '=') {
				e++;
				while (e < p + n && *e == ' ')
					e++;
				const char *end = p + n;
				while (end > e && end[-1] == ' ')
					end--;
				size_t o = 0;
				for (; e < end && o + 1 < cap; e++) {
					int hi, lo;
					if (*e == '%' && end - e > 2 && (hi = hexdigit(e[1])) >= 0 &&
					    (lo = hexdigit(e[2])) >= 0) {
						out[o++] = (char)(hi << 4 | lo);
						e += 2;
					} else {
						out[o++] = *e;
					}
				}
				if (!o || e < end)
					return -1;
				out[o] = 0;
				return 0;
			}
		}
		p += n;
		if (*p)
			p++;
	}
	return -1;
}

static const struct {
	const char *name;
	int sampler;
} sampler_names[] = {
	{ "parentbased_always_on", DBP_SAMPLER_PARENT_ON },
	{ "parentbased_always_off", DBP_SAMPLER_PARENT_OFF },
	{ "parentbased_traceidratio", DBP_SAMPLER_PARENT_RATIO },
	{ "always_on", DBP_SAMPLER_ON },
	{ "always_off", DBP_SAMPLER_OFF },
	{ "traceidratio", DBP_SAMPLER_RATIO },
};

static void load_traces(struct dbp_config *cfg, const char *(*env)(const char *))
{
	const char *v;
	cfg->sampler = DBP_SAMPLER_PARENT_ON;
	cfg->sampler_ratio = 1.0;
	if ((v = env("OTEL_TRACES_SAMPLER")) && *v) {
		size_t i;
		for (i = 0; i < sizeof sampler_names / sizeof sampler_names[0]; i++)
			if (!strcmp(v, sampler_names[i].name))
				break;
		if (i < sizeof sampler_names / sizeof sampler_names[0])
			cfg->sampler = sampler_names[i].sampler;
		else
			dbp_warn("OTEL_TRACES_SAMPLER='%s' is not always_on, always_off, "
				 "traceidratio or parentbased_always_on|always_off|traceidratio; "
				 "using the default parentbased_always_on",
				 shown(v));
	}
	int ratio = cfg->sampler == DBP_SAMPLER_RATIO || cfg->sampler == DBP_SAMPLER_PARENT_RATIO;
	if ((v = env("OTEL_TRACES_SAMPLER_ARG")) && *v && ratio) {
		char *end;
		errno = 0;
		double r = strtod(v, &end);
		if (!errno && !*end && r >= 0.0 && r <= 1.0)
			cfg->sampler_ratio = r;
		else
			dbp_warn("OTEL_TRACES_SAMPLER_ARG='%s' is not a ratio from 0 to 1; using "
				 "the default 1.0",
				 shown(v));
	}
	cfg->sampler_bound = cfg->sampler_ratio >= 1.0
				     ? UINT64_MAX
				     : (uint64_t)(cfg->sampler_ratio * 18446744073709551616.0);
	if ((v = env("DBPROBE_SQLCOMMENT"))) {
		if (is_true(v))
			cfg->sqlcomment = 1;
		else if (!is_false(v))
			dbp_warn("DBPROBE_SQLCOMMENT='%s' is not 0 or 1; using the default 0",
				 shown(v));
	}
	if ((v = env("TRACEPARENT")) && *v && dbp_trace_parse_parent(v, &cfg->parent) < 0)
		dbp_warn("TRACEPARENT='%s' is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 "
			 "hex>), so each call starts a trace of its own; using the default none",
			 shown(v));
	if ((v = env("TRACESTATE")) && *v && cfg->parent.valid) {
		if (strlen(v) <= 512)
			strcpy(cfg->tracestate, v);
		else
			dbp_warn("TRACESTATE='%s' is longer than 512 characters; using the "
				 "default none",
				 shown(v));
	}
}

void dbp_config_load(struct dbp_config *cfg, const char *(*env)(const char *))
{
	const char *v;
	uint64_t n;

	memset(cfg, 0, sizeof *cfg);
	cfg->shims = DBP_SHIM_ALL;
	cfg->qtext = DBP_QTEXT_NORMALIZED;
	cfg->slow_ns = DBP_DEFAULT_SLOW_MS * 1000000ull;
	cfg->buffer_bytes = DBP_DEFAULT_BUFFER_KB * 1024ull;
	cfg->stacks = DBP_STACKS_SAMPLED;
	cfg->stack_depth = DBP_DEFAULT_STACK_DEPTH;
	strcpy(cfg->socket_path, DBP_DEFAULT_SOCKET);

	if ((v = env("DBPROBE_DISABLE"))) {
		if (is_true(v))
			cfg->disabled = 1;
		else if (!is_false(v))
			dbp_warn("DBPROBE_DISABLE='%s' is not 0 or 1; using the default 0",
				 shown(v));
	}
	if ((v = env("DBPROBE_LOG"))) {
		if (is_false(v))
			cfg->log = 0;
		else if (is_true(v) || !strcasecmp(v, "info"))
			cfg->log = 1;
		else if (!strcasecmp(v, "debug") || !strcmp(v, "2"))
			cfg->log = 2;
		else
			dbp_warn(
				"DBPROBE_LOG='%s' is not off, info or debug; using the default off",
				shown(v));
	}
	/* Empty (or only separators) means unset: the default. "none" turns every hook off. */
	if ((v = env("DBPROBE_HOOKS")) && v[strspn(v, ", ")]) {
		long m = parse_shims(v);
		if (m < 0)
			dbp_warn("DBPROBE_HOOKS='%s' names an unknown hook (known: sqlite, pq, "
				 "mysql, net); using the default all",
				 shown(v));
		else
			cfg->shims = (unsigned)m;
	}
	if ((v = env("DBPROBE_QUERY_TEXT"))) {
		if (!strcasecmp(v, "normalized"))
			cfg->qtext = DBP_QTEXT_NORMALIZED;
		else if (!strcasecmp(v, "raw"))
			cfg->qtext = DBP_QTEXT_RAW;
		else if (!strcasecmp(v, "off"))
			cfg->qtext = DBP_QTEXT_OFF;
		else
			dbp_warn("DBPROBE_QUERY_TEXT='%s' is not normalized, raw or off; using the "
				 "default normalized",
				 shown(v));
	}
	if ((v = env("DBPROBE_SLOW_MS"))) {
		if (parse_uint(v, 0, 86400000, &n) == 0)
			cfg->slow_ns = n * 1000000ull;
		else
			dbp_warn("DBPROBE_SLOW_MS='%s' is not a whole number of milliseconds "
				 "(0..86400000); using the default %d",
				 shown(v), DBP_DEFAULT_SLOW_MS);
	}
	if ((v = env("DBPROBE_BUFFER_KB"))) {
		if (parse_uint(v, 16, 1048576, &n) == 0)
			cfg->buffer_bytes = n * 1024;
		else
			dbp_warn("DBPROBE_BUFFER_KB='%s' is not a whole number from 16 to 1048576; "
				 "using the default %d",
				 shown(v), DBP_DEFAULT_BUFFER_KB);
	}
	if ((v = env("DBPROBE_STACKS"))) {
		if (!strcasecmp(v, "sampled"))
			cfg->stacks = DBP_STACKS_SAMPLED;
		else if (!strcasecmp(v, "off"))
			cfg->stacks = DBP_STACKS_OFF;
		else if (!strcasecmp(v, "all"))
			cfg->stacks = DBP_STACKS_ALL;
		else
			dbp_warn(
				"DBPROBE_STACKS='%s' is not off, sampled or all; using the default "
				"sampled",
				shown(v));
	}
	if ((v = env("DBPROBE_STACK_DEPTH"))) {
		if (parse_uint(v, 1, DBP_STACK_MAX, &n) == 0)
			cfg->stack_depth = (int)n;
		else
			dbp_warn("DBPROBE_STACK_DEPTH='%s' is not a whole number from 1 to %u; "
				 "using "
				 "the default %d",
				 shown(v), DBP_STACK_MAX, DBP_DEFAULT_STACK_DEPTH);
	}
	if ((v = env("DBPROBE_SOCKET"))) {
		if (*v && strlen(v) < sizeof cfg->socket_path)
			strcpy(cfg->socket_path, v);
		else
			dbp_warn("DBPROBE_SOCKET='%s' is empty or longer than %zu bytes; using the "
				 "default %s",
				 shown(v), sizeof cfg->socket_path - 1, DBP_DEFAULT_SOCKET);
	}
	if ((v = env("OTEL_RESOURCE_ATTRIBUTES")) && *v) {
		if (strlen(v) < sizeof cfg->resource_attrs)
			strcpy(cfg->resource_attrs, v);
		else
			dbp_warn("OTEL_RESOURCE_ATTRIBUTES='%s' is longer than %zu bytes; using "
				 "the default none",
				 shown(v), sizeof cfg->resource_attrs - 1);
	}
	v = env("OTEL_SERVICE_NAME");
	if (v && *v && strlen(v) < sizeof cfg->service)
		strcpy(cfg->service, v);
	else {
		if (v)
			dbp_warn("OTEL_SERVICE_NAME='%s' is empty or too long; using the default "
				 "(the executable's name)",
				 shown(v));
		/* OpenTelemetry: OTEL_SERVICE_NAME first, then service.name among the resource
		 * attributes. */
		if (resource_service(cfg->resource_attrs, cfg->service, sizeof cfg->service) < 0)
			default_service(cfg->service, sizeof cfg->service);
	}
	load_traces(cfg, env);
}
