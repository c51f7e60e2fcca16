/* symbolize: module offsets to function, source file and line, with libdwfl. */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

static int find_debug(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		      const char *file_name, const char *debuglink, GElf_Word debuglink_crc,
		      char **debuginfo_file_name);

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
	 * in the file itself, then by build-id and .gnu_debuglink along the debuginfo path, opened
	 * only if regular (find_debug). With DBPROBE_DEBUGINFOD=1 the operator chose elfutils'
	 * own lookup, servers included (see dbp_sym_init_env): it opens local candidates with
	 * plain open(). */
	const char *opt = getenv("DBPROBE_DEBUGINFOD");
	z->cb.find_elf = dwfl_build_id_find_elf;
	z->cb.find_debuginfo = opt && !strcmp(opt, "1") ? dwfl_standard_find_debuginfo : find_debug;
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

/* ---- separate debug files ----
 * libdwfl's standard lookup opens every candidate with plain open(), and some candidates are
 * named by the agent's file itself: its .gnu_debuglink may say "../../dev/watchdog", and
 * app.debug next to it may be a symlink to a device or a FIFO. Ours opens only through
 * open_regular(), uses a debuglink name only if it is one path component, and accepts a file
 * only if it is the right one: the same build-id as the main file, or (the main file has none)
 * the CRC-32 the debuglink records. */

#define DEFAULT_DEBUGINFO_PATH ":.debug:/usr/lib/debug" /* elfutils' */

/* CRC-32 (IEEE 802.3, reflected, as GNU debuglink's gnu_debuglink_crc32), a nibble at a time. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
	static const uint32_t t[16] = { 0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac,
					0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
					0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
					0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c };
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ t[crc & 15];
		crc = (crc >> 4) ^ t[crc & 15];
	}
	return ~crc;
}

static int crc_matches(int fd, uint32_t want)
{
	unsigned char buf[16384];
	uint32_t crc = 0;
	off_t off = 0;
	ssize_t n;
	while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
		crc = crc32_update(crc, buf, (size_t)n);
		off += n;
	}
	return n == 0 && crc == want;
}

static int build_id_matches(int fd, const uint8_t *bid, size_t len)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *bits;
	ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &bits) : -1;
	int ok = n > 0 && (size_t)n == len && !memcmp(bits, bid, len);
	elf_end(elf);
	return ok;
}

/* What a candidate must match: a build-id, or (len 0) the debuglink's CRC. */
struct want {
	const uint8_t *bid;
	size_t len;
	uint32_t crc;
};

/* Opens path if it is a regular file and the one wanted; on success *name is its path. */
static int try_debug(const char *path, const struct want *w, char **name)
{
	int fd = open_regular(path);
	if (fd < 0)
		return -1;
	if ((w->len ? build_id_matches(fd, w->bid, w->len) : crc_matches(fd, w->crc)) &&
	    (*name = strdup(path)))
		return fd;
	close(fd);
	return -1;
}

/* <dir>/.build-id/xx/yyyy.debug for each absolute directory of the path. */
static int find_by_build_id(const char *dirs, const struct want *w, char **name)
{
	char hex[2 * DBP_BUILD_ID_MAX + 1], path[PATH_MAX];
	if (w->len < 2 || w->len > DBP_BUILD_ID_MAX)
		return -1;
	for (size_t i = 0; i < w->len; i++)
		snprintf(hex + 2 * i, 3, "%02x", w->bid[i]);
	for (const char *d = dirs;; d++) {
		const char *end = strchrnul(d, ':');
		/* elfutils' flag turning CRC checks on or off: we always check */
		while (d < end && (*d == '+' || *d == '-'))
			d++;
		int n = (int)(end - d), fd = -1;
		if (n > 0 && d[0] == '/' &&
		    snprintf(path, sizeof path, "%.*s/.build-id/%.2s/%s.debug", n, d, hex,
			     hex + 2) < (int)sizeof path)
			fd = try_debug(path, w, name);
		if (fd >= 0 || !*end)
			return fd;
		d = end;
	}
}

/* link, a single component, in each directory of the path taken as elfutils does: empty, the
 * main file's directory; relative, under it; absolute, that directory followed by the main
 * file's (lexically cleaned: an agent's "/x/../.." does not climb out of it). */
static int find_by_link(const char *dirs, const char *file_name, const char *link,
			const struct want *w, char **name)
{
	char dir[PATH_MAX], clean[PATH_MAX], path[PATH_MAX];
	const char *slash = strrchr(file_name, '/');
	if (!*link || strchr(link, '/') || !strcmp(link, ".") || !strcmp(link, "..") ||
	    file_name[0] != '/' || (size_t)(slash - file_name) >= sizeof dir)
		return -1;
	memcpy(dir, file_name, (size_t)(slash - file_name));
	dir[slash - file_name] = 0;
	strcpy(clean, *dir ? dir : "/");
	dbp_sym_clean_path(clean);
	for (const char *d = dirs;; d++) {
		const char *end = strchrnul(d, ':');
		while (d < end && (*d == '+' || *d == '-'))
			d++;
		int n = (int)(end - d), len, fd = -1;
		if (n == 0)
			len = snprintf(path, sizeof path, "%s/%s", dir, link);
		else if (d[0] != '/')
			len = snprintf(path, sizeof path, "%s/%.*s/%s", dir, n, d, link);
		else
			len = snprintf(path, sizeof path, "%.*s%s/%s", n, d, clean, link);
		if (len < (int)sizeof path)
			fd = try_debug(path, w, name);
		if (fd >= 0 || !*end)
			return fd;
		d = end;
	}
}

/* If the ELF file at path has a .gnu_debugaltlink section naming name (dwz's file of debug
 * info shared by several), copies the build-id it gives to bid and returns its length; else 0.
 */
static size_t altlink_build_id(const char *path, const char *name, uint8_t *bid)
{
	int fd = open_regular(path);
	if (fd < 0)
		return 0;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx, len = 0;
	Elf_Scn *scn = NULL;
	if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0)
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *s = gelf_getshdr(scn, &sh)
						? elf_strptr(elf, shstrndx, sh.sh_name)
						: NULL;
			if (!s || strcmp(s, ".gnu_debugaltlink"))
				continue;
			Elf_Data *d = elf_getdata(scn, NULL);
			const char *p = d && d->d_buf ? d->d_buf : NULL;
			const char *nul = p ? memchr(p, 0, d->d_size) : NULL;
			size_t n = nul ? d->d_size - (size_t)(nul + 1 - p) : 0;
			if (nul && !strcmp(p, name) && n <= DBP_BUILD_ID_MAX) {
				memcpy(bid, nul + 1, n);
				len = n;
			}
			break;
		}
	elf_end(elf);
	close(fd);
	return len;
}

/* libdwfl's find_debuginfo callback (libdwfl.h): returns an open descriptor and sets
 * *debuginfo_file_name (malloc'ed), or returns -1 leaving it NULL: libdwfl would open() a name
 * left there. It is also asked for the dwz file a DWARF file's .gnu_debugaltlink names (then
 * file_name is that DWARF file and debuglink_crc 0): that one is looked up by its build-id. */
static int find_debug(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		      const char *file_name, const char *debuglink, GElf_Word debuglink_crc,
		      char **debuginfo_file_name)
{
	(void)modname;
	(void)base;
	const struct dbp_symbolizer *z = *userdata;
	const char *dirs = z && z->debuginfo_path ? z->debuginfo_path : DEFAULT_DEBUGINFO_PATH;
	uint8_t alt[DBP_BUILD_ID_MAX];
	struct want w = { NULL, 0, debuglink_crc };
	if (!file_name) {
		errno = ENOENT;
		return -1;
	}
	if (debuglink && !debuglink_crc && (w.len = altlink_build_id(file_name, debuglink, alt))) {
		w.bid = alt;
		return find_by_build_id(dirs, &w, debuginfo_file_name);
	}
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	int fd = -1;
	if (n > 0) {
		w.bid = bits;
		w.len = (size_t)n;
		fd = find_by_build_id(dirs, &w, debuginfo_file_name);
	}
	if (fd < 0 && debuglink)
		fd = find_by_link(dirs, file_name, debuglink, &w, debuginfo_file_name);
	if (fd < 0)
		errno = ENOENT;
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
	void **userdata; /* find_debug's: the debuginfo path */
	dwfl_module_info(m, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = z;
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
