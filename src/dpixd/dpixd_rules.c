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
#include <inttypes.h>
#include <stdio.h>

#include "dpixd/dpixd.h"

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
}
