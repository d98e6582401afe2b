/* cmd_rules_export.c: `dpix rules export` (being written). */
#include <stdio.h>

#include "cmd_rules.h"

int rules_export_cmd(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dpix rules export: not built yet\n");
	return 1;
}
