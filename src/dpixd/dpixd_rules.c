/*
 * dpixd_rules.c: the firewall rules dpixd needs, printed for iptables or
 * nft. Two parts per hook:
 *   - in the mangle-priority chain, queue TCP and UDP packets of
 *     connections whose connmark carries no verdict yet;
 *   - in a chain of a later priority (filter), copy a verdict from the
 *     packet mark into the connmark. It must be a later chain: a packet
 *     accepted from the queue goes on with the next chain of the hook, so a
 *     save placed after the queue rule in the same chain never runs.
 * Drop verdicts need no rule: dpixd drops those packets itself.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dpixd/dpixd.h"
#include "rules/rules.h"

static const struct {
	unsigned bit;
	const char *chain, *nft;
} hooks[] = {
	{ HOOK_FORWARD, "FORWARD", "forward" },
	{ HOOK_INPUT, "INPUT", "input" },
	{ HOOK_OUTPUT, "OUTPUT", "output" },
};

/* "--queue-num 3" or "--queue-balance 3:6", then the fail mode. */
static void iptables_target(FILE *out, const struct dpixd_config *c)
{
	if (c->nqueues > 1)
		fprintf(out, "--queue-balance %u:%u", c->queue, c->queue + c->nqueues - 1);
	else
		fprintf(out, "--queue-num %u", c->queue);
	fprintf(out, "%s\n", c->fail_closed ? "" : " --queue-bypass");
}

static void header(FILE *out, const struct dpixd_config *c)
{
	fprintf(out,
		"# dpixd: queues %u-%u, %s; verdict marks in 0x%08" PRIx32 ": bypass 0x%08" PRIx32
		", inspect 0x%08" PRIx32 ", drop 0x%08" PRIx32 ".\n",
		c->queue, c->queue + c->nqueues - 1, c->fail_closed ? "fail-closed" : "fail-open",
		c->mark_mask, c->mark[ACTION_BYPASS], c->mark[ACTION_INSPECT],
		c->mark[ACTION_DROP]);
}

/*
 * The forwarder's transparent listeners, and how the firewall diverts
 * clients to them. Printed as comments: which interface the clients come
 * in on and which ports to divert are the site's to say (80 and 443 are
 * what the forwarder can read a name from), and TPROXY needs policy
 * routing (ip rule, ip route), which is neither iptables nor nft.
 * --install-rules installs none of it. One mark and one routing table
 * serve every TPROXY listener: the mark is the lowest bit outside
 * mark-mask and proxy-mark (upstream sockets carrying it would be routed
 * back to the host), the table number an example.
 */
#define DIVERT_TABLE 100

static void endpoint_text(const struct proxy_endpoint *e, char *addr, size_t n, unsigned *port,
			  bool *any)
{
	if (e->ss.ss_family == AF_INET6) {
		struct sockaddr_in6 s;

		memcpy(&s, &e->ss, sizeof(s));
		inet_ntop(AF_INET6, &s.sin6_addr, addr, (socklen_t)n);
		*port = ntohs(s.sin6_port);
		*any = IN6_IS_ADDR_UNSPECIFIED(&s.sin6_addr);
	} else {
		struct sockaddr_in s;

		memcpy(&s, &e->ss, sizeof(s));
		inet_ntop(AF_INET, &s.sin_addr, addr, (socklen_t)n);
		*port = ntohs(s.sin_port);
		*any = s.sin_addr.s_addr == htonl(INADDR_ANY);
	}
}

/* One listener's diversion: an iptables command, or an nft rule for the
 * chain its kind goes in (tproxy: divert, else redir). */
static void divert_rule(FILE *out, const struct proxy_endpoint *e, uint32_t mark, bool nft)
{
	bool v6 = e->ss.ss_family == AF_INET6, any;
	char addr[INET6_ADDRSTRLEN];
	unsigned port;

	endpoint_text(e, addr, sizeof(addr), &port, &any);
	if (!e->tproxy && nft)
		fprintf(out,
			"#       iifname \"IFACE\" meta nfproto %s tcp dport { 80, 443 } redirect "
			"to :%u\n",
			v6 ? "ipv6" : "ipv4", port);
	else if (!e->tproxy)
		fprintf(out,
			"#   %s -t nat -A PREROUTING -i IFACE -p tcp -m multiport --dports 80,443 "
			"-j REDIRECT --to-ports %u\n",
			v6 ? "ip6tables" : "iptables", port);
	else if (nft)
		fprintf(out,
			"#       iifname \"IFACE\" tcp dport { 80, 443 } tproxy %s to %s%s%s:%u "
			"meta mark set 0x%" PRIx32 " accept\n",
			v6 ? "ip6" : "ip", any || !v6 ? "" : "[", any ? "" : addr,
			any || !v6 ? "" : "]", port, mark);
	else
		fprintf(
		    out,
		    "#   %s -t mangle -A PREROUTING -i IFACE -p tcp -m multiport --dports 80,443 "
		    "-j TPROXY%s%s --on-port %u --tproxy-mark 0x%" PRIx32 "/0x%" PRIx32 "\n",
		    v6 ? "ip6tables" : "iptables", any ? "" : " --on-ip ", any ? "" : addr, port,
		    mark, mark);
}

/* The listeners of one kind (tproxy or not) in one nft chain; false if
 * there are none. */
static bool nft_chain(FILE *out, const struct dpixd_config *c, bool tproxy, uint32_t mark)
{
	bool any = false;

	for (size_t i = 0; i < c->proxy.nlisten; i++) {
		const struct proxy_endpoint *e = &c->proxy.listen[i];

		if (!e->transparent || e->tproxy != tproxy)
			continue;
		if (!any)
			fprintf(out,
				"#     chain %s {\n#       type %s hook prerouting priority %s; "
				"policy accept;\n",
				tproxy ? "divert" : "redir", tproxy ? "filter" : "nat",
				tproxy ? "mangle" : "dstnat");
		any = true;
		divert_rule(out, e, mark, true);
	}
	if (any)
		fprintf(out, "#     }\n");
	return any;
}

static void print_divert(FILE *out, const struct dpixd_config *c, bool nft)
{
	uint32_t used = c->mark_mask | c->proxy.mark, mark = 1;
	bool route[2] = { false, false }, said = false;

	while (mark && (used & mark))
		mark <<= 1;
	for (size_t i = 0; i < c->proxy.nlisten; i++) {
		const struct proxy_endpoint *e = &c->proxy.listen[i];
		char addr[INET6_ADDRSTRLEN];
		unsigned port;
		bool v6 = e->ss.ss_family == AF_INET6, any;

		if (!e->transparent)
			continue;
		if (e->tproxy && !mark) {
			fprintf(out, "# proxy-tproxy: no mark bit is free outside mark-mask and "
				     "proxy-mark to divert with\n");
			return;
		}
		if (!said)
			fprintf(out,
				"# The forwarder's transparent listeners: divert the clients'\n"
				"# connections with rules like these (IFACE: where the clients "
				"come\n"
				"# in; ports 80 and 443: what the forwarder reads a name from).\n"
				"# Comments to adapt: --install-rules installs none of them.\n");
		said = true;
		route[v6] |= e->tproxy;
		endpoint_text(e, addr, sizeof(addr), &port, &any);
		fprintf(out, "# %s %s%s%s:%u\n", e->tproxy ? "proxy-tproxy" : "proxy-transparent",
			v6 ? "[" : "", addr, v6 ? "]" : "", port);
		if (!nft)
			divert_rule(out, e, mark, false);
	}
	if (said && nft) {
		fprintf(out, "#   table inet dpix_divert {\n");
		nft_chain(out, c, true, mark);
		nft_chain(out, c, false, mark);
		fprintf(out, "#   }\n");
	}
	if (route[0] || route[1])
		fprintf(out, "# TPROXY's mark 0x%" PRIx32 " routed to the host by table %d:\n",
			mark, DIVERT_TABLE);
	for (int v6 = 0; v6 < 2; v6++)
		if (route[v6])
			fprintf(out,
				"#   ip%s rule add fwmark 0x%" PRIx32 "/0x%" PRIx32 " lookup %d\n"
				"#   ip%s route add local %s/0 dev lo table %d\n",
				v6 ? " -6" : "", mark, mark, DIVERT_TABLE, v6 ? " -6" : "",
				v6 ? "::" : "0.0.0.0", DIVERT_TABLE);
}

void dpixd_print_iptables(FILE *out, const struct dpixd_config *c)
{
	static const char *const cmds[] = { "iptables", "ip6tables" };

	header(out, c);
	fprintf(out, "# Connections without a verdict go to the queue; a verdict the packet\n"
		     "# mark carries is saved into the connmark in the filter table.\n");
	for (size_t f = 0; f < 2; f++) {
		const char *ipt = cmds[f];

		fprintf(out, "%s -t mangle -N DPIX_QUEUE\n", ipt);
		fprintf(out,
			"%s -t mangle -A DPIX_QUEUE -m connmark ! --mark 0x0/0x%" PRIx32
			" -j RETURN\n",
			ipt, c->mark_mask);
		for (size_t p = 0; p < 2; p++) {
			fprintf(out, "%s -t mangle -A DPIX_QUEUE -p %s -j NFQUEUE ", ipt,
				p ? "udp" : "tcp");
			iptables_target(out, c);
		}
		fprintf(out, "%s -t filter -N DPIX_SAVE\n", ipt);
		fprintf(out,
			"%s -t filter -A DPIX_SAVE -m mark ! --mark 0x0/0x%" PRIx32
			" -j CONNMARK --save-mark --mask 0x%" PRIx32 "\n",
			ipt, c->mark_mask, c->mark_mask);
		for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
			if (!(c->hooks & hooks[h].bit))
				continue;
			fprintf(out, "%s -t mangle -A %s -j DPIX_QUEUE\n", ipt, hooks[h].chain);
			fprintf(out, "%s -t filter -A %s -j DPIX_SAVE\n", ipt, hooks[h].chain);
		}
	}
	print_divert(out, c, false);
}

void dpixd_print_nft(FILE *out, const struct dpixd_config *c)
{
	header(out, c);
	fprintf(out, "# For nft -f. The queue expression needs nft_queue in the kernel; where\n"
		     "# it is missing, use --print-rules iptables (iptables-nft's xt NFQUEUE).\n");
	fprintf(out, "table inet dpix {\n");
	for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
		if (!(c->hooks & hooks[h].bit))
			continue;
		fprintf(out,
			"\tchain queue_%s {\n"
			"\t\ttype filter hook %s priority mangle; policy accept;\n"
			"\t\tct mark and 0x%08" PRIx32 " != 0x0 return\n"
			"\t\tmeta l4proto { tcp, udp } queue num %u",
			hooks[h].nft, hooks[h].nft, c->mark_mask, c->queue);
		if (c->nqueues > 1)
			fprintf(out, "-%u", c->queue + c->nqueues - 1);
		fprintf(out, "%s\n\t}\n", c->fail_closed ? "" : " bypass");
		fprintf(out,
			"\tchain save_%s {\n"
			"\t\ttype filter hook %s priority filter; policy accept;\n",
			hooks[h].nft, hooks[h].nft);
		for (int a = ACTION_BYPASS; a < ACTION_COUNT; a++)
			if (a != ACTION_DROP)
				fprintf(out,
					"\t\tmeta mark and 0x%08" PRIx32 " == 0x%08" PRIx32
					" ct mark set ct mark and 0x%08" PRIx32 " or 0x%08" PRIx32
					"\n",
					c->mark_mask, c->mark[a], ~c->mark_mask, c->mark[a]);
		fprintf(out, "\t}\n");
	}
	fprintf(out, "}\n");
	print_divert(out, c, true);
}

/*
 * Conntrack timeouts. A rule's 'timeout' is a minimum for its flows: the
 * seeds ask stateful gateways to keep TURN UDP state >= 10 minutes and
 * FCM TCP state >= 30. The kernel gives a connection its timeout policy
 * when it creates the entry, before any packet is classified, so the
 * policy (a cttimeout object, `nfct add timeout`) is attached by a raw
 * table CT rule, which sees only addresses and ports: it is selected by
 * the rule's transport, src, dst and dport conditions, and is wider than
 * the rule when the rule asks for more (a name, an app). A policy sets
 * one state (UDP replied, TCP established); where the kernel's own
 * timeout for it is already as long, only a comment is printed.
 */
static const struct {
	uint8_t proto;
	const char *name, *state, *sysctl;
} ct_protos[] = {
	{ IPPROTO_TCP, "tcp", "established", "nf_conntrack_tcp_timeout_established" },
	{ IPPROTO_UDP, "udp", "replied", "nf_conntrack_udp_timeout_stream" },
};

#define L4_CONDS (COND_TRANSPORT | COND_SRC | COND_DST | COND_DPORT)

/* The kernel's timeout in seconds for a state; 0 if unknown. */
static unsigned long kernel_timeout(const char *sysctl)
{
	char path[128];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", sysctl);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "%lu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static bool is_v4(const struct addr_cidr *c)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return c->plen >= 96 && !memcmp(c->addr, mapped, sizeof(mapped));
}

/* Entries of an address set in one family: n, and whether any matched.
 * No set: one entry, "" (any address). */
static size_t family_count(const struct rule_set *s, bool v6)
{
	size_t n = 0;

	if (!s)
		return 1;
	for (size_t i = 0; i < s->u.addr->ncidrs; i++)
		n += is_v4(&s->u.addr->cidrs[i]) != v6;
	return n;
}

/* The option text of the i-th entry of family v6 ("" for no set). */
static void family_entry(const struct rule_set *s, bool v6, size_t i, const char *opt, char *buf,
			 size_t len)
{
	char a[64];

	buf[0] = '\0';
	if (!s)
		return;
	for (size_t k = 0; k < s->u.addr->ncidrs; k++) {
		const struct addr_cidr *c = &s->u.addr->cidrs[k];

		if (is_v4(c) == v6 || i--)
			continue;
		rules_addr_text(c->addr, c->plen, a, sizeof(a));
		snprintf(buf, len, " %s %s", opt, a);
		return;
	}
}

/* The CT rules of one policy in one family. */
static void ct_rules(FILE *out, const struct dpixd_config *c, const struct rule *r, bool v6,
		     const char *proto, const char *name, bool *chain_made)
{
	const char *ipt = v6 ? "ip6tables" : "iptables";
	const struct rule_set *src = r->conds & COND_SRC ? r->src : NULL;
	const struct rule_set *dst = r->conds & COND_DST ? r->dst : NULL;
	const struct port_set *ports = r->conds & COND_DPORT ? r->dport->u.port : NULL;
	size_t ns = family_count(src, v6), nd = family_count(dst, v6);
	size_t np = ports ? ports->nwritten : 1;

	if (!ns || !nd)
		return;
	if (!*chain_made) {
		fprintf(out, "%s -t raw -N DPIX_TIMEOUT\n", ipt);
		if (c->hooks & (HOOK_FORWARD | HOOK_INPUT))
			fprintf(out, "%s -t raw -A PREROUTING -j DPIX_TIMEOUT\n", ipt);
		if (c->hooks & HOOK_OUTPUT)
			fprintf(out, "%s -t raw -A OUTPUT -j DPIX_TIMEOUT\n", ipt);
		*chain_made = true;
	}
	for (size_t i = 0; i < ns; i++)
		for (size_t k = 0; k < nd; k++)
			for (size_t p = 0; p < np; p++) {
				char s[80], d[80], port[32] = "";

				family_entry(src, v6, i, "-s", s, sizeof(s));
				family_entry(dst, v6, k, "-d", d, sizeof(d));
				if (ports && ports->written[p].lo == ports->written[p].hi)
					snprintf(port, sizeof(port), " --dport %u",
						 ports->written[p].lo);
				else if (ports)
					snprintf(port, sizeof(port), " --dport %u:%u",
						 ports->written[p].lo, ports->written[p].hi);
				fprintf(
				    out,
				    "%s -t raw -A DPIX_TIMEOUT -p %s%s%s%s -j CT --timeout %s\n",
				    ipt, proto, s, d, port, name);
			}
}

void dpixd_print_timeouts(FILE *out, const struct dpixd_config *c, const struct ruleset *rs)
{
	bool chain_made[2] = { false, false };
	unsigned n = 0;

	fprintf(out,
		"# Conntrack timeouts the packs ask for (needs nfct, from conntrack-tools).\n");
	for (size_t k = 0; k < rs->npacks; k++)
		for (size_t i = 0; i < rs->packs[k]->nrules; i++) {
			const struct rule *r = &rs->packs[k]->rules[i];

			for (size_t p = 0; r->timeout && p < 2; p++) {
				unsigned long kt = kernel_timeout(ct_protos[p].sysctl);
				char name[32], name6[36];
				const struct rule_set *src = r->conds & COND_SRC ? r->src : NULL;
				const struct rule_set *dst = r->conds & COND_DST ? r->dst : NULL;

				if ((r->conds & COND_TRANSPORT) &&
				    r->transport != ct_protos[p].proto)
					continue;
				fprintf(out, "# %s (%s:%u): %s %s at least %us", r->id, r->file,
					r->line, ct_protos[p].name, ct_protos[p].state, r->timeout);
				if (kt >= r->timeout) {
					fprintf(out, ": the kernel's %s is %lus already\n",
						ct_protos[p].sysctl, kt);
					continue;
				}
				fprintf(out, "%s\n",
					r->conds & ~L4_CONDS ? "; chosen by addresses and ports "
							       "only, wider than the rule"
							     : "");
				snprintf(name, sizeof(name), "dpix-%s-%u", ct_protos[p].name, ++n);
				/* A policy is of one family: ip6tables refuses an
				 * inet one (EINVAL). */
				snprintf(name6, sizeof(name6), "%s-6", name);
				if (family_count(src, false) && family_count(dst, false)) {
					fprintf(out, "nfct add timeout %s inet %s %s %u\n", name,
						ct_protos[p].name, ct_protos[p].state, r->timeout);
					ct_rules(out, c, r, false, ct_protos[p].name, name,
						 &chain_made[0]);
				}
				if (family_count(src, true) && family_count(dst, true)) {
					fprintf(out, "nfct add timeout %s inet6 %s %s %u\n", name6,
						ct_protos[p].name, ct_protos[p].state, r->timeout);
					ct_rules(out, c, r, true, ct_protos[p].name, name6,
						 &chain_made[1]);
				}
			}
		}
}
