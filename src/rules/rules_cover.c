/*
 * rules_cover.c: does one rule match every flow another matches? For
 * `dpix rules check`, which warns about a rule that an earlier one
 * shadows: under first-match evaluation such a rule never decides.
 *
 * Only certain answers: "covers" is true only when containment can be
 * shown entry by entry; whatever cannot be shown (a domains set against a
 * patterns set, a glob against another glob, conditions the earlier rule
 * has and the later one lacks) is "not covered", so a warning is never a
 * guess. Implied conditions (`connect in` implies app connect) are not
 * used either.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

/*
 * A name that an entry `*.y` of a domains set matches exactly when y is x
 * or above it, and that no exact entry or glob can match: '!' is never
 * in a pattern, and a glob matches one label under its base, here "!.x".
 */
static bool below_covered(const struct domain_set *a, const char *x)
{
	char buf[260];
	size_t n = strlen(x);

	if (n + 4 >= sizeof(buf))
		return false;
	memcpy(buf, "!.!.", 4);
	memcpy(buf + 4, x, n + 1);
	return domain_set_match(a, buf, n + 4);
}

static bool written_in(const struct domain_set *a, const char *entry)
{
	for (uint32_t i = 0; i < a->count; i++)
		if (!strcmp(a->written[i], entry))
			return true;
	return false;
}

bool domain_set_covers(const struct domain_set *a, const struct domain_set *b)
{
	for (uint32_t i = 0; i < b->count; i++) {
		const char *e = b->written[i], *dot;
		bool glob;

		if (!strchr(e, '*')) {
			if (!domain_set_match(a, e, strlen(e)))
				return false;
			continue;
		}
		/* '*.x' or a glob 'g*.x': both need `*.y` with y = x or above;
		 * a glob may also be written identically in a. */
		dot = strchr(e, '.');
		glob = !(e[0] == '*' && e[1] == '.');
		if (!dot || !(below_covered(a, dot + 1) || (glob && written_in(a, e))))
			return false;
	}
	return true;
}

static bool in_range(const struct addr_set *a, const uint8_t lo[16], const uint8_t hi[16])
{
	size_t l = 0, h = a->nranges;

	/* The last merged range starting at or before lo. */
	while (l < h) {
		size_t mid = l + (h - l) / 2;

		if (memcmp(a->ranges[mid].lo, lo, 16) <= 0)
			l = mid + 1;
		else
			h = mid;
	}
	return l > 0 && memcmp(hi, a->ranges[l - 1].hi, 16) <= 0;
}

/* Each CIDR of b inside one merged range of a (sealed sets). */
bool addr_set_covers(const struct addr_set *a, const struct addr_set *b)
{
	for (size_t i = 0; i < b->ncidrs; i++) {
		uint8_t lo[16], hi[16];

		memcpy(lo, b->cidrs[i].addr, 16);
		memcpy(hi, lo, 16);
		for (unsigned bit = b->cidrs[i].plen; bit < 128; bit++)
			hi[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		if (!in_range(a, lo, hi))
			return false;
	}
	return true;
}

bool port_set_covers(const struct port_set *a, const struct port_set *b)
{
	for (size_t i = 0; i < b->nwritten; i++) {
		bool in = false;

		for (size_t j = 0; !in && j < a->nranges; j++)
			in = a->ranges[j].lo <= b->written[i].lo &&
			     b->written[i].hi <= a->ranges[j].hi;
		if (!in)
			return false;
	}
	return true;
}

/* Every pattern of b written identically in a. */
static bool pattern_set_covers(const struct pattern_set *a, const struct pattern_set *b)
{
	for (size_t i = 0; i < b->n; i++) {
		bool in = false;

		for (size_t j = 0; !in && j < a->n; j++)
			in = !strcmp(a->src[j], b->src[i]);
		if (!in)
			return false;
	}
	return true;
}

static bool set_covers(const struct rule_set *a, const struct rule_set *b)
{
	if (a == b)
		return true;
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case SET_DOMAINS:
		return domain_set_covers(a->u.dom, b->u.dom);
	case SET_PATTERNS:
		return pattern_set_covers(a->u.pat, b->u.pat);
	case SET_ADDRESSES:
		return addr_set_covers(a->u.addr, b->u.addr);
	case SET_PORTS:
		return port_set_covers(a->u.port, b->u.port);
	default:
		return false;
	}
}

static bool ja4_covers(const struct rule *a, const struct rule *b)
{
	for (size_t i = 0; i < b->nja4; i++) {
		bool in = false;

		for (size_t j = 0; !in && j < a->nja4; j++)
			in = !strcmp(a->ja4[j], b->ja4[i]);
		if (!in)
			return false;
	}
	return true;
}

/* Is a mask a superset of another? */
static bool bits_cover(uint32_t a, uint32_t b)
{
	return (b & ~a) == 0;
}

bool rule_covers(const struct rule *a, const struct rule *b)
{
	uint32_t c = a->conds;

	if (!bits_cover(b->conds, c))
		return false;
	if ((c & COND_TRANSPORT) && a->transport != b->transport)
		return false;
	if ((c & COND_APP) && !bits_cover(a->apps, b->apps))
		return false;
	if ((c & COND_TUNNEL) && !bits_cover(a->tunnels, b->tunnels))
		return false;
	if ((c & COND_PUSH) && !bits_cover(a->push, b->push))
		return false;
	if ((c & COND_JA4) && !ja4_covers(a, b))
		return false;
	if ((c & COND_SNI) && !set_covers(a->sni, b->sni))
		return false;
	if ((c & COND_CONNECT) && !set_covers(a->connect, b->connect))
		return false;
	if ((c & COND_NAME) && !set_covers(a->name, b->name))
		return false;
	if ((c & COND_HTTP_HOST) && !set_covers(a->http_host, b->http_host))
		return false;
	if ((c & COND_CONNECT_PORT) && !set_covers(a->connect_port, b->connect_port))
		return false;
	if ((c & COND_DST) && !set_covers(a->dst, b->dst))
		return false;
	if ((c & COND_SRC) && !set_covers(a->src, b->src))
		return false;
	if ((c & COND_DPORT) && !set_covers(a->dport, b->dport))
		return false;
	/* websocket and fronting take no argument: having both is equal. */
	return true;
}
