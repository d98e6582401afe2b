/*
 * rules_index.c: which rules can match a flow, without asking all of them.
 *
 * Each rule is filed under its most selective key: the domain names of its
 * first name condition whose set holds domains (sni, connect, name,
 * http-host, in that order), else the prefixes of its dst set; a rule with
 * neither (only ports, patterns, app...) goes on the list every flow
 * checks. A small set's names and prefixes are copied into the index's
 * tables (one per key); the rules keyed by a big set (INDEX_BIG entries or
 * more) are a group that asks the set itself. A flow's candidates are the
 * rules filed under its names (one table probe per label), under the
 * prefixes holding its server address (one binary search, then the walk
 * up to the prefixes that hold that one), the groups whose set holds the flow's value, plus that list; the
 * first of them in load order whose conditions all hold decides, exactly as
 * a scan of every rule would. A rule whose only condition is its key
 * matches when its key does, without asking rule_matches again. So 100,000
 * rules keyed by names cost a flow a few probes, not 100,000 comparisons;
 * rules on the always list still cost one comparison each */
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"
#include "rules/rules.h"
#include "util/vec.h"
#include "util/sort.h"
#include "util/u128.h"

enum { KEY_SNI, KEY_CONNECT, KEY_NAME, KEY_HTTP_HOST, KEY_NAMES, KEY_DST = KEY_NAMES, KEY_COUNT };

/* The condition each key stands for. */
static const uint32_t key_cond[KEY_COUNT] = { COND_SNI, COND_CONNECT, COND_NAME, COND_HTTP_HOST,
					      COND_DST };

/*
 * A set this big is not copied into the index: the rules keyed by it are
 * a group, and a flow asks the set itself (one lookup per group). Copying
 * a 1M-name set cost as much memory as the set and half its load time.
 */
#define INDEX_BIG 1024

struct group {
	const struct rule_set *set;
	int key;
	uint32_t *rules; /* ascending */
	size_t n, cap;
};

/* A prefix filed by a rule, as the rules are filed. */
struct prefix_entry {
	uint8_t addr[16];
	uint8_t plen;
	uint32_t rule;
};

/*
 * The distinct prefixes, sorted by address then length: a prefix comes
 * before every prefix inside it, and those right after it, before any
 * that is not inside it (prefixes nest or are apart). Each knows the
 * nearest one holding it. The prefixes holding an address are then the
 * last one starting at or before it, or the first of its holders that
 * reaches it, and that one's holders: one binary search, then a walk up.
 */
struct prefix_node {
	u128 lo, hi;
	uint32_t parent; /* UINT32_MAX: none */
	uint32_t first;	 /* its rules: prefix_rules[first..first + n), ascending */
	uint32_t n;
};

struct rules_index {
	const struct rule **rules; /* by number: load order across packs */
	uint32_t nrules;
	struct domain_set *names[KEY_NAMES];
	struct prefix_entry *filed; /* while building */
	size_t nfiled, filedcap;
	struct prefix_node *nodes;
	uint32_t *prefix_rules;
	size_t nnodes;
	uint32_t *always;
	uint32_t nalways;
	struct group *groups;
	size_t ngroups, groupcap;
	/* 1 + the key a rule is filed under when that key is its only
	 * condition: a hit on the key is then a match. 0: ask rule_matches. */
	uint8_t *only;
};

void rules_index_free(struct rules_index *ix)
{
	if (!ix)
		return;
	for (int k = 0; k < KEY_NAMES; k++)
		domain_set_free(ix->names[k]);
	free(ix->filed);
	free(ix->nodes);
	free(ix->prefix_rules);
	for (size_t i = 0; i < ix->ngroups; i++)
		free(ix->groups[i].rules);
	free(ix->groups);
	free(ix->rules);
	free(ix->always);
	free(ix->only);
	free(ix);
}

static int file_names(struct rules_index *ix, int key, const struct rule_set *s, uint32_t g)
{
	const struct domain_set *d = s->u.dom;
	const char *why;
	size_t col;

	for (uint32_t i = 0; i < d->count; i++)
		if (domain_set_add_tag(ix->names[key], d->written[i], g, &col, &why) < 0)
			return -1;
	return 0;
}

static int file_prefix(struct rules_index *ix, const struct addr_cidr *c, uint32_t g)
{
	void *room = vec_room(ix->filed, &ix->filedcap, ix->nfiled, sizeof(*ix->filed));

	if (!room)
		return -1;
	ix->filed = room;
	memcpy(ix->filed[ix->nfiled].addr, c->addr, 16);
	ix->filed[ix->nfiled].plen = c->plen;
	ix->filed[ix->nfiled++].rule = g;
	return 0;
}

static int cmp_prefix(const void *a, const void *b)
{
	const struct prefix_entry *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	if (c)
		return c;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	return (x->rule > y->rule) - (x->rule < y->rule);
}

/* The filed prefixes into nodes (see struct prefix_node). */
static int build_prefixes(struct rules_index *ix)
{
	uint32_t *stack, depth = 0;
	size_t k = 0;

	if (!ix->nfiled)
		return 0;
	sort_n(ix->filed, ix->nfiled, sizeof(*ix->filed), cmp_prefix);
	ix->nodes = malloc(ix->nfiled * sizeof(*ix->nodes));
	ix->prefix_rules = malloc(ix->nfiled * sizeof(*ix->prefix_rules));
	stack = malloc(ix->nfiled * sizeof(*stack));
	if (!ix->nodes || !ix->prefix_rules || !stack) {
		free(stack);
		return -1;
	}
	for (size_t i = 0; i < ix->nfiled; i++) {
		const struct prefix_entry *e = &ix->filed[i];
		struct prefix_node *x = &ix->nodes[k];

		if (!(i && e->plen == e[-1].plen && !memcmp(e->addr, e[-1].addr, 16))) {
			x->lo = load128(e->addr);
			/* (a shift by 128 is undefined: /0 and /128 apart) */
			x->hi = e->plen == 128 ? x->lo
				: e->plen      ? x->lo | (~(u128)0 >> e->plen)
					       : ~(u128)0;
			x->first = (uint32_t)i;
			x->n = 0;
			while (depth && ix->nodes[stack[depth - 1]].hi < x->lo)
				depth--;
			x->parent = depth ? stack[depth - 1] : UINT32_MAX;
			stack[depth++] = (uint32_t)k++;
		}
		ix->prefix_rules[i] = e->rule;
		ix->nodes[k - 1].n++;
	}
	free(stack);
	free(ix->filed);
	ix->filed = NULL;
	ix->nnodes = k;
	return 0;
}

/* Rule g into the group of (set, key), a new one if none. */
static int file_group(struct rules_index *ix, const struct rule_set *set, int key, uint32_t g)
{
	struct group *gr = NULL;
	void *room;

	for (size_t i = 0; i < ix->ngroups && !gr; i++)
		if (ix->groups[i].set == set && ix->groups[i].key == key)
			gr = &ix->groups[i];
	if (!gr) {
		if (!(room = vec_room(ix->groups, &ix->groupcap, ix->ngroups, sizeof(*gr))))
			return -1;
		ix->groups = room;
		gr = &ix->groups[ix->ngroups++];
		memset(gr, 0, sizeof(*gr));
		gr->set = set;
		gr->key = key;
	}
	if (!(room = vec_room(gr->rules, &gr->cap, gr->n, sizeof(*gr->rules))))
		return -1;
	gr->rules = room;
	gr->rules[gr->n++] = g; /* rules are filed in load order: ascending */
	return 0;
}

/* File rule g under its key (see the top). */
static int file_rule(struct rules_index *ix, const struct rule *r, uint32_t g)
{
	const struct rule_set *names[KEY_NAMES] = {
		[KEY_SNI] = r->conds & COND_SNI ? r->sni : NULL,
		[KEY_CONNECT] = r->conds & COND_CONNECT ? r->connect : NULL,
		[KEY_NAME] = r->conds & COND_NAME ? r->name : NULL,
		[KEY_HTTP_HOST] = r->conds & COND_HTTP_HOST ? r->http_host : NULL,
	};

	for (int k = 0; k < KEY_NAMES; k++)
		if (names[k] && names[k]->kind == SET_DOMAINS) {
			ix->only[g] = r->conds == key_cond[k] ? (uint8_t)(k + 1) : 0;
			if (names[k]->u.dom->count >= INDEX_BIG)
				return file_group(ix, names[k], k, g);
			return file_names(ix, k, names[k], g);
		}
	if (r->conds & COND_DST) {
		const struct addr_set *a = r->dst->u.addr;

		ix->only[g] = r->conds == COND_DST ? KEY_DST + 1 : 0;
		if (a->ncidrs >= INDEX_BIG)
			return file_group(ix, r->dst, KEY_DST, g);

		for (size_t i = 0; i < a->ncidrs; i++)
			if (file_prefix(ix, &a->cidrs[i], g) < 0)
				return -1;
		return 0;
	}
	ix->always[ix->nalways++] = g;
	return 0;
}

struct rules_index *rules_index_build(const struct ruleset *rs)
{
	struct rules_index *ix = calloc(1, sizeof(*ix));
	uint32_t n = 0, g = 0;

	if (!ix)
		return NULL;
	for (size_t p = 0; p < rs->npacks; p++)
		n += (uint32_t)rs->packs[p]->nrules;
	ix->nrules = n;
	ix->rules = malloc((n ? n : 1) * sizeof(*ix->rules));
	ix->always = malloc((n ? n : 1) * sizeof(*ix->always));
	ix->only = calloc(n ? n : 1, 1);
	if (!ix->rules || !ix->always || !ix->only)
		goto fail;
	for (int k = 0; k < KEY_NAMES; k++)
		if (!(ix->names[k] = domain_set_new("index")))
			goto fail;
	for (size_t p = 0; p < rs->npacks; p++)
		for (size_t i = 0; i < rs->packs[p]->nrules; i++, g++) {
			ix->rules[g] = &rs->packs[p]->rules[i];
			if (file_rule(ix, ix->rules[g], g) < 0)
				goto fail;
		}
	for (int k = 0; k < KEY_NAMES; k++)
		if (domain_set_seal(ix->names[k]) < 0)
			goto fail;
	if (build_prefixes(ix) < 0)
		goto fail;
	return ix;
fail:
	rules_index_free(ix);
	return NULL;
}

/* The best candidate so far: the lowest numbered rule that matched. */
struct best {
	const struct rules_index *ix;
	const struct rules_input *in;
	uint32_t g; /* UINT32_MAX: none yet */
	int key;    /* the key that g was found under */
};

/* Rule g holds the flow's value for key b->key: does it match? */
static void consider(uint32_t g, void *arg)
{
	struct best *b = arg;

	if (g < b->g && (b->ix->only[g] == b->key + 1 || rule_matches(b->ix->rules[g], b->in)))
		b->g = g;
}

static void names_of(struct best *b, int key, const char *name, size_t len)
{
	b->key = key;
	if (len && b->ix->names[key]->used)
		domain_set_tags(b->ix->names[key], name, len, consider, b);
}

/* Is the flow's value for a group's key in the group's set? */
static bool group_hit(const struct group *gr, const struct rules_input *in)
{
	const struct dpix_facts *f = in->facts;
	const struct domain_set *d = gr->set->u.dom;
	bool connect = f->app == APP_CONNECT;

	switch (gr->key) {
	case KEY_SNI:
		return f->sni_len && domain_set_match(d, f->sni, f->sni_len);
	case KEY_CONNECT:
		return connect && f->connect_host_len &&
		       domain_set_match(d, f->connect_host, f->connect_host_len);
	case KEY_NAME:
		return (f->sni_len && domain_set_match(d, f->sni, f->sni_len)) ||
		       (connect && f->connect_host_len &&
			domain_set_match(d, f->connect_host, f->connect_host_len));
	case KEY_HTTP_HOST:
		return f->http_host_len && domain_set_match(d, f->http_host, f->http_host_len);
	default:
		return addr_set_match(gr->set->u.addr, in->dst);
	}
}

/* The groups: their rules in order, while they can still beat the best. */
static void groups_of(struct best *b)
{
	const struct rules_index *ix = b->ix;

	for (size_t i = 0; i < ix->ngroups; i++) {
		const struct group *gr = &ix->groups[i];

		if (gr->rules[0] >= b->g || !group_hit(gr, b->in))
			continue;
		b->key = gr->key;
		for (size_t k = 0; k < gr->n && gr->rules[k] < b->g; k++) {
			consider(gr->rules[k], b);
			if (b->g == gr->rules[k])
				break;
		}
	}
}

static void prefixes_of(struct best *b, const uint8_t addr[16])
{
	const struct rules_index *ix = b->ix;
	u128 a = load128(addr);
	size_t lo = 0, hi = ix->nnodes;
	uint32_t i;

	b->key = KEY_DST;
	while (lo < hi) { /* the first node starting past a */
		size_t mid = lo + (hi - lo) / 2;

		if (ix->nodes[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return;
	for (i = (uint32_t)lo - 1; i != UINT32_MAX && ix->nodes[i].hi < a;)
		i = ix->nodes[i].parent;
	for (; i != UINT32_MAX; i = ix->nodes[i].parent) {
		const struct prefix_node *x = &ix->nodes[i];

		for (uint32_t r = 0; r < x->n && ix->prefix_rules[x->first + r] < b->g; r++)
			consider(ix->prefix_rules[x->first + r], b);
	}
}

const struct rule *rules_index_eval(const struct rules_index *ix, const struct rules_input *in)
{
	const struct dpix_facts *f = in->facts;
	struct best b = { ix, in, UINT32_MAX, 0 };

	/* The always list is in load order: its first match bounds the rest. */
	for (uint32_t i = 0; i < ix->nalways; i++)
		if (rule_matches(ix->rules[ix->always[i]], in)) {
			b.g = ix->always[i];
			break;
		}
	names_of(&b, KEY_SNI, f->sni, f->sni_len);
	names_of(&b, KEY_NAME, f->sni, f->sni_len);
	if (f->app == APP_CONNECT) {
		names_of(&b, KEY_CONNECT, f->connect_host, f->connect_host_len);
		names_of(&b, KEY_NAME, f->connect_host, f->connect_host_len);
	}
	names_of(&b, KEY_HTTP_HOST, f->http_host, f->http_host_len);
	prefixes_of(&b, in->dst);
	groups_of(&b);
	return b.g == UINT32_MAX ? NULL : ix->rules[b.g];
}
