/* cmd_rules.h: `dpix rules`, the commands for signed rule packs. */
#ifndef DPIX_CMD_RULES_H
#define DPIX_CMD_RULES_H

/* argv[0] is "rules"; returns the exit status: 0, 1 (refused), 2 (usage). */
int cmd_rules(int argc, char **argv);

#endif
