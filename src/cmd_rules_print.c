/* cmd_rules_print.c: `dpix rules print` (being written). */
#include <stdio.h>

#include "cmd_rules.h"

int rules_print_cmd(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dpix rules print: not built yet\n");
	return 1;
}
