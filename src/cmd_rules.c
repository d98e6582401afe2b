/*
 * cmd_rules.c: `dpix rules keygen|sign|verify`, the commands behind signed
 * rule packs (rules/rules_sign.h does the work). Exit status: 0 when every
 * file was signed or verified, 1 when any was refused (each one says why),
 * 2 for a usage error. Nothing here prints key material: only paths and
 * key ids.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd_rules.h"
#include "rules/rules_sign.h"

static void rules_usage(FILE *out)
{
	fprintf(out, "usage: dpix rules keygen PRIVATE.pem PUBLIC.pem\n"
		     "       dpix rules sign --key PRIVATE.pem FILE...\n"
		     "       dpix rules verify --pubkey PUBLIC.pem|DIR [--pubkey ...] FILE...\n"
		     "       dpix rules print PACK...\n"
		     "       dpix rules diff OLD NEW\n"
		     "       dpix rules export nft|iptables|squid [--rules PACK]...\n"
		     "                         [--action bypass|inspect|drop] [--mark VALUE/MASK]\n"
		     "       dpix rules check [--strict] PACK|DIR...\n"
		     "       dpix rules explain [--rules PACK]... [FLOW FLAGS]\n"
		     "\n"
		     "keygen  make an Ed25519 key pair (PEM, as openssl writes them); the private\n"
		     "        key file gets mode 0600; existing files are not overwritten\n"
		     "sign    write FILE.sig, a detached signature of FILE's bytes\n"
		     "verify  check FILE against FILE.sig with the trusted public keys (a DIR\n"
		     "        gives its *.pem and *.pub files)\n"
		     "print   write each pack in canonical form: sets sorted, lists and includes\n"
		     "        inline, one rule a line\n"
		     "diff    what NEW adds, removes and reorders against OLD; exit 0 same,\n"
		     "        1 different, 2 trouble\n"
		     "export  write the address and port rules of one action as an nft table or\n"
		     "        ipset lists with iptables rules, or their sets as Squid ACLs\n"
		     "check   load the packs in order and warn about shadowed rules, unused\n"
		     "        sets and entries shared by rules of other services and actions;\n"
		     "        --strict: warnings fail too\n"
		     "explain the rule that decides a flow described by flags (--sni NAME,\n"
		     "        --connect HOST:PORT, --dst IP, --dport N, ...; see dpix(1)), and\n"
		     "        the rules that failed only one condition\n"
		     "\n"
		     "See dpix(1) and, for the .sig format, dpix.rules(5).\n");
}

static int rules_keygen_cmd(int argc, char **argv)
{
	char keyid[RULES_KEYID_LEN + 1];
	struct rules_error err;

	if (argc != 3) {
		fprintf(stderr, "dpix rules keygen: expected PRIVATE.pem and PUBLIC.pem\n");
		rules_usage(stderr);
		return EXIT_USAGE;
	}
	if (rules_keygen(argv[1], argv[2], keyid, &err) < 0) {
		fprintf(stderr, "dpix: %s\n", err.msg);
		return 1;
	}
	printf("key id %s: private key %s (keep it secret), public key %s\n", keyid, argv[1],
	       argv[2]);
	return 0;
}

static int rules_sign_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	char keyid[RULES_KEYID_LEN + 1];
	const char *key = NULL;
	struct rules_error err;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:", longopts, NULL)) != -1) {
		if (c != 'k' || key) {
			if (c == 'k')
				fprintf(stderr, "dpix rules sign: one --key only\n");
			rules_usage(stderr);
			return EXIT_USAGE;
		}
		key = optarg;
	}
	if (!key || optind >= argc) {
		fprintf(stderr, "dpix rules sign: %s\n",
			key ? "no file to sign given" : "--key PRIVATE.pem is required");
		rules_usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		if (rules_sign_file(argv[i], key, keyid, &err) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			rc = 1;
			continue;
		}
		printf("%s.sig: signed by key %s\n", argv[i], keyid);
	}
	return rc;
}

static int rules_verify_cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pubkey", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	static struct rules_keyring kr;
	struct rules_error err;
	int c, rc = 0;
	bool usage_bad = false;

	kr.n = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:", longopts, NULL)) != -1) {
		if (c != 'p') {
			usage_bad = true;
			continue;
		}
		if (rules_keyring_add(&kr, optarg, &err) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			return 1;
		}
	}
	if (usage_bad || kr.n == 0 || optind >= argc) {
		if (!usage_bad)
			fprintf(stderr, "dpix rules verify: %s\n",
				kr.n ? "no file to verify given"
				     : "--pubkey PUBLIC.pem|DIR is required");
		rules_usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		int k = rules_verify_file(argv[i], kr.keys, kr.n, &err);

		if (k < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			rc = 1;
			continue;
		}
		printf("%s: good signature by key %s (%s)\n", argv[i], kr.keys[k].id,
		       kr.keys[k].file);
	}
	return rc;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} rules_cmds[] = {
	{ "keygen", rules_keygen_cmd }, { "sign", rules_sign_cmd },
	{ "verify", rules_verify_cmd }, { "print", rules_print_cmd },
	{ "check", rules_check_cmd },	{ "explain", rules_explain_cmd },
	{ "diff", rules_diff_cmd },	{ "export", rules_export_cmd },
};

int cmd_rules(int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 && i < sizeof(rules_cmds) / sizeof(rules_cmds[0]); i++)
		if (!strcmp(argv[1], rules_cmds[i].name))
			return rules_cmds[i].run(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		rules_usage(stdout);
		return 0;
	}
	if (argc >= 2)
		fprintf(stderr, "dpix rules: unknown command '%s'\n", argv[1]);
	rules_usage(stderr);
	return EXIT_USAGE;
}
