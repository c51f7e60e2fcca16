/* symfix: a small program whose call sites test_symbolize.c symbolizes. Built PIE, fixed
 * (non-PIE) and without a build-id, always with -g; the test strips copies of it. Run, it
 * prints its build-id ("build-id <hex>" or "build-id none"), then one line per call site:
 * "<function> <line of the call> 0x<return address as an offset into this file>", the offset
 * computed as an agent does (the address minus the load bias dl_iterate_phdr reports). */
#include <link.h>
#include <stdint.h>
#include <stdio.h>

static uintptr_t bias;
static volatile int sink;

/* Returns the address its caller returns to. */
__attribute__((noinline)) static uintptr_t callee(void)
{
	sink++;
	return (uintptr_t)__builtin_return_address(0);
}

static void report(const char *function, unsigned line, uintptr_t ret)
{
	printf("%s %u 0x%llx\n", function, line, (unsigned long long)(ret - bias));
}

/* Only .symtab names it (static). */
__attribute__((noinline)) static void local_caller(void)
{
	report("local_caller", __LINE__, callee());
	sink++;
}

/* .dynsym names it too (the fixture links with -rdynamic). */
__attribute__((noinline)) void symfix_exported(void)
{
	report("symfix_exported", __LINE__, callee());
	sink++;
}

/* Inlined into symfix_outer: DWARF names it, the symbol tables name symfix_outer. */
static inline __attribute__((always_inline)) void inlined_caller(void)
{
	report("inlined_caller", __LINE__, callee());
	sink++;
}

__attribute__((noinline)) void symfix_outer(void)
{
	inlined_caller();
	sink++;
}

/* The main program comes first; its notes hold the build-id. */
static int first_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr),
			   *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const void *)p;
			const unsigned char *desc =
				(const unsigned char *)(n + 1) + ((n->n_namesz + 3) & ~3u);
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4) {
				printf("build-id ");
				for (unsigned k = 0; k < n->n_descsz; k++)
					printf("%02x", desc[k]);
				printf("\n");
				return 1;
			}
			p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	printf("build-id none\n");
	return 1;
}

int main(void)
{
	dl_iterate_phdr(first_object, NULL);
	local_caller();
	symfix_exported();
	symfix_outer();
	return 0;
}
