/*
 * dpix.c: the command-line tool. `dpix replay` runs the gateway's
 * classification over capture files so a rule pack can be tested before it
 * is deployed.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_rules.h"
#include "cmd_stats.h"
#include "plugin/plugin.h"
#include "replay/replay.h"
#include "rules/rules.h"
#include "rules/rules_sign.h"

#ifndef DPIX_RULESDIR
#define DPIX_RULESDIR "/usr/local/share/dpix/rules"
#endif
#ifndef DPIX_PLUGINDIR
#define DPIX_PLUGINDIR "/usr/local/lib/dpix"
#endif

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(out,
		"usage: dpix replay [--rules PACK]... [--format eve|table|none] [options] FILE...\n"
		"       dpix rules keygen|sign|verify ... (see dpix rules help)\n"
		"       dpix stats [--socket PATH] [--json|--prometheus]\n"
		"       dpix --version\n"
		"\n"
		"replay options:\n"
		"  -r, --rules PACK        load this rule pack (repeat for more; default: every\n"
		"                          *.rules in $DPIX_RULES_DIR or " DPIX_RULESDIR ")\n"
		"  -f, --format FMT        eve (JSON lines, default), table, or none (only\n"
		"                          the --output sinks get the events)\n"
		"  -p, --plugin PLUGIN     load a plugin: a path, or a name looked up as\n"
		"                          NAME.so in $DPIX_PLUGIN_DIR or " DPIX_PLUGINDIR "\n"
		"                          (repeat for more)\n"
		"  -o, --output NAME[:ARG] also send each EVE record to a plugin's output\n"
		"                          (repeat for more)\n"
		"      --max-flows N       flow table capacity (default %u)\n"
		"      --stream-window N   bytes kept per direction (default %u, at most %u)\n"
		"      --max-packets N     payload packets per flow before deciding (default %u)\n"
		"  -q, --quiet             no summary or progress on stderr\n"
		"      --require-signed    load a pack only if PACK.sig verifies with a\n"
		"                          --pubkey KEY (a PEM file, or a directory of them;\n"
		"                          repeat for more)\n"
		"\n"
		"See dpix(1).\n",
		PIPELINE_DEFAULT_FLOWS, STREAM_DEFAULT_WINDOW, STREAM_MAX_WINDOW,
		PIPELINE_DEFAULT_PACKETS);
}

/* A whole decimal number in [min, max], or an error naming the option. */
static int parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < min || v > max) {
		fprintf(stderr, "dpix: %s: '%s' is not a number from %lu to %lu\n", opt, s, min,
			max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Load one --plugin argument; 0, or -1 after saying why. */
static int load_plugin(const char *arg)
{
	const char *dir = getenv("DPIX_PLUGIN_DIR");
	struct plugin_error err;
	char path[PATH_MAX];

	if (plugin_resolve(arg, dir && *dir ? dir : DPIX_PLUGINDIR, path, sizeof(path)) < 0) {
		fprintf(stderr, "dpix: --plugin '%s': not a plugin name or path\n", arg);
		return -1;
	}
	if (plugin_load(path, &err) < 0) {
		fprintf(stderr, "dpix: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Open the --output sinks, once every plugin is loaded. */
static int open_outputs(char **specs, int n)
{
	struct plugin_error err;

	for (int i = 0; i < n; i++) {
		if (plugin_output_open(specs[i], &err) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			return -1;
		}
	}
	return 0;
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "plugin", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "max-flows", required_argument, NULL, 'F' },
		{ "stream-window", required_argument, NULL, 'W' },
		{ "max-packets", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "require-signed", no_argument, NULL, 'S' },
		{ "pubkey", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct replay_opts o = { .format = REPLAY_EVE, .progress = true, .summary = true };
	struct ruleset rs = { 0 };
	struct rules_error err;
	static struct rules_keyring kr;
	char *outputs[PLUGIN_OUTPUT_MAX];
	int noutputs = 0;
	unsigned long v;
	int c, rc = 1;
	size_t npacks = 0, nkeys = 0;
	bool require_signed = false;
	/* Packs and keys are loaded after the options: keys first, whatever
	 * their order on the command line. */
	const char **packs = calloc((size_t)argc, sizeof(*packs));
	const char **keys = calloc((size_t)argc, sizeof(*keys));

	if (!packs || !keys) {
		fprintf(stderr, "dpix: out of memory\n");
		goto out;
	}
	pipeline_config_defaults(&o.cfg);
	while ((c = getopt_long(argc, argv, "r:f:p:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			packs[npacks++] = optarg;
			break;
		case 'S':
			require_signed = true;
			break;
		case 'K':
			keys[nkeys++] = optarg;
			break;
		case 'p':
			if (load_plugin(optarg) < 0)
				goto out;
			break;
		case 'o':
			if (noutputs == PLUGIN_OUTPUT_MAX) {
				fprintf(stderr, "dpix: at most %d --output\n", PLUGIN_OUTPUT_MAX);
				goto usage_fail;
			}
			outputs[noutputs++] = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "eve"))
				o.format = REPLAY_EVE;
			else if (!strcmp(optarg, "table"))
				o.format = REPLAY_TABLE;
			else if (!strcmp(optarg, "none"))
				o.format = REPLAY_NONE;
			else {
				fprintf(stderr,
					"dpix: --format: '%s': expected eve, table or none\n",
					optarg);
				goto usage_fail;
			}
			break;
		case 'F':
			if (parse_uint("--max-flows", optarg, 1, FLOW_MAX_CAPACITY, &v) < 0)
				goto usage_fail;
			o.cfg.max_flows = (uint32_t)v;
			break;
		case 'W':
			if (parse_uint("--stream-window", optarg, 64, STREAM_MAX_WINDOW, &v) < 0)
				goto usage_fail;
			o.cfg.stream_window = (uint32_t)v;
			break;
		case 'P':
			if (parse_uint("--max-packets", optarg, 1, 1000, &v) < 0)
				goto usage_fail;
			o.cfg.max_packets = (uint16_t)v;
			break;
		case 'q':
			o.progress = o.summary = false;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			goto usage_fail;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "dpix replay: no capture file given\n");
		goto usage_fail;
	}
	if (require_signed != (nkeys > 0)) {
		fprintf(stderr, "dpix replay: %s\n",
			require_signed ? "--require-signed needs at least one --pubkey"
				       : "--pubkey is only used with --require-signed");
		goto usage_fail;
	}
	kr.n = 0;
	for (size_t i = 0; i < nkeys; i++) {
		if (rules_keyring_add(&kr, keys[i], &err) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			goto out;
		}
	}
	for (size_t i = 0; i < npacks; i++) {
		if ((require_signed ? rules_load_signed(&rs, packs[i], &kr, &err)
				    : rules_load(&rs, packs[i], &err)) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			goto out;
		}
	}
	if (npacks == 0) {
		const char *dir = rules_default_dir();

		if ((require_signed ? rules_load_dir_signed(&rs, dir, &kr, &err)
				    : rules_load_dir(&rs, dir, &err)) < 0) {
			fprintf(stderr, "dpix: %s (give packs with --rules)\n", err.msg);
			goto out;
		}
	}
	if (ruleset_seal(&rs) < 0) {
		fprintf(stderr, "dpix: out of memory indexing the rule packs\n");
		goto out;
	}
	if (open_outputs(outputs, noutputs) < 0)
		goto out;
	o.files = argv + optind;
	o.nfiles = argc - optind;
	o.rules = &rs;
	rc = replay_run(&o);
out:
	ruleset_free(&rs);
	plugin_unload_all();
	free(packs);
	free(keys);
	return rc;
usage_fail:
	usage(stderr);
	rc = EXIT_USAGE;
	goto out;
}

int main(int argc, char **argv)
{
	static char outbuf[1 << 16];

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (argc >= 2 && !strcmp(argv[1], "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "rules"))
		return cmd_rules(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		printf("dpix %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2)
		fprintf(stderr, "dpix: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
