/* cmd_rules_explain.c: `dpix rules explain` (being written). */
#include <stdio.h>

#include "cmd_rules.h"

int rules_explain_cmd(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dpix rules explain: not built yet\n");
	return 1;
}
