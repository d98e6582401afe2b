/*
 * rules_sets.c: the address, port and pattern sets of a pack (domain sets
 * are in rules_domain.c).
 *
 * Addresses: IPv4 and IPv6 addresses and CIDRs, kept as written (for
 * printing) and as sorted, merged ranges over one 128-bit space, IPv4 as
 * ::ffff:a.b.c.d, so membership is one binary search whatever the set's
 * size (IPv4 addresses over 32-bit ranges, others over 128-bit keys; in a
 * big set only over the few ranges of the address's bucket). Ports:
 * ranges, kept as written and merged the same way. Patterns: PCRE2,
 * compiled once (JIT where the library has it), matched against the
 * whole name, ignoring case.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "util/bigmem.h"
#include "util/vec.h"
#include "util/sort.h"
#include "util/u128.h"

/* --- addresses ------------------------------------------------------------ */

struct addr_set *addr_set_new(void)
{
	return calloc(1, sizeof(struct addr_set));
}

void addr_set_free(struct addr_set *s)
{
	if (!s)
		return;
	free(s->cidrs);
	free(s->ranges);
	free(s->keys);
	free(s->bucket);
	free(s->v4);
	free(s->v4at);
	free(s);
}

/* "192.0.2.0/24", "2001:db8::/32", "198.51.100.7": the address as 16 bytes
 * (IPv4 mapped) and its prefix length over those 128 bits. */
int addr_parse(const char *text, uint8_t addr[16], uint8_t *plen, uint8_t *family, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned long bits = 0, max;
	uint8_t v4[4];

	*why = "not an IPv4 or IPv6 address";
	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, v4) == 1) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, v4, 4);
		*family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = 6;
		max = 128;
	} else {
		return -1;
	}
	if (slash) {
		const char *p = slash + 1;
		char *end;

		*why = "the prefix length must be a number after '/'";
		if (*p < '0' || *p > '9' || (p[0] == '0' && p[1]))
			return -1;
		bits = strtoul(p, &end, 10);
		if (*end || bits > max) {
			*why = max == 32 ? "an IPv4 prefix length is 0 to 32"
					 : "an IPv6 prefix length is 0 to 128";
			return -1;
		}
	} else {
		bits = max;
	}
	*plen = (uint8_t)(bits + (max == 32 ? 96 : 0));
	for (unsigned i = *plen; i < 128; i++)
		if (addr[i / 8] & (0x80u >> (i % 8))) {
			*why = "bits are set past the prefix length (write the network address)";
			return -1;
		}
	return 0;
}

int addr_set_add(struct addr_set *s, const uint8_t addr[16], uint8_t plen)
{
	void *room = vec_room(s->cidrs, &s->cap, s->ncidrs, sizeof(*s->cidrs));

	if (!room)
		return -1;
	s->cidrs = room;
	memcpy(s->cidrs[s->ncidrs].addr, addr, 16);
	s->cidrs[s->ncidrs++].plen = plen;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct addr_range *x = a, *y = b;
	int c = memcmp(x->lo, y->lo, 16);

	return c ? c : memcmp(x->hi, y->hi, 16);
}

/* a + 1 == b over 128 bits */
static bool adjacent(const uint8_t a[16], const uint8_t b[16])
{
	uint8_t n[16];
	int i;

	memcpy(n, a, 16);
	for (i = 15; i >= 0 && ++n[i] == 0; i--)
		;
	return i >= 0 && !memcmp(n, b, 16);
}

static u128 key_at(const uint64_t *k)
{
	return (u128)k[0] << 64 | k[1];
}

#define V4_BASE ((u128)0xffff << 32)	   /* ::ffff:0.0.0.0 */
#define V4_END (V4_BASE + ((u128)1 << 32)) /* just past ::ffff:255.255.255.255 */

/* The first range in [lo, hi) whose end is at or past a (hi if none). */
static size_t search(const uint64_t *keys, size_t lo, size_t hi, u128 a)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a > key_at(&keys[4 * mid]))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Big sets: 2^bits buckets for the span of the ranges outside the IPv4
 * block (from base6, 2^shift6 addresses a bucket); bucket b holds the
 * first range ending at or past its start, so the range an address is in
 * (if any) is between its bucket's and the next's: a search of a few
 * ranges instead of the whole set.
 */
#define BUCKET_MIN_RANGES 256

static int make_buckets(struct addr_set *s)
{
	size_t n = s->nkeys, below, above;
	unsigned bits = 8, len = 0;
	uint32_t nb, *v6;
	u128 base, top, span;

	while (bits < 20 && ((size_t)4 << bits) < n)
		bits++;
	nb = 1u << bits;
	if (!(s->bucket = malloc(((size_t)nb + 1) * sizeof(*s->bucket))))
		return -1;
	v6 = s->bucket;
	/*
	 * The IPv4 block between the ranges below it and those above would
	 * only widen the span, so bucket the side with more ranges (any base
	 * and shift give right answers; these give short searches).
	 */
	below = search(s->keys, 0, n, V4_BASE);
	above = search(s->keys, 0, n, V4_END);
	if (n - above >= below && above < n) {
		base = key_at(&s->keys[4 * above + 2]);
		top = key_at(&s->keys[4 * (n - 1)]);
		if (base < V4_END)
			base = V4_END;
	} else {
		base = key_at(&s->keys[2]);
		top = below ? key_at(&s->keys[4 * (below - 1)]) : base;
	}
	span = top > base ? top - base : 0;
	while (len < 128 && span >> len)
		len++;
	s->shift6 = (uint8_t)(len > bits ? len - bits : 0);
	s->base6[0] = (uint64_t)(base >> 64);
	s->base6[1] = (uint64_t)base;
	for (uint32_t b = 0; b <= nb; b++) {
		u128 step = (u128)b << s->shift6, start = base + step;

		/* a bucket starting past the end of the space: none end there */
		if (step >> s->shift6 != b || start < base)
			v6[b] = (uint32_t)n;
		else
			v6[b] = (uint32_t)search(s->keys, 0, n, start);
	}
	s->bucket_bits = (uint8_t)bits;
	return 0;
}

/*
 * IPv4: the merged ranges cut to the IPv4 block (sorted, apart), 8 bytes
 * each, so that a set of 100k IPv4 CIDRs is under 1 MiB; big sets get a
 * table by the address's first bits, about one range a bucket, so that
 * most lookups read one table entry and one range.
 */
static int make_v4(struct addr_set *s)
{
	uint32_t nb;
	unsigned bits = 8;
	size_t i = 0;

	s->nv4 = 0;
	for (size_t k = 0; k < s->nranges; k++) {
		u128 lo = load128(s->ranges[k].lo), hi = load128(s->ranges[k].hi);

		if (hi < V4_BASE || lo >= V4_END)
			continue;
		s->v4[s->nv4].lo = lo < V4_BASE ? 0 : (uint32_t)lo;
		s->v4[s->nv4++].hi = hi >= V4_END ? UINT32_MAX : (uint32_t)hi;
	}
	if (s->nv4 < BUCKET_MIN_RANGES)
		return 0;
	while (bits < 20 && ((size_t)1 << bits) < s->nv4)
		bits++;
	nb = 1u << bits;
	if (!(s->v4at = malloc(((size_t)nb + 1) * sizeof(*s->v4at))))
		return -1;
	for (uint32_t b = 0; b <= nb; b++) {
		uint64_t start = (uint64_t)b << (32 - bits);

		while (i < s->nv4 && s->v4[i].hi < start)
			i++;
		s->v4at[b] = (uint32_t)i;
	}
	s->v4bits = (uint8_t)bits;
	return 0;
}

int addr_set_seal(struct addr_set *s)
{
	struct addr_range4 *v4;
	uint64_t *keys;
	size_t k = 0;

	free(s->ranges);
	free(s->keys);
	free(s->bucket);
	free(s->v4);
	free(s->v4at);
	s->keys = NULL;
	s->bucket = NULL;
	s->v4 = NULL;
	s->v4at = NULL;
	s->nkeys = s->nv4 = 0;
	s->ranges = malloc((s->ncidrs ? s->ncidrs : 1) * sizeof(*s->ranges));
	if (!s->ranges)
		return -1;
	for (size_t i = 0; i < s->ncidrs; i++) {
		struct addr_range *r = &s->ranges[i];
		unsigned plen = s->cidrs[i].plen;

		memcpy(r->lo, s->cidrs[i].addr, 16);
		memcpy(r->hi, s->cidrs[i].addr, 16);
		for (unsigned b = plen; b < 128; b++)
			r->hi[b / 8] |= (uint8_t)(0x80u >> (b % 8));
	}
	sort_n(s->ranges, s->ncidrs, sizeof(*s->ranges), cmp_range);
	for (size_t i = 0; i < s->ncidrs; i++) {
		struct addr_range *r = &s->ranges[i];

		if (k && (memcmp(r->lo, s->ranges[k - 1].hi, 16) <= 0 ||
			  adjacent(s->ranges[k - 1].hi, r->lo))) {
			if (memcmp(r->hi, s->ranges[k - 1].hi, 16) > 0)
				memcpy(s->ranges[k - 1].hi, r->hi, 16);
			continue;
		}
		s->ranges[k++] = *r;
	}
	s->nranges = k;
	s->v4 = malloc((k ? k : 1) * sizeof(*s->v4));
	s->keys = malloc((k ? k : 1) * 4 * sizeof(*s->keys));
	if (!s->v4 || !s->keys)
		return -1;
	bigmem_advise(s->v4, k * sizeof(*s->v4));
	bigmem_advise(s->keys, k * 4 * sizeof(*s->keys));
	if (make_v4(s) < 0)
		return -1;
	for (size_t i = 0; i < k; i++) {
		u128 hi = load128(s->ranges[i].hi), lo = load128(s->ranges[i].lo);
		uint64_t *key = &s->keys[4 * s->nkeys];

		if (lo >= V4_BASE && hi < V4_END)
			continue; /* IPv4 only: in v4 */
		key[0] = (uint64_t)(hi >> 64);
		key[1] = (uint64_t)hi;
		key[2] = (uint64_t)(lo >> 64);
		key[3] = (uint64_t)lo;
		s->nkeys++;
	}
	/* Each range is in one of them or both: give back the rest. */
	if (s->nv4 < k && (v4 = realloc(s->v4, (s->nv4 ? s->nv4 : 1) * sizeof(*v4))))
		s->v4 = v4;
	if (s->nkeys < k &&
	    (keys = realloc(s->keys, (s->nkeys ? s->nkeys : 1) * 4 * sizeof(*keys))))
		s->keys = keys;
	return s->nkeys >= BUCKET_MIN_RANGES ? make_buckets(s) : 0;
}

static bool v4_match(const struct addr_set *s, uint32_t a)
{
	size_t lo = 0, hi = s->nv4;

	if (s->v4at) {
		uint32_t b = a >> (32 - s->v4bits);

		lo = s->v4at[b];
		hi = s->v4at[b + 1];
	}
	while (lo < hi) { /* the first range ending at or past a */
		size_t mid = lo + (hi - lo) / 2;

		if (a > s->v4[mid].hi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nv4 && a >= s->v4[lo].lo;
}

bool addr_set_match(const struct addr_set *s, const uint8_t addr[16])
{
	u128 a = load128(addr);
	size_t lo = 0, hi = s->nkeys;

	if (a >= V4_BASE && a < V4_END)
		return v4_match(s, (uint32_t)a);
	if (s->bucket) {
		uint32_t nb = 1u << s->bucket_bits;
		u128 base = (u128)s->base6[0] << 64 | s->base6[1], off = a - base;

		if (a >= base && off >> s->shift6 < nb) {
			size_t b = (size_t)(off >> s->shift6);

			lo = s->bucket[b];
			hi = s->bucket[b + 1]; /* search() answers hi when all end before */
		}
	}
	lo = search(s->keys, lo, hi, a);
	return lo < s->nkeys && a >= key_at(&s->keys[4 * lo + 2]);
}

/* --- ports ---------------------------------------------------------------- */

struct port_set *port_set_new(void)
{
	return calloc(1, sizeof(struct port_set));
}

void port_set_free(struct port_set *s)
{
	if (!s)
		return;
	free(s->written);
	free(s->ranges);
	free(s);
}

int port_parse(const char *text, uint16_t *lo, uint16_t *hi, const char **why)
{
	unsigned long v[2] = { 0, 0 };
	const char *p = text;

	for (int k = 0; k < 2; k++) {
		char *end;

		*why = "a port is a number from 1 to 65535 (or a range LOW-HIGH)";
		if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
			return -1;
		v[k] = strtoul(p, &end, 10);
		if (v[k] < 1 || v[k] > 65535)
			return -1;
		if (*end == '\0') {
			if (k == 0)
				v[1] = v[0];
			break;
		}
		if (*end != '-' || k == 1)
			return -1;
		p = end + 1;
	}
	if (v[1] < v[0]) {
		*why = "a port range is LOW-HIGH with LOW <= HIGH";
		return -1;
	}
	*lo = (uint16_t)v[0];
	*hi = (uint16_t)v[1];
	return 0;
}

int port_set_add(struct port_set *s, uint16_t lo, uint16_t hi)
{
	void *room = vec_room(s->written, &s->cap, s->nwritten, sizeof(*s->written));

	if (!room)
		return -1;
	s->written = room;
	s->written[s->nwritten].lo = lo;
	s->written[s->nwritten++].hi = hi;
	return 0;
}

static int cmp_port(const void *a, const void *b)
{
	const struct port_range *x = a, *y = b;

	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi > y->hi) - (x->hi < y->hi);
}

int port_set_seal(struct port_set *s)
{
	size_t k = 0;

	free(s->ranges);
	s->ranges = malloc((s->nwritten ? s->nwritten : 1) * sizeof(*s->ranges));
	if (!s->ranges)
		return -1;
	memcpy(s->ranges, s->written, s->nwritten * sizeof(*s->ranges));
	sort_n(s->ranges, s->nwritten, sizeof(*s->ranges), cmp_port);
	for (size_t i = 0; i < s->nwritten; i++) {
		if (k && (uint32_t)s->ranges[i].lo <= (uint32_t)s->ranges[k - 1].hi + 1) {
			if (s->ranges[i].hi > s->ranges[k - 1].hi)
				s->ranges[k - 1].hi = s->ranges[i].hi;
			continue;
		}
		s->ranges[k++] = s->ranges[i];
	}
	s->nranges = k;
	return 0;
}

bool port_set_match(const struct port_set *s, uint16_t port)
{
	size_t lo = 0, hi = s->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (port > s->ranges[mid].hi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nranges && port >= s->ranges[lo].lo;
}

/* --- patterns ------------------------------------------------------------- */

struct pattern_set *pattern_set_new(void)
{
	return calloc(1, sizeof(struct pattern_set));
}

void pattern_set_free(struct pattern_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		pcre2_code_free(s->code[i]);
		free(s->src[i]);
	}
	free(s->code);
	free(s->src);
	free(s);
}

int pattern_set_add(struct pattern_set *s, const char *re, size_t len, size_t *col, char *why,
		    size_t whylen)
{
	pcre2_code *code;
	int errcode;
	PCRE2_SIZE off;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		void **c = realloc(s->code, cap * sizeof(*c));
		char **r = c ? realloc(s->src, cap * sizeof(*r)) : NULL;

		if (c)
			s->code = c;
		if (!c || !r) {
			snprintf(why, whylen, "out of memory");
			*col = 0;
			return -1;
		}
		s->src = r;
		s->cap = cap;
	}
	code = pcre2_compile((PCRE2_SPTR)re, len,
			     PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_CASELESS |
				 PCRE2_NO_AUTO_CAPTURE | PCRE2_NEVER_UTF,
			     &errcode, &off, NULL);
	if (!code) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		snprintf(why, whylen, "%s", (const char *)msg);
		*col = off;
		return -1;
	}
	/* JIT is an optimization: where the library or the CPU lacks it the
	 * interpreter runs the same pattern. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	if (!(s->src[s->n] = strndup(re, len))) {
		pcre2_code_free(code);
		snprintf(why, whylen, "out of memory");
		*col = 0;
		return -1;
	}
	s->code[s->n++] = code;
	return 0;
}

/*
 * Match data is per thread (dpixd's workers evaluate rules at once): one
 * ovector pair is enough, since only "does it match" is asked.
 */
static _Thread_local pcre2_match_data *match_data;

bool pattern_set_match(const struct pattern_set *s, const char *name, size_t len)
{
	if (!match_data && !(match_data = pcre2_match_data_create(1, NULL)))
		return false;
	/* Names are compared without a trailing dot, as domain sets do. */
	if (len && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < s->n; i++)
		if (pcre2_match(s->code[i], (PCRE2_SPTR)name, len, 0, 0, match_data, NULL) >= 0)
			return true;
	return false;
}
