/*
 * cmd_rules_check.c: `dpix rules check [--strict] PACK|DIR...`, a lint for
 * rule packs. Loads the packs in the order given, as `dpix replay --rules`
 * does, a directory's *.rules in name order as replay loads the rules
 * directory (an error stops that pack, as there, and is printed
 * file:line:column), then warns, each warning `file:line: warning: ...`
 * naming the rules and sets involved:
 *  - a rule that an earlier rule shadows (rules_cover.c: certain cases
 *    only), which under first-match evaluation never decides;
 *  - a named set no rule uses, and an empty set;
 *  - an entry (a domain name or a server address) in the sets of two rules
 *    with different service labels and different actions: the earlier rule
 *    decides a flow to it, whatever the later one's author meant.
 * Exit status: 0 clean, 1 when a pack has an error (or, with --strict, when
 * there is a warning), 2 for a usage error.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_rules.h"
#include "rules/rules.h"

/* Every rule of the loaded packs, in evaluation order. */
struct check {
	const struct rule **rules;
	size_t nrules;
	unsigned warnings;
};

static const char *set_label(const struct rule_set *s)
{
	return s->name ? s->name : "(inline)";
}

static const char *service_of(const struct rule *r)
{
	return r->service ? r->service : "";
}

/* ---- shadowed rules ---- */

/*
 * Finding the rule that shadows b without asking every earlier rule: a
 * rule that covers b has every condition of b's it has, so if b has a
 * name condition on a domains set, a covering rule either lacks that
 * condition or its set accepts any name b's accepts, in particular a
 * witness name b's first entry accepts. A table per name condition, every
 * entry tagged with its rule, gives the rules whose set accepts the
 * witness in one lookup; only the rules without that condition are
 * scanned (a mask test each). Rules without a name condition on a domains
 * set are compared with every earlier rule.
 */
enum { NK_SNI, NK_CONNECT, NK_NAME, NK_HTTP_HOST, NK_COUNT };

static const uint32_t nk_cond[NK_COUNT] = { COND_SNI, COND_CONNECT, COND_NAME, COND_HTTP_HOST };

static const struct rule_set *nk_set(const struct rule *r, int k)
{
	const struct rule_set *s[NK_COUNT] = { r->sni, r->connect, r->name, r->http_host };

	return (r->conds & nk_cond[k]) ? s[k] : NULL;
}

/* A prefix of a dst set, and its rule. */
struct dkey {
	uint8_t addr[16];
	uint8_t plen;
	uint32_t rule;
};

struct shadow {
	struct check *ck;
	struct domain_set *tab[NK_COUNT];
	uint32_t *lacking[NK_COUNT]; /* rules without the condition, in order */
	size_t nlacking[NK_COUNT];
	/* The same for dst: a rule that covers b's dst set contains the
	 * first address of b's first prefix, in one of its own prefixes:
	 * one binary search per prefix length in use finds them. */
	struct dkey *dst; /* sorted by prefix length, then address */
	size_t ndst;
	uint32_t *nodst; /* rules without dst, in order */
	size_t nnodst;
	bool plen_used[129];
	size_t j;    /* the rule being checked */
	size_t best; /* the earliest rule found to cover it, or j */
};

static int cmp_dkey(const void *a, const void *b)
{
	const struct dkey *x = a, *y = b;

	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	return memcmp(x->addr, y->addr, 16);
}

static int dst_table(struct shadow *sh)
{
	struct check *ck = sh->ck;
	size_t n = 0;

	for (size_t r = 0; r < ck->nrules; r++)
		if (ck->rules[r]->conds & COND_DST)
			n += ck->rules[r]->dst->u.addr->ncidrs;
	sh->dst = malloc((n + 1) * sizeof(*sh->dst));
	sh->nodst = malloc((ck->nrules + 1) * sizeof(*sh->nodst));
	if (!sh->dst || !sh->nodst)
		return -1;
	for (uint32_t r = 0; r < ck->nrules; r++) {
		const struct addr_set *as;

		if (!(ck->rules[r]->conds & COND_DST)) {
			sh->nodst[sh->nnodst++] = r;
			continue;
		}
		as = ck->rules[r]->dst->u.addr;
		for (size_t i = 0; i < as->ncidrs; i++) {
			struct dkey *d = &sh->dst[sh->ndst++];

			memcpy(d->addr, as->cidrs[i].addr, 16);
			d->plen = as->cidrs[i].plen;
			d->rule = r;
			sh->plen_used[d->plen] = true;
		}
	}
	if (sh->ndst) /* qsort(NULL, 0) is undefined */
		qsort(sh->dst, sh->ndst, sizeof(*sh->dst), cmp_dkey);
	return 0;
}

static void try_cover(struct shadow *sh, size_t i);

/* The rules with a dst prefix holding addr. */
static void dst_candidates(struct shadow *sh, const uint8_t addr[16])
{
	for (unsigned L = 0; L <= 128; L++) {
		struct dkey key = { .plen = (uint8_t)L };
		size_t lo = 0, hi = sh->ndst;

		if (!sh->plen_used[L])
			continue;
		for (unsigned b = 0; b < L; b++)
			key.addr[b / 8] |= addr[b / 8] & (uint8_t)(0x80u >> (b % 8));
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cmp_dkey(&sh->dst[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < sh->ndst && !cmp_dkey(&sh->dst[lo], &key); lo++)
			try_cover(sh, sh->dst[lo].rule);
	}
}

/* A name that b's entry accepts and any set covering it must accept
 * (rules_cover.c): the name itself, "!.!.x" for *.x, a glob without its
 * stars. */
static bool witness(const char *entry, char *buf, size_t len)
{
	size_t n = 0;

	if (entry[0] == '*' && entry[1] == '.')
		return (size_t)snprintf(buf, len, "!.!.%s", entry + 2) < len;
	for (const char *p = entry; *p; p++)
		if (*p != '*' && n + 1 < len)
			buf[n++] = *p;
	buf[n] = '\0';
	return n > 0 && n + 1 < len && buf[0] != '.';
}

static void try_cover(struct shadow *sh, size_t i)
{
	const struct rule *a = sh->ck->rules[i], *b = sh->ck->rules[sh->j];

	if (i < sh->best && !(a->conds & ~b->conds) && rule_covers(a, b))
		sh->best = i;
}

static void on_tag(uint32_t tag, void *arg)
{
	try_cover(arg, tag);
}

static int shadow_tables(struct shadow *sh)
{
	struct check *ck = sh->ck;

	for (int k = 0; k < NK_COUNT; k++) {
		if (!(sh->tab[k] = domain_set_new("")) ||
		    !(sh->lacking[k] = malloc((ck->nrules + 1) * sizeof(uint32_t))))
			return -1;
		for (uint32_t r = 0; r < ck->nrules; r++) {
			const struct rule_set *s = nk_set(ck->rules[r], k);
			const char *why;
			size_t col;

			if (!s) {
				sh->lacking[k][sh->nlacking[k]++] = r;
				continue;
			}
			if (s->kind != SET_DOMAINS)
				continue; /* never covers a domains set */
			for (uint32_t e = 0; e < s->u.dom->count; e++)
				if (domain_set_add_tag(sh->tab[k], s->u.dom->written[e], r, &col,
						       &why) < 0)
					return -1;
		}
	}
	return 0;
}

static void report_shadow(struct check *ck, const struct rule *a, const struct rule *b)
{
	printf("%s:%u: warning: rule '%s' is shadowed by rule '%s' (%s:%u, pack %s): "
	       "every flow it matches, '%s' matches first, so it never decides",
	       b->file, b->line, b->id, a->id, a->file, a->line, a->pack->name, a->id);
	if (a->action == b->action)
		printf(" (same action %s: it is dead code)\n", rule_action_name(a->action));
	else
		printf(" (its %s is never given: '%s' gives %s)\n", rule_action_name(b->action),
		       a->id, rule_action_name(a->action));
	ck->warnings++;
}

static int check_shadowed(struct check *ck)
{
	struct shadow sh = { .ck = ck };
	char w[300];
	int rc = -1;

	if (shadow_tables(&sh) < 0 || dst_table(&sh) < 0)
		goto out;
	for (size_t j = 1; j < ck->nrules; j++) {
		const struct rule *b = ck->rules[j];
		int k = 0;

		sh.j = sh.best = j;
		for (; k < NK_COUNT; k++) {
			const struct rule_set *s = nk_set(b, k);

			if (s && s->kind == SET_DOMAINS && s->u.dom->count &&
			    witness(s->u.dom->written[0], w, sizeof(w)))
				break;
		}
		if (k == NK_COUNT && (b->conds & COND_DST) && b->dst->u.addr->ncidrs) {
			dst_candidates(&sh, b->dst->u.addr->cidrs[0].addr);
			for (size_t i = 0; i < sh.nnodst && sh.nodst[i] < sh.best; i++)
				try_cover(&sh, sh.nodst[i]);
		} else if (k == NK_COUNT) {
			for (size_t i = 0; i < j && sh.best == j; i++)
				try_cover(&sh, i);
		} else {
			domain_set_tags(sh.tab[k], w, strlen(w), on_tag, &sh);
			for (size_t i = 0; i < sh.nlacking[k] && sh.lacking[k][i] < sh.best; i++)
				try_cover(&sh, sh.lacking[k][i]);
		}
		if (sh.best < j)
			report_shadow(ck, ck->rules[sh.best], b);
	}
	rc = 0;
out:
	for (int k = 0; k < NK_COUNT; k++) {
		domain_set_free(sh.tab[k]);
		free(sh.lacking[k]);
	}
	free(sh.dst);
	free(sh.nodst);
	return rc;
}

/* ---- unused and empty sets ---- */

static size_t set_size(const struct rule_set *s)
{
	switch (s->kind) {
	case SET_DOMAINS:
		return s->u.dom->count;
	case SET_PATTERNS:
		return s->u.pat->n;
	case SET_ADDRESSES:
		return s->u.addr->ncidrs;
	default:
		return s->u.port->nwritten;
	}
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (const void *const *)a,
		  y = (uintptr_t) * (const void *const *)b;

	return x < y ? -1 : x > y;
}

static void check_sets(struct check *ck, const struct rule_pack *pk)
{
	/* The sets the pack's rules use, sorted for bsearch. */
	size_t n = 0;
	const struct rule_set **used = malloc((pk->nrules * 8 + 1) * sizeof(*used));

	if (!used)
		return;
	for (size_t i = 0; i < pk->nrules; i++) {
		const struct rule *r = &pk->rules[i];
		const struct rule_set *s[8] = { r->sni, r->connect, r->name,  r->http_host,
						r->dst, r->src,	    r->dport, r->connect_port };

		for (int k = 0; k < 8; k++)
			if (s[k])
				used[n++] = s[k];
	}
	if (n) /* qsort(NULL, 0) is undefined */
		qsort(used, n, sizeof(*used), cmp_ptr);
	for (size_t i = 0; i < pk->nsets; i++) {
		const struct rule_set *s = pk->sets[i];
		const char *file = s->file ? s->file : pk->path;

		if (!s->name)
			continue;
		if (!bsearch(&s, used, n, sizeof(*used), cmp_ptr)) {
			printf("%s:%u: warning: set '%s' is not used by any rule of pack %s\n",
			       file, s->line, s->name, pk->name);
			ck->warnings++;
		}
		if (set_size(s) == 0) {
			printf("%s:%u: warning: set '%s' is empty\n", file, s->line, s->name);
			ck->warnings++;
		}
	}
	free(used);
}

/* ---- cross-service overlap ---- */

/* One entry of one set of one rule: a domain (exact or '*.x') or an
 * address range. */
struct occ {
	const char *name; /* domains: the entry as written (lower case) */
	uint8_t lo[16], hi[16];
	uint32_t rule; /* index in evaluation order */
	const struct rule_set *set;
};

/* Two rules that share entries, and the first shared entry seen. */
struct pair {
	uint32_t a, b;
	const struct occ *oa, *ob;
	size_t count; /* entries shared, once merged */
};

struct pairs {
	struct pair *v;
	size_t n, cap;
};

static bool conflict(const struct check *ck, uint32_t a, uint32_t b)
{
	const struct rule *x = ck->rules[a], *y = ck->rules[b];

	return a != b && x->action != y->action && strcmp(service_of(x), service_of(y)) != 0;
}

/* Entries in a fixed order: names, then addresses; for the same text,
 * by set name. */
static int cmp_occ(const struct occ *x, const struct occ *y)
{
	int c;

	if (!x->name != !y->name)
		return x->name ? -1 : 1;
	c = x->name ? strcmp(x->name, y->name) : memcmp(x->lo, y->lo, 16);
	if (!c && !x->name)
		c = memcmp(x->hi, y->hi, 16);
	if (!c)
		c = strcmp(x->set->name ? x->set->name : "", y->set->name ? y->set->name : "");
	return c;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c;

	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	c = cmp_occ(x->oa, y->oa);
	return c ? c : cmp_occ(x->ob, y->ob);
}

/* Sorted, one pair per two rules: the smallest entries, and the count.
 * Done when the list fills past a million, so that sets shared by many
 * rules cost memory per pair of rules, not per shared entry. */
static void pairs_merge(struct pairs *p)
{
	size_t k = 0;

	if (p->n) /* qsort(NULL, 0) is undefined */
		qsort(p->v, p->n, sizeof(*p->v), cmp_pair);
	for (size_t i = 0; i < p->n; i++) {
		if (k && p->v[k - 1].a == p->v[i].a && p->v[k - 1].b == p->v[i].b) {
			p->v[k - 1].count += p->v[i].count;
			continue;
		}
		p->v[k++] = p->v[i];
	}
	p->n = k;
}

static int pair_add(struct pairs *p, const struct occ *x, const struct occ *y)
{
	bool full = p->n == p->cap;

	if (x->rule > y->rule) {
		const struct occ *t = x;

		x = y, y = t;
	}
	if (full && p->cap >= (1u << 20)) {
		pairs_merge(p);
		full = p->n * 2 > p->cap; /* still crowded: grow too */
	}
	if (full) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct pair *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -1;
		p->v = v, p->cap = cap;
	}
	p->v[p->n++] = (struct pair){ x->rule, y->rule, x, y, 1 };
	return 0;
}

static int cmp_occ_name(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->rule > y->rule) - (x->rule < y->rule);
}

static int cmp_occ_lo(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;

	return memcmp(x->lo, y->lo, 16);
}

/* The first occurrence of key in the sorted array, or n. */
static size_t occ_find(const struct occ *v, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The entries that cover a name entry: the same entry, and '*.y' for y
 * above it. One binary search per label, so the whole check costs
 * O(E log E) for E entries, plus the pairs found.
 */
static int domain_pairs(const struct check *ck, struct occ *v, size_t n, struct pairs *p)
{
	char key[300];

	if (n) /* qsort(NULL, 0) is undefined */
		qsort(v, n, sizeof(*v), cmp_occ_name);
	for (size_t i = 0; i < n; i++) {
		const char *x = v[i].name, *d;

		/* The same entry: pair with the earlier ones of its group. */
		for (size_t j = i; j-- > 0 && !strcmp(v[j].name, x);)
			if (conflict(ck, v[j].rule, v[i].rule) && pair_add(p, &v[j], &v[i]) < 0)
				return -1;
		/* '*.x': the wildcards above x; a name or a glob ("turn-*.x",
		 * "*push*.x"), one label under x: the wildcards from x up. */
		if (x[0] == '*' && x[1] == '.')
			x += 2;
		for (d = strchr(x, '.'); d; d = strchr(d + 1, '.')) {
			size_t k;

			if (snprintf(key, sizeof(key), "*.%s", d + 1) >= (int)sizeof(key))
				break;
			for (k = occ_find(v, n, key); k < n && !strcmp(v[k].name, key); k++)
				if (conflict(ck, v[k].rule, v[i].rule) &&
				    pair_add(p, &v[k], &v[i]) < 0)
					return -1;
		}
	}
	return 0;
}

/* Overlapping address ranges: a sweep in the order of their starts. */
static int addr_pairs(const struct check *ck, struct occ *v, size_t n, struct pairs *p)
{
	size_t *open = malloc((n + 1) * sizeof(*open)), nopen = 0;

	if (!open)
		return -1;
	if (n) /* qsort(NULL, 0) is undefined */
		qsort(v, n, sizeof(*v), cmp_occ_lo);
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		for (size_t j = 0; j < nopen; j++)
			if (memcmp(v[open[j]].hi, v[i].lo, 16) >= 0)
				open[k++] = open[j];
		nopen = k;
		for (size_t j = 0; j < nopen; j++)
			if (conflict(ck, v[open[j]].rule, v[i].rule) &&
			    pair_add(p, &v[open[j]], &v[i]) < 0) {
				free(open);
				return -1;
			}
		open[nopen++] = i;
	}
	free(open);
	return 0;
}

static void addr_text(const struct occ *o, char *buf, size_t len)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	char a[INET6_ADDRSTRLEN];
	unsigned plen = 128;

	/* The prefix length back from the range. */
	for (unsigned b = 0; b < 128; b++) {
		uint8_t m = (uint8_t)(0x80u >> (b % 8));

		if ((o->lo[b / 8] & m) != (o->hi[b / 8] & m)) {
			plen = b;
			break;
		}
	}
	if (!memcmp(o->lo, mapped, 12)) {
		inet_ntop(AF_INET, o->lo + 12, a, sizeof(a));
		plen = plen >= 96 ? plen - 96 : 0;
		snprintf(buf, len, plen == 32 ? "%s" : "%s/%u", a, plen);
	} else {
		inet_ntop(AF_INET6, o->lo, a, sizeof(a));
		snprintf(buf, len, plen == 128 ? "%s" : "%s/%u", a, plen);
	}
}

static void entry_text(const struct occ *o, char *buf, size_t len)
{
	if (o->name)
		snprintf(buf, len, "%s", o->name);
	else
		addr_text(o, buf, len);
}

/* One warning per pair of rules, at the later one, with its first entry. */
static void report_pairs(struct check *ck, struct pairs *p)
{
	pairs_merge(p);
	for (size_t i = 0; i < p->n; i++) {
		const struct pair *q = &p->v[i];
		const struct rule *a = ck->rules[q->a], *b = ck->rules[q->b];
		char ea[80], eb[80];

		entry_text(q->oa, ea, sizeof(ea));
		entry_text(q->ob, eb, sizeof(eb));
		printf("%s:%u: warning: '%s' in set '%s' of rule '%s' (service '%s', %s) overlaps "
		       "'%s' in set '%s' of rule '%s' (%s:%u, service '%s', %s): a flow both match "
		       "gets %s from '%s', which comes first",
		       b->file, b->line, eb, set_label(q->ob->set), b->id, service_of(b),
		       rule_action_name(b->action), ea, set_label(q->oa->set), a->id, a->file,
		       a->line, service_of(a), rule_action_name(a->action),
		       rule_action_name(a->action), a->id);
		if (q->count > 1)
			printf(" (and %zu more shared entr%s)", q->count - 1,
			       q->count > 2 ? "ies" : "y");
		printf("\n");
		ck->warnings++;
	}
}

static int occ_push(struct occ **v, size_t *n, size_t *cap, const struct occ *o)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct occ *w = realloc(*v, c * sizeof(*w));

		if (!w)
			return -1;
		*v = w, *cap = c;
	}
	(*v)[(*n)++] = *o;
	return 0;
}

/* Entries of the sets a rule looks up names and server addresses in
 * (src, the client side, is left out). */
static int collect(const struct check *ck, struct occ **dv, size_t *dn, size_t *dcap,
		   struct occ **av, size_t *an, size_t *acap)
{
	for (uint32_t r = 0; r < ck->nrules; r++) {
		const struct rule *ru = ck->rules[r];
		const struct rule_set *s[5] = { ru->sni, ru->connect, ru->name, ru->http_host,
						ru->dst };

		for (int k = 0; k < 5; k++) {
			bool again = !s[k];

			/* The same set twice in one rule adds nothing. */
			for (int m = 0; m < k; m++)
				again |= s[m] == s[k];
			if (again)
				continue;
			if (s[k]->kind == SET_DOMAINS) {
				for (uint32_t e = 0; e < s[k]->u.dom->count; e++) {
					struct occ o = { .name = s[k]->u.dom->written[e],
							 .rule = r,
							 .set = s[k] };

					if (occ_push(dv, dn, dcap, &o) < 0)
						return -1;
				}
			} else if (s[k]->kind == SET_ADDRESSES) {
				const struct addr_set *as = s[k]->u.addr;

				for (size_t e = 0; e < as->ncidrs; e++) {
					struct occ o = { .rule = r, .set = s[k] };

					memcpy(o.lo, as->cidrs[e].addr, 16);
					memcpy(o.hi, o.lo, 16);
					for (unsigned b = as->cidrs[e].plen; b < 128; b++)
						o.hi[b / 8] |= (uint8_t)(0x80u >> (b % 8));
					if (occ_push(av, an, acap, &o) < 0)
						return -1;
				}
			}
		}
	}
	return 0;
}

static int check_overlap(struct check *ck)
{
	struct occ *dv = NULL, *av = NULL;
	size_t dn = 0, dcap = 0, an = 0, acap = 0;
	struct pairs p = { 0 };
	int rc = -1;

	if (collect(ck, &dv, &dn, &dcap, &av, &an, &acap) < 0 || domain_pairs(ck, dv, dn, &p) < 0 ||
	    addr_pairs(ck, av, an, &p) < 0)
		goto out;
	report_pairs(ck, &p);
	rc = 0;
out:
	free(p.v);
	free(dv);
	free(av);
	return rc;
}

static void check_usage(FILE *out)
{
	fprintf(out, "usage: dpix rules check [--strict] PACK|DIR...\n");
}

int rules_check_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "strict", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ruleset rs = { 0 };
	struct check ck = { 0 };
	struct rules_error err;
	bool strict = false;
	int c, rc = 1, errors = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 's') {
			strict = true;
		} else if (c == 'h') {
			check_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "dpix rules check: unknown option '%s'\n",
				argv[optind - 1]);
			check_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "dpix rules check: no pack given\n");
		check_usage(stderr);
		return EXIT_USAGE;
	}
	/* Every pack is loaded, so that one run reports each bad one. */
	for (int i = optind; i < argc; i++) {
		struct stat st;
		bool dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);

		if ((dir ? rules_load_dir(&rs, argv[i], &err) : rules_load(&rs, argv[i], &err)) <
		    0) {
			fprintf(stderr, "%s\n", err.msg);
			errors++;
		}
	}
	if (errors)
		goto out;
	for (size_t p = 0; p < rs.npacks; p++)
		ck.nrules += rs.packs[p]->nrules;
	ck.rules = malloc((ck.nrules + 1) * sizeof(*ck.rules));
	if (!ck.rules)
		goto nomem;
	ck.nrules = 0;
	for (size_t p = 0; p < rs.npacks; p++)
		for (size_t i = 0; i < rs.packs[p]->nrules; i++)
			ck.rules[ck.nrules++] = &rs.packs[p]->rules[i];
	if (check_shadowed(&ck) < 0)
		goto nomem;
	for (size_t p = 0; p < rs.npacks; p++)
		check_sets(&ck, rs.packs[p]);
	if (check_overlap(&ck) < 0)
		goto nomem;
	printf("%zu pack%s, %zu rule%s: %u warning%s\n", rs.npacks, rs.npacks == 1 ? "" : "s",
	       ck.nrules, ck.nrules == 1 ? "" : "s", ck.warnings, ck.warnings == 1 ? "" : "s");
	rc = strict && ck.warnings ? 1 : 0;
	goto out;
nomem:
	fprintf(stderr, "dpix rules check: out of memory\n");
	rc = 1;
out:
	free(ck.rules);
	ruleset_free(&rs);
	return rc;
}
