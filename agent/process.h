/* process: who this process is, as told to the exporter in HELLO. */
#ifndef DBPROBE_PROCESS_H
#define DBPROBE_PROCESS_H

#include <stdint.h>

struct dbp_process {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_unix_ns; /* when the agent armed (in a forked child: when it re-armed) */
	char exe[4096];
};

const struct dbp_process *dbp_process(void);

#endif
