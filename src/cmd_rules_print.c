/*
 * cmd_rules_print.c: `dpix rules print PACK...`, each pack in canonical
 * form (rules_print.c) on stdout, one after the other. Every pack is
 * loaded first: if one does not load, its error (file:line:column) goes
 * to stderr, nothing is printed and the exit status is 1.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_rules.h"
#include "rules/rules.h"

int rules_print_cmd(int argc, char **argv)
{
	struct ruleset rs = { 0 };
	struct rules_error err;
	int rc = 0;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout, "usage: dpix rules print PACK...\n");
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (int i = 1; i < argc; i++)
		if (rules_load(&rs, argv[i], &err) < 0) {
			fprintf(stderr, "dpix: %s\n", err.msg);
			ruleset_free(&rs);
			return 1;
		}
	for (size_t i = 0; i < rs.npacks; i++) {
		if (i)
			putchar('\n');
		if (rules_print_pack(stdout, rs.packs[i]) < 0)
			rc = 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "dpix rules print: cannot write the output\n");
		rc = 1;
	}
	ruleset_free(&rs);
	return rc;
}
