/*
 * dpixd_main.c: dpixd's command line. Every bound has a flag and a
 * default stated in --help and dpixd(8); a value out of range is an error
 * that names the flag, never silently clamped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpixd/dpixd.h"
#include "proxy/proxy.h"
#include "rules/rules.h"
#include "flow/flow-t.h"
#include "stream/stream-t.h"

#ifndef DPIX_RULESDIR
#define DPIX_RULESDIR "/usr/local/share/dpix/rules"
#endif

#define EXIT_USAGE 2
#define MAX_PACKS 64
#define MAX_QUEUES 64

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: dpixd [options]\n"
	    "       dpixd --print-rules iptables|nft [options]\n"
	    "\n"
	    "  -r, --rules PACK         load this rule pack (repeat; default: every *.rules\n"
	    "                           in $DPIX_RULES_DIR or " DPIX_RULESDIR ")\n"
	    "  -e, --eve FILE           append an EVE JSON line per verdict to FILE ('-':\n"
	    "                           stdout; default: no events)\n"
	    "      --queue N            first queue number (default 0)\n"
	    "      --queues N           queues, one worker thread each (default 1, at most %d;\n"
	    "                           0: the forwarder alone)\n"
	    "      --fail-closed        drop what dpixd cannot see (default: fail-open)\n"
	    "      --copy-range N       bytes of a packet copied to dpixd (default %u)\n"
	    "      --queue-maxlen N     packets the kernel holds per queue (default %u)\n"
	    "      --mark-mask M        mark bits dpix owns (default 0x%08x)\n"
	    "      --mark-bypass V      mark of bypass verdicts (default 0x%08x)\n"
	    "      --mark-inspect V     mark of inspect verdicts (default 0x%08x)\n"
	    "      --mark-drop V        mark of drop verdicts (default 0x%08x)\n"
	    "      --hook HOOK          forward, input or output: traffic the printed rules\n"
	    "                           queue (repeat; default forward)\n"
	    "      --max-flows N        flows tracked per queue (default %u)\n"
	    "      --max-packets N      payload packets per flow before deciding (default %u)\n"
	    "      --stream-window N    bytes kept per direction (default %u, at most %u)\n"
	    "      --print-rules FMT    print the firewall rules this configuration needs\n"
	    "      --proxy-listen A:P   serve HTTP CONNECT on ADDR:PORT ([V6]:PORT; repeat)\n"
	    "      --proxy-parent H:P   send what is not whitelisted to this proxy (default:\n"
	    "                           refuse it with 403)\n"
	    "      --proxy-max-tunnels N  connections at once (default %u)\n"
	    "      --proxy-idle-timeout S idle seconds before a tunnel closes (default %u)\n"
	    "      --proxy-fronting ACT close (default) or log a tunnel whose TLS server\n"
	    "                           name is not the CONNECT host\n"
	    "\n"
	    "SIGHUP reloads the packs (a bad pack is refused, the running ones stay);\n"
	    "SIGUSR1 writes the counters to stderr. See dpixd(8).\n",
	    MAX_QUEUES, DPIXD_DEFAULT_COPY_RANGE, DPIXD_DEFAULT_QUEUE_MAXLEN, DPIX_MARK_MASK,
	    DPIX_MARK_BYPASS, DPIX_MARK_INSPECT, DPIX_MARK_DROP, PIPELINE_DEFAULT_FLOWS,
	    PIPELINE_DEFAULT_PACKETS, STREAM_DEFAULT_WINDOW, STREAM_MAX_WINDOW,
	    PROXY_DEFAULT_MAX_TUNNELS, PROXY_DEFAULT_IDLE_S);
}

/* A number in [min, max], decimal or 0x hex; -1 after naming the flag. */
static int number(const char *flag, const char *s, unsigned long min, unsigned long max,
		  unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < min || v > max) {
		fprintf(stderr, "dpixd: --%s: '%s' is not a number from %lu to %lu\n", flag, s, min,
			max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Marks: each verdict's value non-zero, inside the mask, all different. */
static int check_marks(const struct dpixd_config *c)
{
	static const char *const names[ACTION_COUNT] = { NULL, "bypass", "inspect", "drop" };

	for (int a = ACTION_BYPASS; a < ACTION_COUNT; a++) {
		if (!c->mark[a] || (c->mark[a] & ~c->mark_mask)) {
			fprintf(stderr,
				"dpixd: --mark-%s 0x%x: must be non-zero and inside --mark-mask "
				"0x%x\n",
				names[a], c->mark[a], c->mark_mask);
			return -1;
		}
		for (int b = ACTION_BYPASS; b < a; b++)
			if (c->mark[a] == c->mark[b]) {
				fprintf(stderr, "dpixd: --mark-%s and --mark-%s are both 0x%x\n",
					names[b], names[a], c->mark[a]);
				return -1;
			}
	}
	return 0;
}

enum {
	OPT_QUEUE = 256,
	OPT_QUEUES,
	OPT_FAIL_CLOSED,
	OPT_COPY_RANGE,
	OPT_QUEUE_MAXLEN,
	OPT_MARK_MASK,
	OPT_MARK_BYPASS,
	OPT_MARK_INSPECT,
	OPT_MARK_DROP,
	OPT_HOOK,
	OPT_MAX_FLOWS,
	OPT_MAX_PACKETS,
	OPT_STREAM_WINDOW,
	OPT_PRINT_RULES,
	OPT_VERSION,
	OPT_PROXY_LISTEN,
	OPT_PROXY_PARENT,
	OPT_PROXY_MAX_TUNNELS,
	OPT_PROXY_IDLE,
	OPT_PROXY_FRONTING,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "eve", required_argument, NULL, 'e' },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "queues", required_argument, NULL, OPT_QUEUES },
		{ "fail-closed", no_argument, NULL, OPT_FAIL_CLOSED },
		{ "copy-range", required_argument, NULL, OPT_COPY_RANGE },
		{ "queue-maxlen", required_argument, NULL, OPT_QUEUE_MAXLEN },
		{ "mark-mask", required_argument, NULL, OPT_MARK_MASK },
		{ "mark-bypass", required_argument, NULL, OPT_MARK_BYPASS },
		{ "mark-inspect", required_argument, NULL, OPT_MARK_INSPECT },
		{ "mark-drop", required_argument, NULL, OPT_MARK_DROP },
		{ "hook", required_argument, NULL, OPT_HOOK },
		{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
		{ "max-packets", required_argument, NULL, OPT_MAX_PACKETS },
		{ "stream-window", required_argument, NULL, OPT_STREAM_WINDOW },
		{ "print-rules", required_argument, NULL, OPT_PRINT_RULES },
		{ "proxy-listen", required_argument, NULL, OPT_PROXY_LISTEN },
		{ "proxy-parent", required_argument, NULL, OPT_PROXY_PARENT },
		{ "proxy-max-tunnels", required_argument, NULL, OPT_PROXY_MAX_TUNNELS },
		{ "proxy-idle-timeout", required_argument, NULL, OPT_PROXY_IDLE },
		{ "proxy-fronting", required_argument, NULL, OPT_PROXY_FRONTING },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	static const char *packs[MAX_PACKS];
	struct dpixd_config c = {
		.nqueues = 1,
		.copy_range = DPIXD_DEFAULT_COPY_RANGE,
		.queue_maxlen = DPIXD_DEFAULT_QUEUE_MAXLEN,
		.rcvbuf = DPIXD_DEFAULT_RCVBUF,
		.mark_mask = DPIX_MARK_MASK,
		.mark = { 0, DPIX_MARK_BYPASS, DPIX_MARK_INSPECT, DPIX_MARK_DROP },
		.packs = packs,
		.proxy = { .max_tunnels = PROXY_DEFAULT_MAX_TUNNELS,
			   .idle_s = PROXY_DEFAULT_IDLE_S },
	};
	const char *print = NULL, *dir = getenv("DPIX_RULES_DIR");
	unsigned long v;
	int opt;

	pipeline_config_defaults(&c.pipe);
	c.rules_dir = dir && *dir ? dir : DPIX_RULESDIR;
	while ((opt = getopt_long(argc, argv, "r:e:h", longopts, NULL)) != -1) {
		const char *flag = NULL;

		for (const struct option *o = longopts; o->name; o++)
			if (o->val == opt)
				flag = o->name;
		switch (opt) {
		case 'r':
			if (c.npacks == MAX_PACKS) {
				fprintf(stderr, "dpixd: at most %d --rules\n", MAX_PACKS);
				return EXIT_USAGE;
			}
			packs[c.npacks++] = optarg;
			break;
		case 'e':
			c.eve_path = optarg;
			break;
		case OPT_QUEUE:
			if (number(flag, optarg, 0, 65535, &v) < 0)
				return EXIT_USAGE;
			c.queue = (uint16_t)v;
			break;
		case OPT_QUEUES:
			if (number(flag, optarg, 0, MAX_QUEUES, &v) < 0)
				return EXIT_USAGE;
			c.nqueues = (uint16_t)v;
			break;
		case OPT_FAIL_CLOSED:
			c.fail_closed = true;
			break;
		case OPT_COPY_RANGE:
			if (number(flag, optarg, 128, 65535, &v) < 0)
				return EXIT_USAGE;
			c.copy_range = (uint32_t)v;
			break;
		case OPT_QUEUE_MAXLEN:
			if (number(flag, optarg, 16, 1u << 20, &v) < 0)
				return EXIT_USAGE;
			c.queue_maxlen = (uint32_t)v;
			break;
		case OPT_MARK_MASK:
		case OPT_MARK_BYPASS:
		case OPT_MARK_INSPECT:
		case OPT_MARK_DROP:
			if (number(flag, optarg, 0, UINT32_MAX, &v) < 0)
				return EXIT_USAGE;
			if (opt == OPT_MARK_MASK)
				c.mark_mask = (uint32_t)v;
			else
				c.mark[ACTION_BYPASS + (opt - OPT_MARK_BYPASS)] = (uint32_t)v;
			break;
		case OPT_HOOK:
			if (!strcmp(optarg, "forward"))
				c.hooks |= HOOK_FORWARD;
			else if (!strcmp(optarg, "input"))
				c.hooks |= HOOK_INPUT;
			else if (!strcmp(optarg, "output"))
				c.hooks |= HOOK_OUTPUT;
			else {
				fprintf(stderr,
					"dpixd: --hook: '%s': expected forward, input or output\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_MAX_FLOWS:
			if (number(flag, optarg, 1, FLOW_MAX_CAPACITY, &v) < 0)
				return EXIT_USAGE;
			c.pipe.max_flows = (uint32_t)v;
			break;
		case OPT_MAX_PACKETS:
			if (number(flag, optarg, 1, 1000, &v) < 0)
				return EXIT_USAGE;
			c.pipe.max_packets = (uint16_t)v;
			break;
		case OPT_STREAM_WINDOW:
			if (number(flag, optarg, 64, STREAM_MAX_WINDOW, &v) < 0)
				return EXIT_USAGE;
			c.pipe.stream_window = (uint32_t)v;
			break;
		case OPT_PRINT_RULES:
			if (strcmp(optarg, "iptables") && strcmp(optarg, "nft")) {
				fprintf(stderr,
					"dpixd: --print-rules: '%s': expected iptables or nft\n",
					optarg);
				return EXIT_USAGE;
			}
			print = optarg;
			break;
		case OPT_PROXY_LISTEN:
			if (c.proxy.nlisten == PROXY_MAX_LISTEN ||
			    proxy_parse_endpoint(optarg, &c.proxy.listen[c.proxy.nlisten]) < 0) {
				fprintf(stderr,
					"dpixd: --proxy-listen: '%s': expected ADDR:PORT or "
					"[V6]:PORT (at most %d)\n",
					optarg, PROXY_MAX_LISTEN);
				return EXIT_USAGE;
			}
			c.proxy.nlisten++;
			break;
		case OPT_PROXY_PARENT:
			if (proxy_parse_parent(optarg, &c.proxy) < 0) {
				fprintf(stderr, "dpixd: --proxy-parent: '%s': expected HOST:PORT\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_PROXY_MAX_TUNNELS:
			if (number(flag, optarg, 1, 1u << 20, &v) < 0)
				return EXIT_USAGE;
			c.proxy.max_tunnels = (uint32_t)v;
			break;
		case OPT_PROXY_IDLE:
			if (number(flag, optarg, 1, 7 * 24 * 3600, &v) < 0)
				return EXIT_USAGE;
			c.proxy.idle_s = (uint32_t)v;
			break;
		case OPT_PROXY_FRONTING:
			if (strcmp(optarg, "close") && strcmp(optarg, "log")) {
				fprintf(stderr,
					"dpixd: --proxy-fronting: '%s': expected close or log\n",
					optarg);
				return EXIT_USAGE;
			}
			c.proxy.fronting_log = !strcmp(optarg, "log");
			break;
		case OPT_VERSION:
			printf("dpixd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dpixd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!c.hooks)
		c.hooks = HOOK_FORWARD;
	if (c.nqueues && (uint32_t)c.queue + c.nqueues - 1 > 65535) {
		fprintf(stderr, "dpixd: queues %u to %u: the last queue number is 65535\n", c.queue,
			c.queue + c.nqueues - 1);
		return EXIT_USAGE;
	}
	if (check_marks(&c) < 0)
		return EXIT_USAGE;
	if (!c.nqueues && !c.proxy.nlisten) {
		fprintf(stderr, "dpixd: --queues 0 needs --proxy-listen\n");
		return EXIT_USAGE;
	}
	if (print) {
		struct ruleset *rs;

		if (!strcmp(print, "nft")) {
			dpixd_print_nft(stdout, &c);
			printf(
			    "# Conntrack timeouts from the packs: see --print-rules iptables.\n");
			return 0;
		}
		if (!(rs = dpixd_load_rules(&c)))
			return 1;
		dpixd_print_iptables(stdout, &c);
		dpixd_print_timeouts(stdout, &c, rs);
		ruleset_free(rs);
		free(rs);
		return 0;
	}
	return dpixd_run(&c);
}
