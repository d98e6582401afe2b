/* cmd_rules_check.c: `dpix rules check` (being written). */
#include <stdio.h>

#include "cmd_rules.h"

int rules_check_cmd(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dpix rules check: not built yet\n");
	return 1;
}
