/* symbolize: (module file, build-id, offset) -> function, source file, line, read in the
 * exporter with elfutils' libdwfl. DWARF first (in the file, or in a separate debug file found by
 * build-id or .gnu_debuglink under the debuginfo path), then the ELF symbol tables (.symtab,
 * .dynsym: a function name only), then "basename+0xoffset". A file is read for names only when
 * its build-id on disk is the one the agent saw (or both have none): a binary deleted or replaced
 * since the program started never yields a wrong name. An agent's file, and any debug file, is
 * opened only if it is a regular file; a debug file is read only if it has the main file's
 * build-id (or, with none, the CRC-32 its .gnu_debuglink gives). Thread-safe (its own lock);
 * results and open files are cached, both bounded. */
#ifndef DBPROBE_SYMBOLIZE_H
#define DBPROBE_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct dbp_symbolizer;

struct dbp_sym {
	char *function; /* a name, or "basename+0x1a2b" (the offset as given); never NULL */
	char *file;     /* source file, absolute (a relative name joined to its compilation
			 * directory, cleaned lexically); NULL when unknown */
	unsigned line;  /* 0 when unknown */
};

/* flags: the offset is a return address (what stacks hold): the call instruction is the byte
 * before, so offset - 1 is looked up. Without it the offset itself is. */
#define DBP_SYM_RETURN_ADDRESS 0x1u

#define DBP_SYM_OPEN_MAX 16       /* files kept open (a Dwfl each), least recently used closed */
#define DBP_SYM_FILES_MAX 4096    /* (path, build-id) entries; past it every cache is emptied */
#define DBP_SYM_RESULTS_MAX 65536 /* cached lookups; past it they are emptied */

/* Unless DBPROBE_DEBUGINFOD=1, removes DEBUGINFOD_URLS from the environment. libdwfl asks the
 * servers it names for every file without local debug info, and waits as long as they take (a
 * lookup against one that never answered took 38 s); Debian sets it in login shells. The
 * debuginfod client reads it at each lookup. Call before any thread starts: unsetenv is not
 * thread-safe. */
void dbp_sym_init_env(void);

/* debuginfo_path: where separate debug files are looked for, elfutils' syntax; NULL for its
 * default (":.debug:/usr/lib/debug"). NULL when out of memory. */
struct dbp_symbolizer *dbp_symbolizer_new(const char *debuginfo_path);
void dbp_symbolizer_free(struct dbp_symbolizer *z);

/* Symbolizes offset in the file at path (absolute; a relative path is never opened: it was
 * relative to the program's directory, not ours), which the agent saw with this build-id
 * (build_id_len 0: none). Offsets are ELF virtual addresses (shared objects, PIE) or absolute
 * addresses (fixed executables), as struct dbp_wire_frame has them. Fills *out (release it with
 * dbp_sym_release) and returns 0; -1 only when out of memory (*out then holds nothing). z NULL
 * gives "basename+0xoffset". Strings are valid UTF-8 (other bytes become '?'). */
int dbp_sym_lookup(struct dbp_symbolizer *z, const char *path, const uint8_t *build_id,
		   size_t build_id_len, uint64_t offset, unsigned flags, struct dbp_sym *out);
void dbp_sym_release(struct dbp_sym *s);

/* Cleans a path lexically, in place: "." and empty components go, "dir/.." cancels out
 * ("/src/build/../app.c" -> "/src/app.c", "./csu/../x.h" -> "x.h"). Symlinks are not followed:
 * the sources need not exist on this host. */
void dbp_sym_clean_path(char *path);

#endif
