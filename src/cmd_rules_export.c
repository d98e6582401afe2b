/*
 * cmd_rules_export.c: `dpix rules export nft|iptables|squid`, the rules
 * of one action turned into what a gateway's own tools load: an nft
 * table, ipset lists with iptables rules, or Squid ACLs (one file per
 * format: cmd_rules_export_nft.c, _ipt.c, _squid.c). Only what those tools can check is
 * exported: addresses, ports and the transport for nft and iptables;
 * every rule that needs more (a server name, a CONNECT target, the
 * application) is listed in a comment and counted on stderr, never
 * dropped silently.
 *
 * Semantics kept: dpix gives a flow the action of the first matching
 * rule, pack after pack. A rule of another action above an exported one
 * takes its flows first, so where it can be exported it is, as a rule
 * that leaves the chain without marking; where it cannot, a comment says
 * so.
 *
 * Exit status: 0, 1 when a pack does not load (its error on stderr), 2
 * for a usage error.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_rules.h"
#include "cmd_rules_export.h"
#include "rules/rules.h"

static void export_usage(FILE *out)
{
	fprintf(out,
		"usage: dpix rules export nft|iptables|squid [--rules PACK]...\n"
		"                         [--action bypass|inspect|drop] [--mark VALUE/MASK]\n");
}

/* ---- names ---------------------------------------------------------- */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static bool name_taken(const struct export_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->nnames; i++)
		if (!strcmp(x->names[i].name, name))
			return true;
	return false;
}

const char *export_set_name(struct export_ctx *x, const struct rule_set *s, const struct rule *r,
			    const char *prefix, char sep, size_t maxlen)
{
	char full[512], *d;
	const char *pk, *own;
	struct export_name *n;
	size_t len;

	for (size_t i = 0; i < x->nnames; i++)
		if (x->names[i].set == s)
			return x->names[i].name;
	if (x->nnames == x->names_cap) {
		size_t cap = x->names_cap ? 2 * x->names_cap : 16;
		void *v = realloc(x->names, cap * sizeof(*x->names));

		if (!v)
			return NULL;
		x->names = v;
		x->names_cap = cap;
	}
	/* A set or rule named after its pack ("rainbow-turn" in rainbow)
	 * already says which pack it is from; an inline list is the rule's. */
	pk = r->pack->name;
	own = s->name ? s->name : r->id;
	if (!strncmp(own, pk, strlen(pk)) &&
	    (!own[strlen(pk)] || own[strlen(pk)] == '-' || own[strlen(pk)] == '_'))
		snprintf(full, sizeof(full), "%s%s%s", prefix, own, s->name ? "" : "-ports");
	else
		snprintf(full, sizeof(full), "%s%s%c%s%s", prefix, pk, sep, own,
			 s->name ? "" : "-ports");
	for (d = full + strlen(prefix); *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		      (*d >= '0' && *d <= '9') || *d == '_'))
			*d = sep;
	if (maxlen >= sizeof(x->names[0].name))
		maxlen = sizeof(x->names[0].name) - 1;
	n = &x->names[x->nnames];
	n->set = s;
	n->roles = 0;
	len = strlen(full);
	if (len > maxlen) /* cut, and a hash of the whole name keeps it apart */
		snprintf(full + maxlen - 5, 6, "%c%04x", sep, fnv1a(full) & 0xffff);
	snprintf(n->name, sizeof(n->name), "%s", full);
	for (unsigned k = 2; name_taken(x, n->name); k++) {
		char tail[16];
		int t = snprintf(tail, sizeof(tail), "%c%u", sep, k);
		size_t keep = strlen(full);

		if (keep + (size_t)t > maxlen)
			keep = maxlen - (size_t)t;
		snprintf(n->name, sizeof(n->name), "%.*s%s", (int)keep, full, tail);
	}
	x->nnames++;
	return n->name;
}

unsigned *export_set_roles(struct export_ctx *x, const struct rule_set *s)
{
	for (size_t i = 0; i < x->nnames; i++)
		if (x->names[i].set == s)
			return &x->names[i].roles;
	return NULL; /* not reached: the set was named first */
}

/* ---- addresses ------------------------------------------------------ */

static const uint8_t v4_lo[16] = { [10] = 0xff, [11] = 0xff };
static const uint8_t v4_hi[16] = {
	[10] = 0xff, [11] = 0xff, [12] = 0xff, [13] = 0xff, [14] = 0xff, [15] = 0xff
};

static bool addr_inc(uint8_t a[16])
{
	for (int i = 15; i >= 0; i--)
		if (++a[i] != 0)
			return true;
	return false; /* wrapped: it was all ones */
}

static bool addr_bit(const uint8_t a[16], unsigned k) /* k from the lowest bit */
{
	return a[15 - k / 8] >> (k % 8) & 1;
}

struct cidr_out {
	int family;
	bool no_zero; /* a /0 as two /1 */
	size_t n;
	void (*cb)(const char *text, size_t i, void *arg);
	void *arg;
};

static void cidr_emit(struct cidr_out *o, const uint8_t a[16], unsigned plen)
{
	char text[INET6_ADDRSTRLEN + 8];
	/* IPv4 text for a CIDR inside the IPv4-mapped block (family 0: one
	 * space, as Squid keeps it, each CIDR written as what it is). */
	bool v4 = o->family == 4 || (o->family == 0 && plen >= 96 && !memcmp(a, v4_lo, 12));
	unsigned len, flen = v4 ? plen - 96 : plen;

	if (flen == 0 && o->no_zero) { /* the two halves */
		uint8_t half[16];

		memcpy(half, a, 16);
		o->no_zero = false;
		cidr_emit(o, half, plen + 1);
		half[v4 ? 12 : 0] = 0x80;
		cidr_emit(o, half, plen + 1);
		o->no_zero = true;
		return;
	}
	if (v4)
		inet_ntop(AF_INET, a + 12, text, sizeof(text));
	else
		inet_ntop(AF_INET6, a, text, sizeof(text));
	len = (unsigned)strlen(text);
	if (flen != (v4 ? 32u : 128u))
		snprintf(text + len, sizeof(text) - len, "/%u", flen);
	o->cb(text, o->n++, o->arg);
}

/* The range lo..hi as the fewest CIDRs, lowest first. */
static void cidr_range(struct cidr_out *o, const uint8_t lo_in[16], const uint8_t hi[16])
{
	uint8_t lo[16], top[16], t[16];

	memcpy(lo, lo_in, 16);
	for (;;) {
		unsigned k = 0;

		memcpy(top, lo, 16);
		while (k < 128 && !addr_bit(lo, k)) {
			memcpy(t, top, 16);
			t[15 - k / 8] |= (uint8_t)(1u << (k % 8));
			if (memcmp(t, hi, 16) > 0)
				break;
			memcpy(top, t, 16);
			k++;
		}
		cidr_emit(o, lo, 128 - k);
		if (memcmp(top, hi, 16) >= 0)
			return;
		memcpy(lo, top, 16);
		if (!addr_inc(lo))
			return;
	}
}

size_t export_cidrs(const struct addr_set *a, int family, unsigned flags,
		    void (*cb)(const char *text, size_t i, void *arg), void *arg)
{
	struct cidr_out o = {
		.family = family, .no_zero = flags & EXPORT_NO_ZERO_PREFIX, .cb = cb, .arg = arg
	};
	uint8_t lo[16], hi[16];

	for (size_t i = 0; i < a->nranges; i++) {
		const struct addr_range *r = &a->ranges[i];

		if (family == 0) { /* one space */
			cidr_range(&o, r->lo, r->hi);
			continue;
		}
		if (family == 4) { /* the part inside ::ffff:0:0/96 */
			if (memcmp(r->hi, v4_lo, 16) < 0 || memcmp(r->lo, v4_hi, 16) > 0)
				continue;
			memcpy(lo, memcmp(r->lo, v4_lo, 16) < 0 ? v4_lo : r->lo, 16);
			memcpy(hi, memcmp(r->hi, v4_hi, 16) > 0 ? v4_hi : r->hi, 16);
			cidr_range(&o, lo, hi);
			continue;
		}
		/* IPv6: a range as it is, unless it is all IPv4 (a range that
		 * overlaps the IPv4-mapped block keeps it: so does dpix, which
		 * matches an IPv6 flow to ::ffff:a.b.c.d against it). */
		if (memcmp(r->lo, v4_lo, 16) >= 0 && memcmp(r->hi, v4_hi, 16) <= 0)
			continue;
		cidr_range(&o, r->lo, r->hi);
	}
	return o.n;
}

/* As export_cidrs would split the ranges, without writing them. */
bool export_has_family(const struct rule_set *s, int family)
{
	const struct addr_set *a = s->u.addr;

	for (size_t i = 0; i < a->nranges; i++) {
		bool meets = memcmp(a->ranges[i].hi, v4_lo, 16) >= 0 &&
			     memcmp(a->ranges[i].lo, v4_hi, 16) <= 0;
		bool inside = memcmp(a->ranges[i].lo, v4_lo, 16) >= 0 &&
			      memcmp(a->ranges[i].hi, v4_hi, 16) <= 0;

		if (family == 4 ? meets : !inside)
			return true;
	}
	return false;
}

bool export_rule_in_family(const struct rule *r, int f)
{
	return (!r->dst || export_has_family(r->dst, f)) &&
	       (!r->src || export_has_family(r->src, f));
}

/* ---- rules ---------------------------------------------------------- */

/* Every condition; the first four (NET_CONDS) are what nft and iptables
 * can match. */
static const struct {
	uint32_t bit;
	const char *name;
} cond_names[] = {
	{ COND_TRANSPORT, "transport" },
	{ COND_DPORT, "dport" },
	{ COND_DST, "dst" },
	{ COND_SRC, "src" },
	{ COND_APP, "app" },
	{ COND_SNI, "sni" },
	{ COND_CONNECT, "connect" },
	{ COND_NAME, "name" },
	{ COND_HTTP_HOST, "http-host" },
	{ COND_CONNECT_PORT, "connect-port" },
	{ COND_TUNNEL, "tunnel" },
	{ COND_WEBSOCKET, "websocket" },
	{ COND_FRONTING, "fronting" },
	{ COND_PUSH, "push" },
	{ COND_JA4, "ja4" },
};

#define NET_CONDS (COND_TRANSPORT | COND_DPORT | COND_DST | COND_SRC)

const char *export_l7_cond(const struct rule *r)
{
	for (size_t i = 0; i < sizeof(cond_names) / sizeof(cond_names[0]); i++)
		if (r->conds & cond_names[i].bit & ~(uint32_t)NET_CONDS)
			return cond_names[i].name;
	return NULL;
}

void export_conds(FILE *out, uint32_t conds)
{
	const char *sep = "";

	for (size_t i = 0; i < sizeof(cond_names) / sizeof(cond_names[0]); i++) {
		if (conds & cond_names[i].bit) {
			fprintf(out, "%s%s", sep, cond_names[i].name);
			sep = ", ";
		}
	}
}

void export_header(const struct export_ctx *x, const char *format, const char *how)
{
	fprintf(x->out, "# dpix rules export %s --action %s, from\n", format,
		rule_action_name((enum rule_action)x->action));
	for (size_t i = 0; i < x->rs->npacks; i++) {
		const struct rule_pack *p = x->rs->packs[i];

		fprintf(x->out, "#   pack %s version %s date %s\n", p->name,
			p->version ? p->version : "-", p->date ? p->date : "-");
	}
	if ((x->rs->default_action ? x->rs->default_action : ACTION_INSPECT) == x->action)
		fprintf(x->out,
			"# Note: %s is also the packs' default, which dpix gives the flows no\n"
			"# rule matches; that default is not exported.\n",
			rule_action_name((enum rule_action)x->action));
	fprintf(x->out, "%s", how);
}

/* Where a rule is, in dpix's order. */
struct rule_pos {
	size_t pack, rule;
};

static bool before(struct rule_pos a, struct rule_pos b)
{
	return a.pack < b.pack || (a.pack == b.pack && a.rule < b.rule);
}

static bool last_selected(const struct export_ctx *x, struct rule_pos *last)
{
	bool any = false;

	for (size_t p = 0; p < x->rs->npacks; p++)
		for (size_t i = 0; i < x->rs->packs[p]->nrules; i++)
			if (x->rs->packs[p]->rules[i].action == x->action) {
				last->pack = p;
				last->rule = i;
				any = true;
			}
	return any;
}

int export_each_rule(struct export_ctx *x,
		     int (*one)(struct export_ctx *x, const struct rule *r, bool selected))
{
	struct rule_pos last;

	if (!last_selected(x, &last))
		return 0;
	for (size_t p = 0; p < x->rs->npacks; p++) {
		const struct rule_pack *pk = x->rs->packs[p];

		for (size_t i = 0; i < pk->nrules; i++) {
			const struct rule *r = &pk->rules[i];
			struct rule_pos here = { p, i };
			bool selected = r->action == x->action;
			const char *l7 = export_l7_cond(r);

			if (!selected && !before(here, last))
				continue;
			if (l7 && x->quiet)
				continue;
			if (l7) {
				fprintf(x->out, "%s# not exported: rule %s/%s (%s) needs %s%s\n",
					x->indent, pk->name, r->id, rule_action_name(r->action), l7,
					selected ? ""
						 : ", and takes its flows before the rules below");
				if (selected)
					x->skipped++;
				else
					x->shadowed++;
				continue;
			}
			if (one(x, r, selected) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- the command ---------------------------------------------------- */

static int parse_mark(const char *s, uint32_t *mark, uint32_t *mask)
{
	char *end;
	unsigned long v, m;

	if (*s < '0' || *s > '9') /* strtoul would take blanks and a sign */
		return -1;
	v = strtoul(s, &end, 0);
	if (end == s || *end != '/' || v > UINT32_MAX)
		return -1;
	s = end + 1;
	if (*s < '0' || *s > '9')
		return -1;
	m = strtoul(s, &end, 0);
	if (end == s || *end || m > UINT32_MAX || m == 0 || (v & ~m))
		return -1;
	*mark = (uint32_t)v;
	*mask = (uint32_t)m;
	return 0;
}

int rules_export_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "action", required_argument, NULL, 'a' },
		{ "mark", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ruleset rs = { 0 };
	struct export_ctx x = { .rs = &rs, .action = ACTION_BYPASS, .out = stdout, .indent = "" };
	struct rules_error err;
	const char *format, *markopt = NULL;
	int c, rc = 1;
	size_t npacks = 0;
	const char **packs = calloc((size_t)argc, sizeof(*packs));

	if (!packs) {
		fprintf(stderr, "dpix: out of memory\n");
		return 1;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:a:m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			packs[npacks++] = optarg;
			break;
		case 'a':
			for (x.action = ACTION_BYPASS; x.action < ACTION_COUNT; x.action++)
				if (!strcmp(optarg, rule_action_name(x.action)))
					break;
			if (x.action == ACTION_COUNT) {
				fprintf(stderr,
					"dpix rules export: --action: '%s': expected bypass, "
					"inspect or drop\n",
					optarg);
				goto usage;
			}
			break;
		case 'm':
			markopt = optarg;
			break;
		case 'h':
			export_usage(stdout);
			rc = 0;
			goto out;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "dpix rules export: %s\n",
			optind >= argc ? "expected a format: nft, iptables or squid"
				       : "one format only");
		goto usage;
	}
	format = argv[optind];
	if (strcmp(format, "nft") && strcmp(format, "iptables") && strcmp(format, "squid")) {
		fprintf(stderr, "dpix rules export: '%s': expected nft, iptables or squid\n",
			format);
		goto usage;
	}
	x.mark = x.action == ACTION_INSPECT ? DPIX_MARK_INSPECT : DPIX_MARK_BYPASS;
	x.mask = DPIX_MARK_MASK;
	if (markopt && parse_mark(markopt, &x.mark, &x.mask) < 0) {
		fprintf(stderr,
			"dpix rules export: --mark: '%s': expected VALUE/MASK, such as 0x1/0x3, "
			"the value inside a non-zero mask\n",
			markopt);
		goto usage;
	}
	for (size_t i = 0; i < npacks; i++) {
		if (rules_load(&rs, packs[i], &err) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			goto out;
		}
	}
	if (npacks == 0) {
		const char *dir = rules_default_dir();

		if (rules_load_dir(&rs, dir, &err) < 0) {
			fprintf(stderr, "dpix: %s (give packs with --rules)\n", err.msg);
			goto out;
		}
	}
	if (!strcmp(format, "nft"))
		rc = export_nft(&x);
	else if (!strcmp(format, "iptables"))
		rc = export_iptables(&x);
	else
		rc = export_squid(&x);
	if (rc < 0) {
		fprintf(stderr, "dpix: out of memory\n");
		rc = 1;
		goto out;
	}
	if (x.bad_patterns)
		fprintf(stderr,
			"dpix rules export: %u pattern%s not exported (no POSIX equivalent): see "
			"the comments in the output\n",
			x.bad_patterns, x.bad_patterns == 1 ? "" : "s");
	if (x.skipped || x.shadowed)
		fprintf(stderr,
			"dpix rules export: %u %s rule%s not exported (%s), %u rule%s of other "
			"actions above them not exported: see the comments in the output\n",
			x.skipped, rule_action_name((enum rule_action)x.action),
			x.skipped == 1 ? "" : "s",
			!strcmp(format, "squid") ? "no name or address set" : "layer-7 conditions",
			x.shadowed, x.shadowed == 1 ? "" : "s");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "dpix: writing the export failed\n");
		rc = 1;
	}
out:
	free(x.names);
	free(packs);
	ruleset_free(&rs);
	return rc;
usage:
	export_usage(stderr);
	rc = EXIT_USAGE;
	goto out;
}
