/* symbolize: module offsets to function, source file and line, with libdwfl. */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htab.h"
#include "wire.h"

enum file_state {
	FILE_UNCHECKED, /* not open (never yet, or closed to make room): opened and checked on use
			 */
	FILE_OPEN,      /* a Dwfl holds it; its build-id is the agent's */
	FILE_UNUSABLE,  /* missing, not a regular ELF file, or another build-id: offsets only */
};

/* One (path, build-id) as agents name it. */
struct symfile {
	struct dbp_hnode node; /* in files */
	enum file_state state;
	Dwfl *dwfl; /* FILE_OPEN only; one per file, the module reported at base 0 */
	Dwfl_Module *mod;
	uint64_t used;    /* z->tick at its last lookup: the least recently used closes first */
	const char *base; /* the last component of path: the module name libdwfl shows */
	size_t build_id_len;
	uint8_t build_id[DBP_BUILD_ID_MAX];
	char path[];
};

/* One address looked up in a usable file; function NULL when no name covers it. */
struct symres {
	struct dbp_hnode node; /* in results */
	const struct symfile *f;
	uint64_t addr;
	char *function, *file;
	unsigned line;
};

struct dbp_symbolizer {
	pthread_mutex_t lock;
	Dwfl_Callbacks cb;
	char *debuginfo_path; /* what cb.debuginfo_path points to; NULL: elfutils' default */
	struct dbp_htab files, results;
	unsigned nopen;
	uint64_t tick;
};

void dbp_sym_init_env(void)
{
	const char *opt = getenv("DBPROBE_DEBUGINFOD");
	if (!opt || strcmp(opt, "1"))
		unsetenv("DEBUGINFOD_URLS");
}

struct dbp_symbolizer *dbp_symbolizer_new(const char *debuginfo_path)
{
	struct dbp_symbolizer *z = calloc(1, sizeof *z);
	if (!z)
		return NULL;
	if (debuginfo_path && !(z->debuginfo_path = strdup(debuginfo_path))) {
		free(z);
		return NULL;
	}
	pthread_mutex_init(&z->lock, NULL);
	/* The main file is always reported by path; find_elf is never asked for it. Debug files:
	 * in the file itself, then by build-id and .gnu_debuglink along the debuginfo path (and
	 * from debuginfod if DEBUGINFOD_URLS is still set: see dbp_sym_init_env). */
	z->cb.find_elf = dwfl_build_id_find_elf;
	z->cb.find_debuginfo = dwfl_standard_find_debuginfo;
	z->cb.section_address = dwfl_offline_section_address;
	z->cb.debuginfo_path = &z->debuginfo_path;
	return z;
}

static void file_close(struct dbp_symbolizer *z, struct symfile *f)
{
	if (f->state != FILE_OPEN)
		return;
	dwfl_end(f->dwfl); /* closes the file's descriptor too */
	f->dwfl = NULL;
	f->mod = NULL;
	f->state = FILE_UNCHECKED;
	z->nopen--;
}

static void free_result(struct dbp_hnode *n, void *arg)
{
	(void)arg;
	struct symres *r = (struct symres *)n;
	free(r->function);
	free(r->file);
	free(r);
}

static void free_file(struct dbp_hnode *n, void *arg)
{
	file_close(arg, (struct symfile *)n);
	free(n);
}

static void flush_results(struct dbp_symbolizer *z)
{
	dbp_htab_each(&z->results, free_result, NULL);
	free(z->results.b);
	memset(&z->results, 0, sizeof z->results);
}

/* Results point at files: they go first. */
static void flush_all(struct dbp_symbolizer *z)
{
	flush_results(z);
	dbp_htab_each(&z->files, free_file, z);
	free(z->files.b);
	memset(&z->files, 0, sizeof z->files);
}

void dbp_symbolizer_free(struct dbp_symbolizer *z)
{
	if (!z)
		return;
	flush_all(z);
	pthread_mutex_destroy(&z->lock);
	free(z->debuginfo_path);
	free(z);
}

static uint64_t file_hash(const char *path, const uint8_t *bid, size_t bid_len)
{
	return dbp_hash_mix(dbp_hash_bytes(path, strlen(path)),
			    dbp_hash_bytes((const char *)bid, bid_len));
}

static struct symfile *file_get(struct dbp_symbolizer *z, const char *path, const uint8_t *bid,
				size_t bid_len)
{
	uint64_t h = file_hash(path, bid, bid_len);
	for (struct dbp_hnode *n = dbp_htab_first(&z->files, h); n; n = n->next) {
		struct symfile *f = (struct symfile *)n;
		if (n->hash == h && f->build_id_len == bid_len &&
		    (!bid_len || !memcmp(f->build_id, bid, bid_len)) && !strcmp(f->path, path))
			return f;
	}
	if (z->files.n >= DBP_SYM_FILES_MAX)
		flush_all(z);
	size_t len = strlen(path);
	struct symfile *f = calloc(1, sizeof *f + len + 1);
	if (!f)
		return NULL;
	f->node.hash = h;
	memcpy(f->path, path, len + 1);
	const char *slash = strrchr(f->path, '/');
	f->base = slash ? slash + 1 : f->path;
	f->build_id_len = bid_len;
	if (bid_len) /* bid may be NULL then */
		memcpy(f->build_id, bid, bid_len);
	if (dbp_htab_add(&z->files, &f->node) < 0) {
		free(f);
		return NULL;
	}
	return f;
}

struct lru {
	struct symfile *oldest;
};

static void find_lru(struct dbp_hnode *n, void *arg)
{
	struct lru *l = arg;
	struct symfile *f = (struct symfile *)n;
	if (f->state == FILE_OPEN && (!l->oldest || f->used < l->oldest->used))
		l->oldest = f;
}

/* Opens path for reading if it is a regular file; -1 otherwise. Agents of any user name the
 * files, and the exporter may run as root: opening a device has the driver's side effects
 * (/dev/watchdog arms a reboot), a FIFO blocks. So the name is resolved with O_PATH, which opens
 * nothing, the inode checked, and that same inode opened through /proc/self/fd: a rename
 * between check and open cannot swap another file in. */
static int open_regular(const char *path)
{
	if (path[0] != '/')
		return -1;
	int pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -1;
	struct stat sb;
	char proc[32];
	int fd = -1;
	if (fstat(pfd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
		fd = open(proc, O_RDONLY | O_CLOEXEC);
	}
	close(pfd);
	return fd;
}

/* Opens f and checks its build-id against the agent's. 0: FILE_OPEN; -1: not to be read. */
static int file_open(struct dbp_symbolizer *z, struct symfile *f)
{
	int fd = open_regular(f->path);
	if (fd < 0)
		return -1;
	if (z->nopen >= DBP_SYM_OPEN_MAX) {
		struct lru l = { NULL };
		dbp_htab_each(&z->files, find_lru, &l);
		if (l.oldest)
			file_close(z, l.oldest);
	}
	Dwfl *d = dwfl_begin(&z->cb);
	if (!d) {
		close(fd);
		return -1;
	}
	dwfl_report_begin(d);
	/* Base 0, p_vaddr added: module addresses are the ELF's own virtual addresses, which is
	 * what a frame's offset is for a shared object or PIE. For a fixed executable (ET_EXEC)
	 * libdwfl ignores the base: addresses are absolute, and so are its frames' offsets. */
	Dwfl_Module *m = dwfl_report_elf(d, f->base, f->path, fd, 0, true);
	if (!m) {
		close(fd); /* not taken over on failure */
		dwfl_end(d);
		return -1;
	}
	dwfl_report_end(d, NULL, NULL);
	/* The agent saw the file that was mapped; the one on disk now may be another (an upgrade
	 * renamed over it, a rebuild). Only the same build-id, or none on both sides, is trusted.
	 */
	const unsigned char *bits = NULL;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(m, &bits, &vaddr);
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(m, &bias);
	GElf_Ehdr eh;
	if (n < 0 || (size_t)n != f->build_id_len || (n && memcmp(bits, f->build_id, (size_t)n)) ||
	    !elf || !gelf_getehdr(elf, &eh) || (eh.e_type != ET_DYN && eh.e_type != ET_EXEC)) {
		dwfl_end(d);
		return -1;
	}
	f->dwfl = d;
	f->mod = m;
	f->state = FILE_OPEN;
	z->nopen++;
	return 0;
}

/* A subprogram's or inlined instance's name, through abstract origins and specifications. */
static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	return dwarf_attr_integrate(die, DW_AT_name, &a) ? dwarf_formstring(&a) : NULL;
}

/* The innermost function (inlined or not) whose DWARF scope covers addr, or NULL. */
static const char *dwarf_function(Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
	if (!cu)
		return NULL;
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes(cu, addr - bias, &scopes);
	const char *name = NULL;
	for (int i = 0; i < n; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			name = die_name(&scopes[i]);
			break;
		}
	}
	free(scopes);
	return name;
}

void dbp_sym_clean_path(char *p)
{
	int abs = p[0] == '/';
	char *root = p + abs, *out = root; /* out never passes in: components only shrink */
	const char *in = root;
	while (*in) {
		const char *slash = strchr(in, '/');
		size_t n = slash ? (size_t)(slash - in) : strlen(in);
		if (n == 2 && in[0] == '.' && in[1] == '.') {
			char *last = out; /* the last component kept, if any */
			while (last > root && last[-1] != '/')
				last--;
			if (out > root && !(out - last == 2 && last[0] == '.' && last[1] == '.')) {
				out = last > root ? last - 1 : root;
			} else if (!abs) { /* a relative path may climb; "/.." is "/" */
				if (out > root)
					*out++ = '/';
				*out++ = '.';
				*out++ = '.';
			}
		} else if (n && !(n == 1 && in[0] == '.')) {
			if (out > root)
				*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in += n;
		if (*in == '/')
			in++;
	}
	if (out == root && !abs)
		*out++ = '.';
	*out = 0;
}

/* Names reach JSON, which wants UTF-8: a byte that does not fit becomes '?', in place. */
static void fix_utf8(char *p)
{
	unsigned char *u = (unsigned char *)p;
	while (*u) {
		size_t n = *u < 0x80         ? 1
			   : (*u >> 5) == 6  ? 2
			   : (*u >> 4) == 14 ? 3
			   : (*u >> 3) == 30 ? 4
					     : 0;
		size_t k = 1;
		while (k < n && (u[k] >> 6) == 2)
			k++;
		if (!n || k < n) {
			*u++ = '?';
			continue;
		}
		u += n;
	}
}

/* Looks addr up in an open file and caches the answer. NULL when out of memory. */
static struct symres *resolve(struct dbp_symbolizer *z, struct symfile *f, uint64_t addr,
			      uint64_t h)
{
	const char *name = dwarf_function(f->mod, addr);
	if (!name) {
		GElf_Off off;
		GElf_Sym sym;
		const char *s = dwfl_module_addrinfo(f->mod, addr, &off, &sym, NULL, NULL, NULL);
		/* Sized symbols only: libdwfl falls back to the closest sizeless label below, which
		 * in a stripped file can belong to another function. */
		if (s && *s && sym.st_size && off < sym.st_size)
			name = s;
	}
	int line = 0;
	const char *src = NULL, *dir = NULL;
	Dwfl_Line *l = dwfl_module_getsrc(f->mod, addr);
	if (l) {
		src = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
		if (src && !*src)
			src = NULL;
		/* Build systems compile "../src/app.c" from a build directory: relative names are
		 * relative to the compilation directory. */
		if (src && src[0] != '/')
			dir = dwfl_line_comp_dir(l);
	}
	struct symres *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->node.hash = h;
	r->f = f;
	r->addr = addr;
	r->line = src && line > 0 ? (unsigned)line : 0;
	if (src && dir && *dir) {
		if (asprintf(&r->file, "%s/%s", dir, src) < 0)
			r->file = NULL;
	} else if (src) {
		r->file = strdup(src);
	}
	if ((name && !(r->function = strdup(name))) || (src && !r->file)) {
		free_result(&r->node, NULL);
		return NULL;
	}
	if (r->function)
		fix_utf8(r->function);
	if (r->file) {
		dbp_sym_clean_path(r->file);
		fix_utf8(r->file);
	}
	if (z->results.n >= DBP_SYM_RESULTS_MAX)
		flush_results(z);
	if (dbp_htab_add(&z->results, &r->node) < 0) {
		free_result(&r->node, NULL);
		return NULL;
	}
	return r;
}

static struct symres *result_find(struct dbp_symbolizer *z, const struct symfile *f, uint64_t addr,
				  uint64_t h)
{
	for (struct dbp_hnode *n = dbp_htab_first(&z->results, h); n; n = n->next) {
		struct symres *r = (struct symres *)n;
		if (n->hash == h && r->f == f && r->addr == addr)
			return r;
	}
	return NULL;
}

static char *offset_name(const char *path, uint64_t offset)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	char *s = NULL;
	if (asprintf(&s, "%s+0x%" PRIx64, *base ? base : "?", offset) < 0)
		return NULL;
	fix_utf8(s);
	return s;
}

int dbp_sym_lookup(struct dbp_symbolizer *z, const char *path, const uint8_t *build_id,
		   size_t build_id_len, uint64_t offset, unsigned flags, struct dbp_sym *out)
{
	memset(out, 0, sizeof *out);
	if (!z || build_id_len > DBP_BUILD_ID_MAX) { /* no file has such an id: offsets only */
		out->function = offset_name(path, offset);
		return out->function ? 0 : -1;
	}
	uint64_t addr = (flags & DBP_SYM_RETURN_ADDRESS) && offset ? offset - 1 : offset;
	pthread_mutex_lock(&z->lock);
	struct symfile *f = file_get(z, path, build_id, build_id_len);
	struct symres *r = NULL;
	int rc = -1;
	if (!f)
		goto out;
	f->used = ++z->tick;
	if (f->state != FILE_UNUSABLE) {
		uint64_t h = dbp_hash_mix((uintptr_t)f, addr);
		r = result_find(z, f, addr, h);
		if (!r) {
			if (f->state == FILE_UNCHECKED && file_open(z, f) < 0)
				f->state = FILE_UNUSABLE;
			if (f->state == FILE_OPEN && !(r = resolve(z, f, addr, h)))
				goto out;
		}
	}
	out->function = r && r->function ? strdup(r->function) : offset_name(f->path, offset);
	out->file = r && r->file ? strdup(r->file) : NULL;
	out->line = r ? r->line : 0;
	if (!out->function || (r && r->file && !out->file)) {
		dbp_sym_release(out);
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&z->lock);
	return rc;
}

void dbp_sym_release(struct dbp_sym *s)
{
	free(s->function);
	free(s->file);
	s->function = s->file = NULL;
	s->line = 0;
}
