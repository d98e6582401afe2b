/*
 * cmd_rules_export_ipt.c: `dpix rules export iptables`, an ipset restore
 * file (a hash:net set per address set and family, a bitmap:port set per
 * port list) with the iptables and ip6tables rules of the mangle chain
 * dpix-ACTION in comments, in iptables-restore form, each line tagged
 * "#iptables " or "#ip6tables " for sed to pick out.
 */
#include <netinet/in.h>
#include <stdio.h>

#include "cmd_rules_export.h"
#include "rules/rules.h"

/* ipset names are at most 31 characters (IPSET_MAXNAMELEN - 1). */
#define IPSET_NAME_MAX 31

static const char *ipset_name(struct export_ctx *x, const struct rule_set *s, const struct rule *r)
{
	/* room for the family suffix "-v4" */
	return export_set_name(x, s, r, "dpix-", '-', IPSET_NAME_MAX - 3);
}

struct ipset_out {
	FILE *out;
	const char *name;
	int family;
};

static void ipset_add(const char *text, size_t i, void *arg)
{
	struct ipset_out *o = arg;

	(void)i;
	fprintf(o->out, "add %s-v%d %s\n", o->name, o->family, text);
}

static int ipset_sets_of(struct export_ctx *x, const struct rule *r, bool selected)
{
	const struct rule_set *sets[3] = { r->dst, r->src, r->dport };

	(void)selected;
	for (int i = 0; i < 3; i++) {
		const struct rule_set *s = sets[i];
		const char *name;
		bool seen = false;

		if (!s)
			continue;
		for (size_t k = 0; k < x->nnames; k++)
			seen |= x->names[k].set == s;
		if (seen)
			continue;
		if (!(name = ipset_name(x, s, r)))
			return -1;
		if (s->kind == SET_PORTS) {
			fprintf(x->out, "create %s bitmap:port range 0-65535 -exist\nflush %s\n",
				name, name);
			for (size_t k = 0; k < s->u.port->nranges; k++) {
				const struct port_range *pr = &s->u.port->ranges[k];

				fprintf(x->out, "add %s %u", name, pr->lo);
				if (pr->hi != pr->lo)
					fprintf(x->out, "-%u", pr->hi);
				fprintf(x->out, "\n");
			}
			continue;
		}
		for (int f = 4; f <= 6; f += 2) {
			struct ipset_out o = { x->out, name, f };

			if (!export_has_family(s, f))
				continue;
			fprintf(x->out, "create %s-v%d hash:net family %s -exist\nflush %s-v%d\n",
				name, f, f == 4 ? "inet" : "inet6", name, f);
			export_cidrs(s->u.addr, f, EXPORT_NO_ZERO_PREFIX, ipset_add, &o);
		}
	}
	return 0;
}

static void iptables_rule_fam(struct export_ctx *x, const struct rule *r, bool selected, int f)
{
	const char *tag = f == 4 ? "#iptables " : "#ip6tables ";

	fprintf(x->out, "%s-A dpix-%s", tag, rule_action_name((enum rule_action)x->action));
	if (r->conds & COND_TRANSPORT)
		fprintf(x->out, " -p %s", r->transport == IPPROTO_UDP ? "udp" : "tcp");
	if (r->dst)
		fprintf(x->out, " -m set --match-set %s-v%d dst", ipset_name(x, r->dst, r), f);
	if (r->src)
		fprintf(x->out, " -m set --match-set %s-v%d src", ipset_name(x, r->src, r), f);
	if (r->dport)
		fprintf(x->out, " -m set --match-set %s dst", ipset_name(x, r->dport, r));
	fprintf(x->out, " -m comment --comment \"%s/%s\"", r->pack->name, r->id);
	if (!selected)
		fprintf(x->out, " -j RETURN\n");
	else if (x->action == ACTION_DROP)
		fprintf(x->out, " -j DROP\n");
	else
		fprintf(x->out, " -j CONNMARK --set-xmark 0x%x/0x%x\n", x->mark, x->mask);
}

static int iptables_rule(struct export_ctx *x, const struct rule *r, bool selected)
{
	if (!export_rule_in_family(r, 4) && !export_rule_in_family(r, 6)) {
		if (!x->quiet)
			fprintf(x->out,
				"# rule %s/%s matches no flow: its dst and src sets share no "
				"address family\n",
				r->pack->name, r->id);
		return 0;
	}
	if (export_rule_in_family(r, x->family))
		iptables_rule_fam(x, r, selected, x->family);
	return 0;
}

int export_iptables(struct export_ctx *x)
{
	const char *act = rule_action_name((enum rule_action)x->action);

	export_header(x, "iptables",
		      "# An ipset restore file, with the iptables and ip6tables rules in\n"
		      "# comments. Load with:\n"
		      "#   ipset restore < FILE\n"
		      "#   sed -n 's/^#iptables //p' FILE | iptables-restore --noflush\n"
		      "#   sed -n 's/^#ip6tables //p' FILE | ip6tables-restore --noflush\n"
		      "# and send the flows to the chain, e.g. iptables -t mangle -A PREROUTING\n"
		      "# -m connmark --mark 0/MASK -j dpix-ACTION. A flow that an exported\n"
		      "# rule matches gets the mark (connmark, under the mask) that the\n"
		      "# site's inspection skips; rules of another action above it return\n"
		      "# first, as in dpix the first matching rule decides.\n");
	x->quiet = true;
	if (export_each_rule(x, ipset_sets_of) < 0)
		return -1;
	for (int f = 4; f <= 6; f += 2) {
		const char *tag = f == 4 ? "#iptables " : "#ip6tables ";

		fprintf(x->out, "%s*mangle\n%s:dpix-%s - [0:0]\n%s-F dpix-%s\n", tag, tag, act, tag,
			act);
		x->family = f;
		x->quiet = f == 6; /* the comments once, in the first section */
		if (export_each_rule(x, iptables_rule) < 0)
			return -1;
		fprintf(x->out, "%sCOMMIT\n", tag);
	}
	return 0;
}
