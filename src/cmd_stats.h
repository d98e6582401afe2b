/* cmd_stats.h: `dpix stats`, a running dpixd's counters from its control socket. */
#ifndef DPIX_CMD_STATS_H
#define DPIX_CMD_STATS_H

/* argv[0] is "stats"; the exit status: 0, 1 (no answer), 2 (usage). */
int cmd_stats(int argc, char **argv);

#endif
