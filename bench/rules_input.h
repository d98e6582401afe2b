/* rules_input.h: the query and entry files bench/gen_pack.py writes, read
 * for rules_bench and rules_probe (exit 2 or 3 when they cannot be). */
#ifndef DPIX_BENCH_RULES_INPUT_H
#define DPIX_BENCH_RULES_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct lines {
	char **v;
	size_t *len;
	size_t n;
};

/* DIR/FILE's non-empty lines, each its own string. */
void read_lines(const char *dir, const char *file, struct lines *l);
/* The same, the lines one after the other in one buffer, read in order:
 * the hardware prefetcher streams them in, so a lookup pays for the set's
 * memory, not for fetching its query (a name just parsed from a packet is
 * in cache). */
void read_queries(const char *dir, const char *file, struct lines *l);
/* DIR/FILE's addresses, 16 bytes each (IPv4 as ::ffff:a.b.c.d). */
uint8_t (*read_addrs(const char *dir, const char *file, size_t *n))[16];

#endif
