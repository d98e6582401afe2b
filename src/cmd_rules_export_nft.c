/*
 * cmd_rules_export_nft.c: `dpix rules export nft`, one file for nft -f
 * that replaces the table inet dpix: a named interval set per address set
 * and family, and per ports set, that the exported rules use; the chain
 * dpix_ACTION with one rule per exported rule and family, in dpix's order;
 * base chains that send unmarked flows to it. dst and src are matched on
 * the conntrack original direction: the server and the client as dpix
 * sees them, whichever way a packet goes.
 */
#include <netinet/in.h>
#include <stdio.h>

#include "cmd_rules_export.h"
#include "rules/rules.h"

/* nft keeps a rule's comment to 128 bytes with its NUL. */
#define NFT_COMMENT_MAX 127

struct list_out {
	FILE *out;
	const char *sep0, *sep; /* before the first item, before the others */
};

static void list_item(const char *text, size_t i, void *arg)
{
	struct list_out *l = arg;

	fprintf(l->out, "%s%s", i ? l->sep : l->sep0, text);
}

static void port_items(FILE *out, const struct port_set *ps, const char *sep0, const char *sep)
{
	for (size_t i = 0; i < ps->nranges; i++) {
		const struct port_range *r = &ps->ranges[i];

		fprintf(out, "%s%u", i ? sep : sep0, r->lo);
		if (r->hi != r->lo)
			fprintf(out, "-%u", r->hi);
	}
}

static const char *nft_name(struct export_ctx *x, const struct rule_set *s, const struct rule *r)
{
	return export_set_name(x, s, r, "", '_', 60);
}

static int nft_addr_set(struct export_ctx *x, const struct rule_set *s, const struct rule *r)
{
	const char *name = nft_name(x, s, r);

	if (!name)
		return -1;
	for (int f = 4; f <= 6; f += 2) {
		struct list_out l = { x->out, "\t\telements = { ", ",\n\t\t\t     " };

		if (!export_has_family(s, f))
			continue;
		fprintf(x->out, "\tset %s_v%d {\n\t\ttype %s\n\t\tflags interval\n", name, f,
			f == 4 ? "ipv4_addr" : "ipv6_addr");
		export_cidrs(s->u.addr, f, 0, list_item, &l);
		fprintf(x->out, " }\n\t}\n");
	}
	return 0;
}

static int nft_port_set(struct export_ctx *x, const struct rule_set *s, const struct rule *r)
{
	const char *name = nft_name(x, s, r);

	if (!name)
		return -1;
	fprintf(x->out, "\tset %s {\n\t\ttype inet_service\n\t\tflags interval\n", name);
	port_items(x->out, s->u.port, "\t\telements = { ", ", ");
	fprintf(x->out, " }\n\t}\n");
	return 0;
}

/* The named sets the written rules use, each once, in rule order. */
static int nft_sets_of(struct export_ctx *x, const struct rule *r, bool selected)
{
	const struct rule_set *sets[3] = { r->dst, r->src, r->dport };

	(void)selected;
	for (int i = 0; i < 3; i++) {
		const struct rule_set *s = sets[i];
		bool seen = false;

		if (!s || !s->name)
			continue;
		for (size_t k = 0; k < x->nnames; k++)
			seen |= x->names[k].set == s;
		if (seen)
			continue;
		if ((s->kind == SET_PORTS ? nft_port_set(x, s, r) : nft_addr_set(x, s, r)) < 0)
			return -1;
	}
	return 0;
}

static void nft_comment(FILE *out, const struct rule *r)
{
	char c[NFT_COMMENT_MAX + 1];

	snprintf(c, sizeof(c), "%s/%s", r->pack->name, r->id);
	fprintf(out, " comment \"%s\"\n", c);
}

static int nft_rule(struct export_ctx *x, const struct rule *r, bool selected)
{
	int fams = 0;

	for (int f = 4; f <= 6; f += 2) {
		const char *fam = f == 4 ? "ip" : "ip6";

		if (!export_rule_in_family(r, f))
			continue;
		if (!r->dst && !r->src && f == 6)
			break; /* one rule for both families */
		fams++;
		fprintf(x->out, "\t\t");
		if (r->conds & COND_TRANSPORT)
			fprintf(x->out, "meta l4proto %s",
				r->transport == IPPROTO_UDP ? "udp" : "tcp");
		else
			fprintf(x->out, "meta l4proto { tcp, udp }");
		if (r->dst)
			fprintf(x->out, " ct original %s daddr @%s_v%d", fam,
				nft_name(x, r->dst, r), f);
		if (r->src)
			fprintf(x->out, " ct original %s saddr @%s_v%d", fam,
				nft_name(x, r->src, r), f);
		if (r->dport && r->dport->name) {
			fprintf(x->out, " ct original proto-dst @%s", nft_name(x, r->dport, r));
		} else if (r->dport) {
			const struct port_set *ps = r->dport->u.port;
			bool one = ps->nranges == 1 && ps->ranges[0].lo == ps->ranges[0].hi;

			port_items(x->out, ps,
				   one ? " ct original proto-dst " : " ct original proto-dst { ",
				   ", ");
			if (!one)
				fprintf(x->out, " }");
		}
		if (!selected)
			fprintf(x->out, " counter return");
		else if (x->action == ACTION_DROP)
			fprintf(x->out, " counter drop");
		else
			fprintf(x->out, " counter ct mark set ct mark & 0x%08x | 0x%08x return",
				~x->mask, x->mark);
		nft_comment(x->out, r);
	}
	if (!fams)
		fprintf(x->out,
			"%s# rule %s/%s matches no flow: its dst and src sets share no "
			"address family\n",
			x->indent, r->pack->name, r->id);
	return 0;
}

int export_nft(struct export_ctx *x)
{
	const char *act = rule_action_name((enum rule_action)x->action);

	export_header(x, "nft",
		      "# Load with: nft -f FILE (it replaces the table inet dpix). A flow\n"
		      "# that an exported rule matches gets the mark (ct mark, under the mask)\n"
		      "# that the site's inspection skips; rules of another action above it\n"
		      "# return without marking, as in dpix the first matching rule decides.\n");
	fprintf(x->out, "table inet dpix\ndelete table inet dpix\ntable inet dpix {\n");
	x->quiet = true;
	if (export_each_rule(x, nft_sets_of) < 0)
		return -1;
	x->quiet = false;
	fprintf(x->out, "\tchain dpix_%s {\n", act);
	x->indent = "\t\t";
	if (export_each_rule(x, nft_rule) < 0)
		return -1;
	x->indent = "";
	fprintf(x->out, "\t}\n");
	for (int h = 0; h < 2; h++)
		fprintf(x->out,
			"\tchain %s {\n\t\ttype %s hook %s priority mangle; policy accept;\n"
			"\t\tct mark & 0x%08x == 0x%08x jump dpix_%s\n\t}\n",
			h ? "output" : "prerouting", h ? "route" : "filter",
			h ? "output" : "prerouting", x->mask, 0u, act);
	fprintf(x->out, "}\n");
	return 0;
}
