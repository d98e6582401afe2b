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
#include "dpixd/dpixd_conf.h"
#include "proxy/proxy.h"
#include "rules/rules.h"
#include "flow/flow-t.h"
#include "stream/stream-t.h"

#ifndef DPIX_RULESDIR
#define DPIX_RULESDIR "/usr/local/share/dpix/rules"
#endif

#define EXIT_USAGE 2

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
	    "                           stdout, 'syslog': syslog; default: no events)\n"
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
	    "      --control-socket PATH  the control socket (default " DPIXD_DEFAULT_CTL ";\n"
	    "                           'none': no socket)\n"
	    "      --metrics ADDR:PORT  serve GET /metrics there (default: off)\n"
	    "      --user NAME          once the queues are bound, run as NAME keeping\n"
	    "                           CAP_NET_ADMIN only\n"
	    "      --watchdog SECONDS   restart the worker process when a queue has not\n"
	    "                           been read for this long (default %u, 0: off)\n"
	    "      --no-supervise       no supervisor process: no watchdog, no restarts\n"
	    "      --require-signed     load a pack only if PACK.sig verifies with --pubkey\n"
	    "      --pubkey KEY         trusted public key: a PEM file or a directory of them\n"
	    "      --config FILE        read settings from FILE (default " DPIXD_DEFAULT_CONF "\n"
	    "                           if it exists); flags override it\n"
	    "      --print-rules FMT    print the firewall rules this configuration needs\n"
	    "      --install-rules      install them (iptables, nfct), into dpix's own chains\n"
	    "      --check-rules        check what is installed against them\n"
	    "      --proxy-listen A:P   serve HTTP CONNECT on ADDR:PORT ([V6]:PORT; repeat)\n"
	    "      --proxy-parent H:P   send what is not whitelisted to this proxy (default:\n"
	    "                           refuse it with 403)\n"
	    "      --proxy-max-tunnels N  connections at once (default %u)\n"
	    "      --proxy-idle-timeout S idle seconds before a tunnel closes (default %u)\n"
	    "      --proxy-transparent A:P  accept connections redirected there (iptables\n"
	    "                           REDIRECT); the target from the TLS SNI or Host\n"
	    "      --proxy-tproxy A:P   the same for connections diverted there by iptables\n"
	    "                           TPROXY (IP_TRANSPARENT; needs CAP_NET_ADMIN)\n"
	    "      --proxy-mark MARK    SO_MARK of the forwarder's upstream connections\n"
	    "      --proxy-head-timeout S seconds to receive a request head (default 10)\n"
	    "      --proxy-parent-auth FILE user:password for the parent (Basic), sent when\n"
	    "                           the client sends no Proxy-Authorization; mode 600\n"
	    "      --proxy-fronting ACT close (default) or log a tunnel whose TLS server\n"
	    "                           name is not the CONNECT host\n"
	    "      --proxy-listen-tls A:P  serve HTTP CONNECT inside TLS on ADDR:PORT (an\n"
	    "                           HTTPS proxy; repeat); needs the two below\n"
	    "      --proxy-tls-cert FILE  its PEM certificate (chain), read at start\n"
	    "      --proxy-tls-key FILE   its PEM private key, read at start\n"
	    "\n"
	    "SIGHUP reloads the configuration file and the packs (an error is refused,\n"
	    "the running ones stay);\n"
	    "SIGUSR1 writes the counters to stderr; `dpix stats` reads them from the\n"
	    "control socket. See dpixd(8) and dpixd.conf(5).\n",
	    DPIXD_MAX_QUEUES, DPIXD_DEFAULT_COPY_RANGE, DPIXD_DEFAULT_QUEUE_MAXLEN, DPIX_MARK_MASK,
	    DPIX_MARK_BYPASS, DPIX_MARK_INSPECT, DPIX_MARK_DROP, PIPELINE_DEFAULT_FLOWS,
	    PIPELINE_DEFAULT_PACKETS, STREAM_DEFAULT_WINDOW, STREAM_MAX_WINDOW,
	    DPIXD_DEFAULT_WATCHDOG, PROXY_DEFAULT_MAX_TUNNELS, PROXY_DEFAULT_IDLE_S);
}

enum {
	OPT_CONFIG = 256,
	OPT_PRINT_RULES,
	OPT_INSTALL_RULES,
	OPT_CHECK_RULES,
	OPT_VERSION,
	OPT_KEY = 512, /* + the index of a dpixd_conf_key */
};

#define MAX_OPTS 64 /* the table's keys, the 6 commands, the terminator */
#define MAX_ARGS 256

int main(int argc, char **argv)
{
	static struct option longopts[MAX_OPTS];
	static struct dpixd_arg args[MAX_ARGS];
	struct dpixd_config c = { .conf_path = DPIXD_DEFAULT_CONF, .args = args };
	const char *print = NULL;
	const struct dpixd_conf_key *k;
	char err[1024];
	size_t n = 0;
	int opt, rc, rules_cmd = 0;

	for (size_t i = 0; (k = dpixd_conf_key(i)); i++) {
		/* A key without its flag would be "unrecognized": say so. */
		if (n == MAX_OPTS - 7) {
			fprintf(stderr, "dpixd: MAX_OPTS too small for --%s\n", k->name);
			return 1;
		}
		longopts[n++] =
		    (struct option){ k->name, k->flag_only ? no_argument : required_argument, NULL,
				     OPT_KEY + (int)i };
	}
	longopts[n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	longopts[n++] = (struct option){ "print-rules", required_argument, NULL, OPT_PRINT_RULES };
	longopts[n++] = (struct option){ "install-rules", no_argument, NULL, OPT_INSTALL_RULES };
	longopts[n++] = (struct option){ "check-rules", no_argument, NULL, OPT_CHECK_RULES };
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	while ((opt = getopt_long(argc, argv, "r:e:h", longopts, NULL)) != -1) {
		const char *key = NULL;

		if (opt == 'r')
			key = "rules";
		else if (opt == 'e')
			key = "eve";
		else if (opt >= OPT_KEY && (k = dpixd_conf_key((size_t)(opt - OPT_KEY))))
			key = k->name;
		if (key) {
			if (c.nargs == MAX_ARGS) {
				fprintf(stderr, "dpixd: at most %d options\n", MAX_ARGS);
				return EXIT_USAGE;
			}
			args[c.nargs++] = (struct dpixd_arg){ key, optarg ? optarg : "yes" };
			continue;
		}
		switch (opt) {
		case OPT_CONFIG:
			c.conf_path = optarg;
			c.conf_required = true;
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
		case OPT_INSTALL_RULES:
		case OPT_CHECK_RULES:
			rules_cmd = opt;
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
	if (dpixd_conf_build(&c, rules_default_dir(), err, sizeof(err)) < 0) {
		fprintf(stderr, "dpixd: %s\n", err);
		dpixd_conf_free(&c);
		return EXIT_USAGE;
	}
	if (print) {
		struct ruleset *rs;

		rc = 0;
		if (!strcmp(print, "nft")) {
			dpixd_print_nft(stdout, &c);
			printf(
			    "# Conntrack timeouts from the packs: see --print-rules iptables.\n");
		} else if ((rs = dpixd_load_rules(&c))) {
			dpixd_print_iptables(stdout, &c);
			dpixd_print_timeouts(stdout, &c, rs);
			ruleset_free(rs);
			free(rs);
		} else
			rc = 1;
		dpixd_conf_free(&c);
		return rc;
	}
	if (rules_cmd)
		rc = rules_cmd == OPT_INSTALL_RULES ? dpixd_install_rules(&c)
						    : dpixd_check_rules(&c);
	else
		rc = c.no_supervise ? dpixd_run(&c) : dpixd_supervise(&c);
	dpixd_conf_free(&c);
	return rc;
}
