/* cmd_rules_diff.c: `dpix rules diff` (being written). */
#include <stdio.h>

#include "cmd_rules.h"

int rules_diff_cmd(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dpix rules diff: not built yet\n");
	return 1;
}
