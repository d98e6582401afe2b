/*
 * rules_bench.c: load time, memory and lookups per second of the rule
 * engine's domain and address sets, against naive baselines (a linear scan
 * over the entries, one PCRE2 alternation) in the same run.
 *
 *   rules_bench [-o load|domains|cidrs|many] [-r RUNS] [-s SAMPLE] DIR
 *   rules_bench -o memory [-r RUNS] MIB...
 *
 * DIR is what bench/gen_pack.py wrote. Prints markdown table rows, one per
 * measurement: the median of RUNS runs (default 5) and min-max. The linear
 * scans look up only SAMPLE queries per run (default: all of them up to
 * 100,000 entry comparisons x queries) and say how many. Loads run in a
 * child process each, so that its peak RSS is the load's own. -o runs one
 * part only. -o memory measures the machine instead (mem_* below): what a
 * lookup that misses the cache once can do in tables of MIB MiB.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dissect/dissect.h"
#include "rules/rules.h"
#include "rules_input.h"
#include "util/bigmem.h"

#define MAX_RUNS 31

static int runs = 5;
static long sample;
static const char *only; /* -o: one part (load, domains, cidrs, many) */
static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stat3 {
	double med, min, max;
};

static struct stat3 stats(double *v, int n)
{
	struct stat3 s;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

/* "12.3 M/s" style, for lookups per second. */
static const char *rate(double r, char *buf, size_t n)
{
	if (r >= 1e6)
		snprintf(buf, n, "%.2f M", r / 1e6);
	else if (r >= 1e3)
		snprintf(buf, n, "%.1f k", r / 1e3);
	else
		snprintf(buf, n, "%.0f", r);
	return buf;
}

/* Bytes malloc has handed out, mmapped blocks included. */
static size_t heap_bytes(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

/* The process's memory on transparent huge pages, in MiB (-1: unknown). */
static double huge_mib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	double kib = -1024;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "AnonHugePages:", 14))
			kib = strtod(line + 14, NULL);
	if (f)
		fclose(f);
	return kib / 1024;
}

/* --- loading -------------------------------------------------------------- */

struct load_result {
	double secs;
	double heap;  /* bytes still allocated after the load */
	double index; /* of them, the rules index's (ruleset_seal) */
	long maxrss;  /* KiB, the child's peak */
	int ok;
};

/* Load (and seal) pack in a child; its time, retained heap and peak RSS. */
static struct load_result load_in_child(const char *dir, const char *pack)
{
	struct load_result r = { 0 };
	int fd[2];
	pid_t pid;

	if (pipe(fd) < 0)
		exit(3);
	pid = fork();
	if (pid == 0) {
		char path[4096];
		struct ruleset rs = { 0 };
		struct rules_error err;
		struct rusage ru;
		size_t before = heap_bytes();
		double t0;

		snprintf(path, sizeof(path), "%s/%s", dir, pack);
		t0 = now();
		r.ok = rules_load(&rs, path, &err) == 0;
		r.index = (double)heap_bytes();
		r.ok = r.ok && ruleset_seal(&rs) == 0;
		r.secs = now() - t0;
		if (!r.ok)
			fprintf(stderr, "%s: %s\n", path, err.msg);
		r.heap = (double)(heap_bytes() - before);
		r.index = (double)heap_bytes() - r.index;
		getrusage(RUSAGE_SELF, &ru);
		r.maxrss = ru.ru_maxrss;
		if (write(fd[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (pid < 0 || read(fd[0], &r, sizeof(r)) != sizeof(r))
		r.ok = 0;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return r;
}

static void bench_load(const char *dir, const char *pack, const char *what, size_t entries)
{
	double t[MAX_RUNS], rss[MAX_RUNS];
	double heap = 0, index = 0;
	struct stat3 st, sr;

	for (int i = 0; i < runs; i++) {
		struct load_result r = load_in_child(dir, pack);

		if (!r.ok) {
			printf("| load %s | failed | | | |\n", what);
			return;
		}
		t[i] = r.secs;
		rss[i] = (double)r.maxrss / 1024.0;
		heap = r.heap;
		index = r.index;
	}
	st = stats(t, runs);
	sr = stats(rss, runs);
	printf("| load %s (%zu entries) | %.3f s | %.3f-%.3f s | peak RSS %.1f MiB, heap %.1f MiB "
	       "(index %.1f), %.0f B/entry%s |\n",
	       what, entries, st.med, st.min, st.max, sr.med, heap / 1048576.0, index / 1048576.0,
	       entries ? heap / (double)entries : 0.0, strstr(what, "rules") ? " (per rule)" : "");
	fflush(stdout);
}

static struct ruleset load_here(const char *dir, const char *pack)
{
	char path[4096];
	struct ruleset rs = { 0 };
	struct rules_error err;

	snprintf(path, sizeof(path), "%s/%s", dir, pack);
	if (rules_load(&rs, path, &err) < 0 || ruleset_seal(&rs) < 0) {
		fprintf(stderr, "%s: %s\n", path, err.msg);
		exit(2);
	}
	return rs;
}

/* --- lookups -------------------------------------------------------------- */

/*
 * One measurement: call fn on queries i = 0, 1, ... (wrapping) until at
 * least min_calls calls and 0.1 s, RUNS times; print the median rate.
 */
typedef unsigned long lookup_fn(const void *ctx, size_t i);

static double bench_rate(lookup_fn *fn, const void *ctx, size_t nq, size_t min_calls,
			 const char *what, const char *note, double versus)
{
	double r[MAX_RUNS];
	struct stat3 st;
	char a[32], b[32], c[32];

	for (int k = 0; k < runs; k++) {
		size_t calls = 0, i = 0;
		unsigned long hits = 0;
		double t0 = now(), dt;

		do {
			for (size_t j = 0; j < min_calls; j++) {
				hits += fn(ctx, i);
				if (++i == nq)
					i = 0;
			}
			calls += min_calls;
			dt = now() - t0;
		} while (dt < 0.1);
		sink += hits;
		r[k] = (double)calls / dt;
	}
	st = stats(r, runs);
	printf("| %s | %s/s | %s-%s/s |", what, rate(st.med, a, sizeof(a)),
	       rate(st.min, b, sizeof(b)), rate(st.max, c, sizeof(c)));
	if (versus > 0)
		printf(" %.0fx the baseline%s%s |\n", st.med / versus, note ? "; " : "",
		       note ? note : "");
	else
		printf(" %s |\n", note ? note : "");
	fflush(stdout);
	return st.med;
}

struct dom_ctx {
	const struct domain_set *set;
	const struct lines *q;
	/* the naive baselines */
	const struct lines *entries;
	pcre2_code *re;
	pcre2_match_data *md;
	/* full evaluation */
	const struct ruleset *rs;
	struct dpix_facts *facts;
	struct rules_input *in;
};

static unsigned long dom_set(const void *p, size_t i)
{
	const struct dom_ctx *c = p;

	return domain_set_match(c->set, c->q->v[i], c->q->len[i]);
}

/* Does name fall under entry e (a scan's compare: exact, '*.' suffix, or
 * a 'prefix*' glob on the leftmost label)? Names are lower case. */
static bool naive_dom(const char *e, size_t en, const char *name, size_t n)
{
	const char *star, *dot;

	if (e[0] != '*' && !(star = memchr(e, '*', en)))
		return en == n && !memcmp(e, name, n);
	if (e[0] == '*' && e[1] == '.')
		return n > en - 1 && !memcmp(name + n - (en - 1), e + 1, en - 1);
	star = memchr(e, '*', en);
	dot = memchr(e, '.', en);
	if (!dot || !star)
		return false;
	/* turn-*.x.com: the leftmost label starts with "turn-", then .x.com */
	{
		const char *nd = memchr(name, '.', n);
		size_t pre = (size_t)(star - e), rest = en - (size_t)(dot - e);

		return nd && (size_t)(nd - name) >= pre && !memcmp(name, e, pre) &&
		       n - (size_t)(nd - name) == rest && !memcmp(nd, dot, rest);
	}
}

static unsigned long dom_scan(const void *p, size_t i)
{
	const struct dom_ctx *c = p;

	for (size_t k = 0; k < c->entries->n; k++)
		if (naive_dom(c->entries->v[k], c->entries->len[k], c->q->v[i], c->q->len[i]))
			return 1;
	return 0;
}

static unsigned long dom_pcre(const void *p, size_t i)
{
	const struct dom_ctx *c = p;

	return pcre2_match(c->re, (PCRE2_SPTR)c->q->v[i], c->q->len[i], 0, 0, c->md, NULL) >= 0;
}

static unsigned long dom_eval(const void *p, size_t i)
{
	const struct dom_ctx *c = p;
	struct verdict v;

	memcpy(c->facts->sni, c->q->v[i], c->q->len[i] + 1);
	c->facts->sni_len = (uint8_t)c->q->len[i];
	rules_eval(c->rs, c->in, &v);
	return v.rule != NULL;
}

/* One alternation of every entry, anchored, caseless, JIT compiled. */
static pcre2_code *alternation(const struct lines *e, char *why, size_t whylen)
{
	size_t cap = 64, n = 0;
	char *re = malloc(cap);
	pcre2_code *code;
	int err;
	PCRE2_SIZE off;

	n += (size_t)snprintf(re, cap, "(?:");
	for (size_t k = 0; k < e->n; k++) {
		const char *s = e->v[k];

		if (n + e->len[k] * 2 + 64 > cap) {
			cap = cap * 2 + e->len[k] * 2 + 64;
			re = realloc(re, cap);
		}
		if (k)
			re[n++] = '|';
		if (s[0] == '*' && s[1] == '.') {
			n += (size_t)snprintf(re + n, cap - n, "(?:[^.]+\\.)+");
			s += 2;
		}
		for (; *s; s++) {
			if (*s == '.')
				re[n++] = '\\';
			if (*s == '*') {
				n += (size_t)snprintf(re + n, cap - n, "[^.]*");
				continue;
			}
			re[n++] = *s;
		}
	}
	re[n++] = ')';
	code = pcre2_compile((PCRE2_SPTR)re, n,
			     PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_CASELESS |
				 PCRE2_NO_AUTO_CAPTURE,
			     &err, &off, NULL);
	free(re);
	if (!code) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(err, msg, sizeof(msg));
		snprintf(why, whylen, "%s", (const char *)msg);
		return NULL;
	}
	if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0)
		snprintf(why, whylen, "no JIT");
	else
		why[0] = '\0';
	return code;
}

/* How many queries a linear scan of n entries gets per run. */
static size_t scan_queries(size_t n, size_t nq)
{
	size_t q = sample > 0 ? (size_t)sample : 100000000 / (n ? n : 1);

	if (q < 50)
		q = 50;
	return q < nq ? q : nq;
}

static void bench_domains(const char *dir)
{
	struct ruleset rs = load_here(dir, "domains.rules");
	const struct rule_set *set = rs.packs[0]->rules[0].sni;
	struct lines entries, qh, qm;
	struct dom_ctx c = { .set = set->u.dom, .entries = &entries, .rs = &rs };
	struct dpix_facts facts = { .app = APP_TLS };
	uint8_t dst[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	struct rules_input in = { .facts = &facts,
				  .proto = IPPROTO_TCP,
				  .src = dst,
				  .dst = dst,
				  .sport = 40000,
				  .dport = 443 };
	char why[200], note[200];
	size_t sq;

	c.facts = &facts;
	c.in = &in;
	printf("| domains: memory on huge pages | %.0f MiB | | |\n", huge_mib());
	read_lines(dir, "domains.list", &entries);
	read_queries(dir, "q-dom-hit.txt", &qh);
	read_queries(dir, "q-dom-miss.txt", &qm);
	sq = scan_queries(entries.n, qh.n);
	c.re = alternation(&entries, why, sizeof(why));
	c.md = pcre2_match_data_create(1, NULL);
	for (int miss = 0; miss < 2; miss++) {
		const char *hm = miss ? "misses" : "hits";
		double base;
		char what[128];

		c.q = miss ? &qm : &qh;
		snprintf(note, sizeof(note), "%zu queries per run", sq);
		snprintf(what, sizeof(what), "domains %s: linear scan (baseline)", hm);
		base = bench_rate(dom_scan, &c, sq, sq, what, note, 0);
		if (c.re) {
			snprintf(what, sizeof(what), "domains %s: PCRE2 alternation%s", hm,
				 why[0] ? " (no JIT)" : ", JIT");
			bench_rate(dom_pcre, &c, c.q->n, 1000, what, NULL, 0);
		} else {
			printf("| domains %s: PCRE2 alternation | n/a | | does not compile: %s |\n",
			       hm, why);
		}
		snprintf(what, sizeof(what), "domains %s: domain_set_match", hm);
		bench_rate(dom_set, &c, c.q->n, 1000, what, NULL, base);
		snprintf(what, sizeof(what), "domains %s: rules_eval, sni", hm);
		bench_rate(dom_eval, &c, c.q->n, 1000, what, NULL, base);
	}
	pcre2_match_data_free(c.md);
	pcre2_code_free(c.re);
	ruleset_free(&rs);
}

struct addr_ctx {
	const struct addr_set *set;
	const uint8_t (*q)[16];
	const struct addr_cidr *cidrs;
	size_t ncidrs;
	const struct ruleset *rs;
	struct rules_input *in;
};

static unsigned long addr_set(const void *p, size_t i)
{
	const struct addr_ctx *c = p;

	return addr_set_match(c->set, c->q[i]);
}

static unsigned long addr_scan(const void *p, size_t i)
{
	const struct addr_ctx *c = p;
	const uint8_t *a = c->q[i];

	for (size_t k = 0; k < c->ncidrs; k++) {
		const struct addr_cidr *x = &c->cidrs[k];
		unsigned full = x->plen / 8, rest = x->plen % 8;

		if (!memcmp(a, x->addr, full) &&
		    (!rest || !((a[full] ^ x->addr[full]) & (0xff00u >> rest))))
			return 1;
	}
	return 0;
}

static unsigned long addr_eval(const void *p, size_t i)
{
	const struct addr_ctx *c = p;
	struct verdict v;

	c->in->dst = c->q[i];
	rules_eval(c->rs, c->in, &v);
	return v.rule != NULL;
}

static void bench_cidrs(const char *dir)
{
	struct ruleset rs = load_here(dir, "cidrs.rules");
	const struct addr_set *set = rs.packs[0]->rules[0].dst->u.addr;
	static const char *const files[4] = { "q-v4-hit.txt", "q-v4-miss.txt", "q-v6-hit.txt",
					      "q-v6-miss.txt" };
	static const char *const names[4] = { "IPv4 hits", "IPv4 misses", "IPv6 hits",
					      "IPv6 misses" };
	struct dpix_facts facts = { .app = APP_TLS };
	struct rules_input in = {
		.facts = &facts, .proto = IPPROTO_TCP, .sport = 40000, .dport = 443
	};
	struct addr_ctx c = {
		.set = set, .cidrs = set->cidrs, .ncidrs = set->ncidrs, .rs = &rs, .in = &in
	};

	in.src = in.addr[0];
	for (int f = 0; f < 4; f++) {
		size_t nq, sq;
		uint8_t(*q)[16] = read_addrs(dir, files[f], &nq);
		char what[128], note[64];
		double base;

		c.q = (const uint8_t(*)[16])q;
		sq = scan_queries(c.ncidrs, nq);
		snprintf(note, sizeof(note), "%zu queries per run", sq);
		snprintf(what, sizeof(what), "CIDRs %s: linear scan (baseline)", names[f]);
		base = bench_rate(addr_scan, &c, sq, sq, what, note, 0);
		snprintf(what, sizeof(what), "CIDRs %s: addr_set_match", names[f]);
		bench_rate(addr_set, &c, nq, 1000, what, NULL, base);
		snprintf(what, sizeof(what), "CIDRs %s: rules_eval, dst", names[f]);
		bench_rate(addr_eval, &c, nq, 1000, what, NULL, base);
		free(q);
	}
	ruleset_free(&rs);
}

/* The lines of a generated file that start with prefix ("": all). */
static size_t count_lines(const char *dir, const char *file, const char *prefix)
{
	struct lines l;
	size_t n = 0;

	read_lines(dir, file, &l);
	for (size_t i = 0; i < l.n; i++) {
		n += !strncmp(l.v[i], prefix, strlen(prefix));
		free(l.v[i]);
	}
	free(l.v);
	free(l.len);
	return n;
}

/* The many-rules packs have a rule for the list's first entries only when
 * the list is longer than gen_pack.py's --many. */
static const char *many_note(const struct ruleset *rs, const char *dir, const char *list)
{
	return rs->packs[0]->nrules < count_lines(dir, list, "")
		   ? "only the first entries have a rule: mostly misses"
		   : NULL;
}

static void bench_many_cidrs(const char *dir)
{
	struct ruleset rs = load_here(dir, "many-cidrs.rules");
	static const char *const files[4] = { "q-v4-hit.txt", "q-v4-miss.txt", "q-v6-hit.txt",
					      "q-v6-miss.txt" };
	static const char *const names[4] = { "IPv4 of the list", "IPv4 misses", "IPv6 of the list",
					      "IPv6 misses" };
	struct dpix_facts facts = { .app = APP_TLS };
	struct rules_input in = {
		.facts = &facts, .proto = IPPROTO_TCP, .sport = 40000, .dport = 443
	};
	struct addr_ctx c = { .rs = &rs, .in = &in };
	const char *note = many_note(&rs, dir, "cidrs.list");

	in.src = in.addr[0];
	for (int f = 0; f < 4; f++) {
		size_t nq;
		uint8_t(*q)[16] = read_addrs(dir, files[f], &nq);
		char what[128];

		c.q = (const uint8_t(*)[16])q;
		snprintf(what, sizeof(what), "many rules (%zu), a CIDR each, %s: rules_eval, dst",
			 rs.packs[0]->nrules, names[f]);
		bench_rate(addr_eval, &c, nq, 1000, what, f % 2 ? NULL : note, 0);
		free(q);
	}
	ruleset_free(&rs);
}

static void bench_many(const char *dir)
{
	struct ruleset rs = load_here(dir, "many.rules");
	struct lines qh, qm;
	struct dpix_facts facts = { .app = APP_TLS };
	uint8_t dst[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	struct rules_input in = { .facts = &facts,
				  .proto = IPPROTO_TCP,
				  .src = dst,
				  .dst = dst,
				  .sport = 40000,
				  .dport = 443 };
	struct dom_ctx c = { .rs = &rs, .facts = &facts, .in = &in };
	const char *note = many_note(&rs, dir, "domains.list");
	char what[128];

	read_queries(dir, "q-dom-hit.txt", &qh);
	read_queries(dir, "q-dom-miss.txt", &qm);
	for (int miss = 0; miss < 2; miss++) {
		c.q = miss ? &qm : &qh;
		snprintf(what, sizeof(what), "many rules (%zu), %s: rules_eval, sni",
			 rs.packs[0]->nrules, miss ? "misses" : "names of the domain list");
		bench_rate(dom_eval, &c, c.q->n, 1000, what, miss ? NULL : note, 0);
	}
	ruleset_free(&rs);
}

/* --- what one cache miss per lookup allows -------------------------------- */

/*
 * The bound under the set lookups of a big table, measured the way they
 * are (bench_rate, a call per lookup): a table of MIB MiB of 64-byte lines
 * on huge pages, as a sealed set's cells, and three loops over it.
 *   chase:  each line names the next one, a random cycle through all of
 *           them: one load at a time, the memory latency;
 *   lookup: arithmetic standing for a name's hashing (a chain of
 *           multiplies: in a small table this runs at about the rate of
 *           domain lookups in a 1k set), then one
 *           random line; the next lookup's address does not wait for this
 *           one's load, so the core overlaps what its window holds;
 *   ahead:  the same, each line prefetched MEM_AHEAD lookups before it is
 *           read: what handing the table a batch of names would allow.
 */
#define MEM_ROUNDS 64
#define MEM_AHEAD 8
#define MEM_RING 16 /* > MEM_AHEAD, a power of two dividing MEM_QUERIES */
#define MEM_QUERIES 65536

struct mem_ctx {
	uint8_t *lines;
	size_t mask;   /* lines - 1 */
	uint32_t *cur; /* where the chase is */
	size_t *ring;  /* the ahead loop's lines, by lookup number */
};

static size_t mem_line(const struct mem_ctx *c, size_t i)
{
	uint64_t x = i + 1;

	for (int r = 0; r < MEM_ROUNDS; r++) {
		x *= 0x9e3779b97f4a7c15ULL;
		x ^= x >> 29;
	}
	return (size_t)x & c->mask;
}

static unsigned long mem_chase(const void *p, size_t i)
{
	const struct mem_ctx *c = p;
	uint32_t next;

	(void)i;
	memcpy(&next, c->lines + (size_t)*c->cur * 64, sizeof(next));
	*c->cur = next;
	return next;
}

static unsigned long mem_lookup(const void *p, size_t i)
{
	const struct mem_ctx *c = p;

	return c->lines[mem_line(c, i) * 64];
}

static unsigned long mem_ahead(const void *p, size_t i)
{
	const struct mem_ctx *c = p;
	size_t j = (i + MEM_AHEAD) % MEM_QUERIES, at = mem_line(c, j);

	__builtin_prefetch(c->lines + at * 64);
	c->ring[j % MEM_RING] = at;
	return c->lines[c->ring[i % MEM_RING] * 64];
}

static void bench_memory(size_t mib)
{
	size_t n = mib << 14, bytes = n * 64; /* lines of 64 bytes */
	size_t ring[MEM_RING];
	uint32_t cur = 0, *order = malloc(n * sizeof(*order));
	struct mem_ctx c = { aligned_alloc(BIGMEM_HUGE, bytes), n - 1, &cur, ring };
	uint64_t rnd = 88172645463325252ULL;
	char what[128];

	if (!c.lines || !order || mib == 0 || (n & (n - 1))) {
		fprintf(stderr, "rules_bench: %zu MiB: not a power of two, or no memory\n", mib);
		exit(1);
	}
	bigmem_advise(c.lines, bytes);
	memset(c.lines, 0, bytes);
	/* Sattolo's shuffle: one cycle through every line. */
	for (size_t k = 0; k < n; k++)
		order[k] = (uint32_t)k;
	for (size_t k = n - 1; k > 0; k--) {
		size_t j;
		uint32_t t;

		rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
		j = (size_t)(rnd % k);
		t = order[k], order[k] = order[j], order[j] = t;
	}
	for (size_t k = 0; k < n; k++)
		memcpy(c.lines + (size_t)order[k] * 64, &order[(k + 1) % n], sizeof(uint32_t));
	free(order);
	for (size_t i = 0; i < MEM_AHEAD; i++)
		ring[i % MEM_RING] = mem_line(&c, i);
	snprintf(what, sizeof(what), "memory, %zu MiB: one load after another", mib);
	bench_rate(mem_chase, &c, MEM_QUERIES, 1000, what,
		   "a random cycle of its lines: 1 / this is the latency", 0);
	snprintf(what, sizeof(what), "memory, %zu MiB: lookups of one random line each", mib);
	bench_rate(mem_lookup, &c, MEM_QUERIES, 1000, what,
		   "a hash's arithmetic, then the line; one lookup after another", 0);
	snprintf(what, sizeof(what), "memory, %zu MiB: the same, prefetched %d lookups ahead", mib,
		 MEM_AHEAD);
	bench_rate(mem_ahead, &c, MEM_QUERIES, 1000, what, "what a batch of lookups could do", 0);
	free(c.lines);
}

int main(int argc, char **argv)
{
	const char *dir;
	struct lines l;
	int opt;

	while ((opt = getopt(argc, argv, "o:r:s:")) != -1) {
		if (opt == 'o')
			only = optarg;
		else if (opt == 'r')
			runs = (int)strtol(optarg, NULL, 10);
		else if (opt == 's')
			sample = strtol(optarg, NULL, 10);
		else
			goto usage;
	}
	if (runs < 1 || runs > MAX_RUNS)
		goto usage;
	if (only && !strcmp(only, "memory")) {
		if (optind == argc)
			goto usage;
		for (int i = optind; i < argc; i++)
			bench_memory((size_t)strtoul(argv[i], NULL, 10));
		return 0;
	}
	if (optind + 1 != argc)
		goto usage;
	dir = argv[optind];
	if (!only || !strcmp(only, "load")) {
		read_lines(dir, "domains.list", &l);
		bench_load(dir, "domains.rules", "domains", l.n);
		read_lines(dir, "cidrs.list", &l);
		bench_load(dir, "cidrs.rules", "CIDRs", l.n);
		bench_load(dir, "mixed.rules", "mixed pack (both lists)", 2 * l.n);
		bench_load(dir, "many.rules", "many rules, a set each",
			   count_lines(dir, "many.rules", "rule "));
		bench_load(dir, "many-cidrs.rules", "many rules, a CIDR set each",
			   count_lines(dir, "many-cidrs.rules", "rule "));
	}
	if (!only || !strcmp(only, "domains"))
		bench_domains(dir);
	if (!only || !strcmp(only, "cidrs"))
		bench_cidrs(dir);
	if (!only || !strcmp(only, "many")) {
		bench_many(dir);
		bench_many_cidrs(dir);
	}
	return 0;
usage:
	fprintf(stderr,
		"usage: rules_bench [-o load|domains|cidrs|many] [-r RUNS] [-s SAMPLE] DIR\n"
		"       rules_bench -o memory [-r RUNS] MIB...\n");
	return 2;
}
