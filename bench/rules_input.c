/* rules_input.c: the files bench/gen_pack.py writes (rules_input.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "rules_input.h"

void read_lines(const char *dir, const char *file, struct lines *l)
{
	char path[4096], buf[512];
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	memset(l, 0, sizeof(*l));
	while (fgets(buf, sizeof(buf), f)) {
		size_t n = strcspn(buf, "\r\n");

		if (!n)
			continue;
		buf[n] = '\0';
		if (l->n == cap) {
			cap = cap ? cap * 2 : 1024;
			l->v = realloc(l->v, cap * sizeof(*l->v));
			l->len = realloc(l->len, cap * sizeof(*l->len));
			if (!l->v || !l->len)
				exit(3);
		}
		l->len[l->n] = n;
		if (!(l->v[l->n++] = strdup(buf)))
			exit(3);
	}
	fclose(f);
}

void read_queries(const char *dir, const char *file, struct lines *l)
{
	size_t total = 0, at = 0;
	char *buf;

	read_lines(dir, file, l);
	for (size_t i = 0; i < l->n; i++)
		total += l->len[i] + 1;
	if (!(buf = malloc(total ? total : 1)))
		exit(3);
	for (size_t i = 0; i < l->n; i++) {
		memcpy(buf + at, l->v[i], l->len[i] + 1);
		free(l->v[i]);
		l->v[i] = buf + at;
		at += l->len[i] + 1;
	}
}

uint8_t (*read_addrs(const char *dir, const char *file, size_t *n))[16]
{
	struct lines l;
	uint8_t(*a)[16];

	read_lines(dir, file, &l);
	a = malloc(l.n * sizeof(*a));
	for (size_t i = 0; i < l.n; i++) {
		uint8_t plen, fam;
		const char *why;

		if (addr_parse(l.v[i], a[i], &plen, &fam, &why) < 0) {
			fprintf(stderr, "%s: %s: %s\n", file, l.v[i], why);
			exit(2);
		}
		free(l.v[i]);
	}
	free(l.v);
	free(l.len);
	*n = l.n;
	return a;
}
