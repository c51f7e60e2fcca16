/* test_symbolize: exporter/symbolize.c on this test binary and on the symfix fixtures (PIE,
 * fixed, no build-id), their stripped copies, separate debug files, and files that are not the
 * ones the agent saw. Needs strip and objcopy (binutils). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbolize.h"

#ifndef SYMFIX_DIR
#error SYMFIX_DIR: the build directory holding the symfix fixtures
#endif

/* ---- fixtures ---- */

struct site {
	char function[64];
	unsigned line;
	uint64_t offset; /* a return address */
};

enum { LOCAL, EXPORTED, INLINED, NSITES };

struct fixture {
	char path[512];
	uint8_t build_id[64];
	size_t build_id_len;
	struct site sites[NSITES];
};

/* Runs the fixture: its build-id and call sites, as an agent would see them. */
static void load_fixture(struct fixture *fx, const char *name)
{
	char cmd[600], hex[160];
	memset(fx, 0, sizeof *fx);
	snprintf(fx->path, sizeof fx->path, "%s/%s", SYMFIX_DIR, name);
	snprintf(cmd, sizeof cmd, "'%s'", fx->path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "%s", strerror(errno));
	cr_assert_eq(fscanf(p, "build-id %159s", hex), 1);
	if (strcmp(hex, "none")) {
		fx->build_id_len = strlen(hex) / 2;
		for (size_t i = 0; i < fx->build_id_len; i++)
			cr_assert_eq(sscanf(hex + 2 * i, "%2hhx", &fx->build_id[i]), 1);
	}
	for (int i = 0; i < NSITES; i++) {
		struct site *s = &fx->sites[i];
		cr_assert_eq(fscanf(p, "%63s %u %" SCNx64, s->function, &s->line, &s->offset), 3,
			     "fixture %s output", name);
	}
	cr_assert_eq(pclose(p), 0);
	cr_assert_str_eq(fx->sites[LOCAL].function, "local_caller");
	cr_assert_str_eq(fx->sites[EXPORTED].function, "symfix_exported");
	cr_assert_str_eq(fx->sites[INLINED].function, "inlined_caller");
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static char tmp[64];

static void make_tmp(void)
{
	strcpy(tmp, "/tmp/dbp-sym-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void remove_tmp(void)
{
	if (tmp[0])
		sh("rm -rf '%s'", tmp);
}

/* Opening has effects of its own: a device runs its driver (/dev/watchdog arms a reboot), and
 * a FIFO releases a writer blocked in open(). Makes a FIFO at path and a child blocked opening
 * it for writing; whatever the symbolizer does with that FIFO, directly or through a symlink,
 * the writer must stay blocked (writer_still_blocked). */
static pid_t writer; /* killed by end_writer if a test fails before releasing it */

static void end_writer(void)
{
	if (writer > 0 && waitpid(writer, NULL, WNOHANG) == 0) {
		kill(writer, SIGKILL);
		waitpid(writer, NULL, 0);
	}
	writer = 0;
	remove_tmp();
}

static pid_t blocked_writer(const char *path)
{
	char ready;
	cr_assert_eq(mkfifo(path, 0600), 0);
	int sync[2];
	cr_assert_eq(pipe(sync), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(sync[0]);
		if (write(sync[1], "r", 1) != 1)
			_exit(2);
		_exit(open(path, O_WRONLY) >= 0 ? 0 : 1);
	}
	close(sync[1]);
	cr_assert_eq(read(sync[0], &ready, 1), 1);
	close(sync[0]);
	usleep(100000); /* the child is blocked in open() by now */
	return writer = pid;
}

/* Checks the writer is still blocked, then lets it go. */
static void writer_still_blocked(pid_t pid, const char *path)
{
	int status;
	usleep(100000);
	cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the symbolizer opened the FIFO");
	int r = open(path, O_RDONLY | O_NONBLOCK); /* lets the child go */
	cr_assert_geq(r, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	writer = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(r);
}

/* ---- expectations ---- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* file_suffix NULL: no source expected (line 0 too). */
static void expect(struct dbp_symbolizer *z, const char *path, const uint8_t *bid, size_t bid_len,
		   uint64_t offset, const char *function, const char *file_suffix, unsigned line)
{
	struct dbp_sym s;
	cr_assert_eq(dbp_sym_lookup(z, path, bid, bid_len, offset, DBP_SYM_RETURN_ADDRESS, &s), 0);
	cr_assert_not_null(s.function);
	cr_assert_str_eq(s.function, function, "%s+0x%llx", path, (unsigned long long)offset);
	if (file_suffix) {
		cr_assert_not_null(s.file, "%s: no source file", function);
		cr_assert(ends_with(s.file, file_suffix), "%s: file %s", function, s.file);
		cr_assert_eq(s.file[0], '/', "%s: file %s is relative", function, s.file);
		cr_assert_null(strstr(s.file, "/../"), "%s: file %s not cleaned", function, s.file);
		cr_assert_eq(s.line, line, "%s: line %u, want %u", function, s.line, line);
	} else {
		cr_assert_null(s.file, "%s: file %s", function, s.file);
		cr_assert_eq(s.line, 0);
	}
	dbp_sym_release(&s);
	cr_assert_null(s.function);
}

/* "basename+0xoffset", nothing else. */
static void expect_offset(struct dbp_symbolizer *z, const char *path, const uint8_t *bid,
			  size_t bid_len, uint64_t offset)
{
	char want[600];
	const char *slash = strrchr(path, '/');
	snprintf(want, sizeof want, "%s+0x%llx", slash ? slash + 1 : path,
		 (unsigned long long)offset);
	expect(z, path, bid, bid_len, offset, want, NULL, 0);
}

static const char FIXSRC[] = "/tests/unit/symfix.c";

/* Every site named by DWARF, with its line. */
static void expect_dwarf(struct dbp_symbolizer *z, const char *path, const struct fixture *fx)
{
	for (int i = 0; i < NSITES; i++)
		expect(z, path, fx->build_id, fx->build_id_len, fx->sites[i].offset,
		       fx->sites[i].function, FIXSRC, fx->sites[i].line);
}

/* ---- this test binary ---- */

struct self {
	uintptr_t bias;
	uint8_t build_id[64];
	size_t build_id_len;
};

static int self_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct self *me = arg;
	me->bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr),
			   *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const void *)p;
			const char *desc = (const char *)(n + 1) + ((n->n_namesz + 3) & ~3u);
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    n->n_descsz <= sizeof me->build_id) {
				memcpy(me->build_id, desc, n->n_descsz);
				me->build_id_len = n->n_descsz;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 1; /* the main program only */
}

static volatile int sink;

__attribute__((noinline)) static uintptr_t return_address(void)
{
	sink++;
	return (uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline)) static uintptr_t self_caller(unsigned *line)
{
	*line = __LINE__ + 1;
	uintptr_t ret = return_address();
	sink++;
	return ret;
}

Test(symbolize, this_test_binary)
{
	struct self me = { 0 };
	char exe[512];
	unsigned line;
	dl_iterate_phdr(self_object, &me);
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	cr_assert_gt(n, 0);
	exe[n] = 0;
	cr_assert_gt(me.build_id_len, 0, "this test is linked without a build-id");
	uint64_t off = self_caller(&line) - me.bias;

	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	cr_assert_not_null(z);
	expect(z, exe, me.build_id, me.build_id_len, off, "self_caller",
	       "/tests/unit/test_symbolize.c", line);
	/* Without the return-address flag the same instruction is offset - 1. */
	struct dbp_sym s;
	cr_assert_eq(dbp_sym_lookup(z, exe, me.build_id, me.build_id_len, off - 1, 0, &s), 0);
	cr_assert_str_eq(s.function, "self_caller");
	cr_assert_eq(s.line, line);
	dbp_sym_release(&s);
	/* Again, from the cache. */
	expect(z, exe, me.build_id, me.build_id_len, off, "self_caller",
	       "/tests/unit/test_symbolize.c", line);
	dbp_symbolizer_free(z);
}

/* ---- fixtures: PIE and fixed executables ---- */

Test(symbolize, pie_executable)
{
	struct fixture fx;
	load_fixture(&fx, "symfix_pie");
	cr_assert_gt(fx.build_id_len, 0);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect_dwarf(z, fx.path, &fx);
	dbp_symbolizer_free(z);
}

Test(symbolize, fixed_executable_absolute_addresses)
{
	struct fixture fx;
	load_fixture(&fx, "symfix_nopie");
	/* A fixed executable loads at its link address: offsets are absolute (x86-64's default
	 * base is 0x400000). */
	cr_assert_gt(fx.sites[LOCAL].offset, 0x400000);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect_dwarf(z, fx.path, &fx);
	dbp_symbolizer_free(z);
}

/* ---- stripped copies ---- */

Test(symbolize, symtab_names_without_debug_info, .fini = remove_tmp)
{
	struct fixture fx;
	char path[128];
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	snprintf(path, sizeof path, "%s/symfix_g", tmp);
	sh("strip --strip-debug -o '%s' '%s'", path, fx.path);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	const uint8_t *bid = fx.build_id;
	size_t n = fx.build_id_len;
	expect(z, path, bid, n, fx.sites[LOCAL].offset, "local_caller", NULL, 0);
	expect(z, path, bid, n, fx.sites[EXPORTED].offset, "symfix_exported", NULL, 0);
	/* No DWARF, no inlining known: the symbol covering the code. */
	expect(z, path, bid, n, fx.sites[INLINED].offset, "symfix_outer", NULL, 0);
	dbp_symbolizer_free(z);
}

Test(symbolize, dynsym_names_or_offsets_when_fully_stripped, .fini = remove_tmp)
{
	struct fixture fx;
	char path[128];
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	snprintf(path, sizeof path, "%s/symfix_s", tmp);
	sh("strip --strip-all -o '%s' '%s'", path, fx.path);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	const uint8_t *bid = fx.build_id;
	size_t n = fx.build_id_len;
	expect(z, path, bid, n, fx.sites[EXPORTED].offset, "symfix_exported", NULL, 0);
	expect(z, path, bid, n, fx.sites[INLINED].offset, "symfix_outer", NULL, 0);
	/* A static function has no symbol left: never the name of a neighbour. */
	expect_offset(z, path, bid, n, fx.sites[LOCAL].offset);
	dbp_symbolizer_free(z);
}

/* ---- separate debug files ---- */

Test(symbolize, debug_file_found_by_build_id, .fini = remove_tmp)
{
	struct fixture fx;
	char path[128], hex[140] = "";
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	for (size_t i = 1; i < fx.build_id_len; i++)
		sprintf(hex + 2 * (i - 1), "%02x", fx.build_id[i]);
	sh("mkdir -p '%s/debug/.build-id/%02x' && objcopy --only-keep-debug '%s' "
	   "'%s/debug/.build-id/%02x/%s.debug'",
	   tmp, fx.build_id[0], fx.path, tmp, fx.build_id[0], hex);
	snprintf(path, sizeof path, "%s/symfix_split", tmp);
	sh("strip --strip-debug -o '%s' '%s'", path, fx.path);
	char dbg[128];
	snprintf(dbg, sizeof dbg, "%s/debug", tmp);
	struct dbp_symbolizer *z = dbp_symbolizer_new(dbg);
	expect_dwarf(z, path, &fx);
	dbp_symbolizer_free(z);
	/* With elfutils' default path the debug file is not found: symbols only. */
	z = dbp_symbolizer_new(NULL);
	expect(z, path, fx.build_id, fx.build_id_len, fx.sites[LOCAL].offset, "local_caller", NULL,
	       0);
	dbp_symbolizer_free(z);
}

Test(symbolize, debug_file_found_by_debuglink, .fini = remove_tmp)
{
	struct fixture fx;
	char path[128];
	load_fixture(&fx, "symfix_nopie");
	make_tmp();
	snprintf(path, sizeof path, "%s/symfix_linked", tmp);
	sh("cd '%s' && objcopy --only-keep-debug '%s' symfix_linked.debug && "
	   "strip --strip-debug -o symfix_linked '%s' && "
	   "objcopy --add-gnu-debuglink=symfix_linked.debug symfix_linked",
	   tmp, fx.path, fx.path);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect_dwarf(z, path, &fx);
	dbp_symbolizer_free(z);
}

/* A stripped copy of fixture name at dir/base whose .gnu_debuglink names base.debug, written at
 * debug_at (a path). */
static void split(const char *name, const char *dir, const char *base, const char *debug_at)
{
	sh("mkdir -p '%s' && cd '%s' && objcopy --only-keep-debug '%s/%s' '%s.debug' && "
	   "strip --strip-debug -o '%s' '%s/%s' && objcopy --add-gnu-debuglink='%s.debug' '%s'",
	   dir, dir, SYMFIX_DIR, name, base, base, SYMFIX_DIR, name, base, base);
	char at[400];
	snprintf(at, sizeof at, "%s/%s.debug", dir, base);
	if (strcmp(at, debug_at))
		sh("mkdir -p \"$(dirname '%s')\" && mv '%s' '%s'", debug_at, at, debug_at);
}

Test(symbolize, debuglink_in_debug_subdir_and_under_debug_dir, .fini = remove_tmp)
{
	struct fixture fx;
	char dir[128], path[160], at[400], dbg[128];
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	snprintf(dir, sizeof dir, "%s/bin", tmp);
	/* <dir>/.debug/, under elfutils' default path. */
	snprintf(at, sizeof at, "%s/.debug/app.debug", dir);
	split("symfix_pie", dir, "app", at);
	snprintf(path, sizeof path, "%s/app", dir);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect_dwarf(z, path, &fx);
	dbp_symbolizer_free(z);
	/* <debugdir>/<dir>/, the file's directory named with "..": cleaned, still found. */
	snprintf(dbg, sizeof dbg, "%s/debug", tmp);
	snprintf(at, sizeof at, "%s%s/app2.debug", dbg, dir);
	split("symfix_pie", dir, "app2", at);
	snprintf(path, sizeof path, "%s/bin/../bin/app2", tmp);
	z = dbp_symbolizer_new(dbg);
	expect_dwarf(z, path, &fx);
	dbp_symbolizer_free(z);
}

Test(symbolize, debuglink_checked_by_crc_without_build_id, .fini = remove_tmp)
{
	struct fixture fx;
	char path[128], at[160];
	load_fixture(&fx, "symfix_noid");
	make_tmp();
	snprintf(path, sizeof path, "%s/noid", tmp);
	snprintf(at, sizeof at, "%s/noid.debug", tmp);
	split("symfix_noid", tmp, "noid", at);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect_dwarf(z, path, &fx);
	dbp_symbolizer_free(z);
	/* Another file under that name (here one byte more): its CRC differs, it is not read. */
	sh("printf x >> '%s'", at);
	z = dbp_symbolizer_new(NULL);
	expect(z, path, NULL, 0, fx.sites[LOCAL].offset, "local_caller", NULL, 0);
	dbp_symbolizer_free(z);
}

Test(symbolize, debuglink_never_opens_what_is_not_a_regular_file, .fini = end_writer, .timeout = 30)
{
	struct fixture fx;
	char fifo[128], dir[128], at[400], dbgpath[300], app[160], evil[160];
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
	pid_t pid = blocked_writer(fifo);
	snprintf(dir, sizeof dir, "%s/bin", tmp);
	/* app's debuglink names app.debug, which is (in each place looked at) a symlink to the
	 * FIFO: app.debug -> /dev/watchdog would be the same. */
	snprintf(at, sizeof at, "%s/app.debug", dir);
	split("symfix_pie", dir, "app", at);
	sh("cd '%s' && ln -sf ../fifo app.debug && mkdir .debug && ln -s '%s' .debug/app.debug && "
	   "mkdir -p '%s/debug%s' && ln -s '%s' '%s/debug%s/app.debug'",
	   dir, fifo, tmp, dir, fifo, tmp, dir);
	/* evil's debuglink is "../fifo": tried as elfutils would, it reaches the FIFO from each
	 * directory (<dir>/.., <dir>/.debug/.., <debugdir><dir>/..). */
	sh("cd '%s' && strip --strip-debug -o evil0 '%s' && printf "
	   "'../fifo\\000\\001\\002\\003\\004' "
	   ">link && objcopy --add-section .gnu_debuglink=link evil0 evil && ln -s '%s' "
	   ".debug/fifo "
	   "&& ln -s '%s' '%s/debug%s/../fifo' && ln -s '%s' '%s/fifo'",
	   dir, fx.path, fifo, fifo, tmp, dir, fifo, dir);
	snprintf(app, sizeof app, "%s/app", dir);
	snprintf(evil, sizeof evil, "%s/evil", dir);
	snprintf(dbgpath, sizeof dbgpath, ":.debug:%s/debug", tmp);
	struct dbp_symbolizer *z = dbp_symbolizer_new(dbgpath);
	for (int i = 0; i < NSITES; i += 2) { /* LOCAL, INLINED: .symtab names, nothing more */
		const char *want = i == LOCAL ? "local_caller" : "symfix_outer";
		expect(z, app, fx.build_id, fx.build_id_len, fx.sites[i].offset, want, NULL, 0);
		expect(z, evil, fx.build_id, fx.build_id_len, fx.sites[i].offset, want, NULL, 0);
	}
	dbp_symbolizer_free(z);
	writer_still_blocked(pid, fifo);
}

/* ---- files that are not the ones the agent saw ---- */

Test(symbolize, build_id_mismatch_gives_offsets)
{
	struct fixture fx;
	load_fixture(&fx, "symfix_pie");
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	uint8_t other[64];
	memcpy(other, fx.build_id, fx.build_id_len);
	other[fx.build_id_len - 1] ^= 1;
	for (int i = 0; i < NSITES; i++) {
		uint64_t off = fx.sites[i].offset;
		expect_offset(z, fx.path, other, fx.build_id_len, off);
		expect_offset(z, fx.path, fx.build_id, fx.build_id_len - 1, off); /* a prefix */
		/* The agent saw no build-id, the file has one: another file. */
		expect_offset(z, fx.path, NULL, 0, off);
		/* And the right one still resolves, from the same symbolizer. */
		expect(z, fx.path, fx.build_id, fx.build_id_len, off, fx.sites[i].function, FIXSRC,
		       fx.sites[i].line);
	}
	dbp_symbolizer_free(z);
}

Test(symbolize, no_build_id_on_either_side_is_trusted)
{
	struct fixture fx;
	load_fixture(&fx, "symfix_noid");
	cr_assert_eq(fx.build_id_len, 0);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect_dwarf(z, fx.path, &fx);
	const uint8_t bid[20] = { 1, 2, 3 };
	expect_offset(z, fx.path, bid, sizeof bid, fx.sites[LOCAL].offset);
	dbp_symbolizer_free(z);
}

Test(symbolize, replaced_binary_gives_offsets, .fini = remove_tmp)
{
	struct fixture fx, other;
	char path[128];
	load_fixture(&fx, "symfix_pie");
	load_fixture(&other, "symfix_noid");
	make_tmp();
	snprintf(path, sizeof path, "%s/app", tmp);
	sh("cp '%s' '%s'", fx.path, path);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect(z, path, fx.build_id, fx.build_id_len, fx.sites[LOCAL].offset, "local_caller",
	       FIXSRC, fx.sites[LOCAL].line);
	dbp_symbolizer_free(z);
	/* An upgrade renames another build over it while the program still runs the old one. */
	sh("cp '%s' '%s.new' && mv '%s.new' '%s'", other.path, path, path, path);
	z = dbp_symbolizer_new(NULL);
	for (int i = 0; i < NSITES; i++)
		expect_offset(z, path, fx.build_id, fx.build_id_len, fx.sites[i].offset);
	/* Deleted: the same. */
	cr_assert_eq(unlink(path), 0);
	expect_offset(z, path, fx.build_id, fx.build_id_len, 0x1234);
	dbp_symbolizer_free(z);
}

Test(symbolize, unreadable_paths_give_offsets, .fini = remove_tmp)
{
	struct fixture fx;
	char fifo[128];
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	const uint8_t *bid = fx.build_id;
	size_t n = fx.build_id_len;
	expect_offset(z, "/nonexistent/dir/libgone.so.1", bid, n, 0x10);
	expect_offset(z, fifo, bid, n, 0x10);                     /* never blocks on a FIFO */
	expect_offset(z, tmp, bid, n, 0x10);                      /* a directory */
	expect_offset(z, "/dev/zero", NULL, 0, 0x10);             /* a device */
	expect_offset(z, "/etc/hostname", NULL, 0, 0x10);         /* not ELF */
	expect_offset(z, "tests/symfix_pie", bid, n, 0x10);       /* relative to the program */
	expect(z, "", NULL, 0, 0x10, "?+0x10", NULL, 0);          /* no name at all */
	expect_offset(z, "[vdso]", NULL, 0, 0xfff);               /* not a file */
	expect(z, fx.path, bid, n, 0, "symfix_pie+0x0", NULL, 0); /* offset 0, nothing there */
	dbp_symbolizer_free(z);
	/* No symbolizer (out of memory at start-up): offsets. */
	expect_offset(NULL, fx.path, bid, n, fx.sites[LOCAL].offset);
}

Test(symbolize, only_regular_files_are_opened, .fini = end_writer)
{
	struct fixture fx;
	char fifo[128], link[128];
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
	pid_t pid = blocked_writer(fifo);
	snprintf(link, sizeof link, "%s/link-to-fifo", tmp);
	cr_assert_eq(symlink(fifo, link), 0);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect_offset(z, fifo, fx.build_id, fx.build_id_len, 0x10);
	expect_offset(z, link, fx.build_id, fx.build_id_len, 0x10);
	writer_still_blocked(pid, fifo);
	/* A symlink to a regular file is followed: libraries are usually reached through one. */
	snprintf(link, sizeof link, "%s/link-to-elf", tmp);
	cr_assert_eq(symlink(fx.path, link), 0);
	expect(z, link, fx.build_id, fx.build_id_len, fx.sites[LOCAL].offset, "local_caller",
	       FIXSRC, fx.sites[LOCAL].line);
	dbp_symbolizer_free(z);
}

/* ---- debuginfod ---- */

/* A debuginfod server that accepts connections and never answers; its URL in url. */
static int black_hole(char *url, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(fd, 64), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, len, "http://127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}

/* Connections the black hole received since last asked. */
static int contacts(int lfd)
{
	int n = 0, c;
	while ((c = accept(lfd, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	return n;
}

Test(symbolize, debuginfod_only_when_asked, .fini = remove_tmp, .timeout = 60)
{
	struct fixture pie, nopie;
	char pie_path[128], nopie_path[128], url[64], cache[128];
	load_fixture(&pie, "symfix_pie");
	load_fixture(&nopie, "symfix_nopie");
	make_tmp();
	/* No debug info in them nor under the default path: libdwfl's next stop is debuginfod.
	 * Two files, two build-ids: a lookup the client cached cannot pass for one not made. */
	snprintf(pie_path, sizeof pie_path, "%s/pie", tmp);
	snprintf(nopie_path, sizeof nopie_path, "%s/nopie", tmp);
	sh("strip --strip-debug -o '%s' '%s' && strip --strip-debug -o '%s' '%s'", pie_path,
	   pie.path, nopie_path, nopie.path);
	snprintf(cache, sizeof cache, "%s/cache", tmp);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	setenv("DEBUGINFOD_TIMEOUT", "1", 1);
	int lfd = black_hole(url, sizeof url);

	/* Asked for: the server is asked, and answers nothing. */
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DBPROBE_DEBUGINFOD", "1", 1);
	dbp_sym_init_env();
	cr_assert_str_eq(getenv("DEBUGINFOD_URLS"), url);
	void *client = dlopen("libdebuginfod.so.1", RTLD_LAZY);
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	expect(z, pie_path, pie.build_id, pie.build_id_len, pie.sites[EXPORTED].offset,
	       "symfix_exported", NULL, 0);
	dbp_symbolizer_free(z);
	if (client) /* elfutils without it asks no server: then only the default below is shown */
		cr_assert_gt(contacts(lfd), 0, "this test cannot see debuginfod lookups");
	else
		cr_log_warn("libdebuginfod.so.1 not loadable: %s", dlerror());

	/* By default: DEBUGINFOD_URLS goes, and nothing is asked. Only "1" opts in. */
	const char *no[] = { NULL, "0", "yes", "" };
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		setenv("DEBUGINFOD_URLS", url, 1);
		if (no[i])
			setenv("DBPROBE_DEBUGINFOD", no[i], 1);
		else
			unsetenv("DBPROBE_DEBUGINFOD");
		dbp_sym_init_env();
		cr_assert_null(getenv("DEBUGINFOD_URLS"), "DBPROBE_DEBUGINFOD=%s", no[i]);
	}
	z = dbp_symbolizer_new(NULL);
	expect(z, nopie_path, nopie.build_id, nopie.build_id_len, nopie.sites[EXPORTED].offset,
	       "symfix_exported", NULL, 0);
	dbp_symbolizer_free(z);
	cr_assert_eq(contacts(lfd), 0,
		     "a debuginfod server was asked without DBPROBE_DEBUGINFOD=1");
	close(lfd);
	if (client)
		dlclose(client);
}

/* ---- caches ---- */

Test(symbolize, more_files_than_kept_open, .fini = remove_tmp)
{
	struct fixture fx;
	char path[128];
	load_fixture(&fx, "symfix_pie");
	make_tmp();
	const int nfiles = DBP_SYM_OPEN_MAX * 2 + 3;
	for (int i = 0; i < nfiles; i++) {
		snprintf(path, sizeof path, "%s/link%d", tmp, i);
		cr_assert_eq(link(fx.path, path), 0, "%s", strerror(errno));
	}
	struct dbp_symbolizer *z = dbp_symbolizer_new(NULL);
	/* Round robin over more files than stay open, one new offset each time: every lookup
	 * misses the result cache and reopens a closed file, checking its build-id again. */
	for (int round = 0; round < NSITES; round++)
		for (int i = 0; i < nfiles; i++) {
			const struct site *s = &fx.sites[(round + i) % NSITES];
			snprintf(path, sizeof path, "%s/link%d", tmp, i);
			expect(z, path, fx.build_id, fx.build_id_len, s->offset, s->function,
			       FIXSRC, s->line);
		}
	dbp_symbolizer_free(z);
}

/* ---- paths ---- */

Test(symbolize, clean_path)
{
	static const char *const cases[][2] = {
		{ "/work/main/build/../tests/unit/x.c", "/work/main/tests/unit/x.c" },
		{ "/a/./b//c/", "/a/b/c" },
		{ "/a/b/../../c", "/c" },
		{ "/../a", "/a" },
		{ "/..", "/" },
		{ "/", "/" },
		{ "./csu/../sysdeps/nptl/x.h", "sysdeps/nptl/x.h" },
		{ "../src/app.c", "../src/app.c" },
		{ "../../a/../b", "../../b" },
		{ "a/..", "." },
		{ "a/../..", ".." },
		{ ".", "." },
		{ "", "." },
		{ "x", "x" },
		{ "..a/b../.c", "..a/b../.c" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[64];
		strcpy(buf, cases[i][0]);
		dbp_sym_clean_path(buf);
		cr_assert_str_eq(buf, cases[i][1], "%s", cases[i][0]);
	}
}
