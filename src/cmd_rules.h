/* cmd_rules.h: `dpix rules`, the commands for rule packs: signing and the tools. */
#ifndef DPIX_CMD_RULES_H
#define DPIX_CMD_RULES_H

/* argv[0] is "rules"; returns the exit status: 0, 1 (refused), 2 (usage). */
int cmd_rules(int argc, char **argv);

/*
 * The pack tools, one file each; argv[0] is the tool's name, the exit
 * status as above.
 */
int rules_print_cmd(int argc, char **argv);   /* cmd_rules_print.c */
int rules_check_cmd(int argc, char **argv);   /* cmd_rules_check.c */
int rules_explain_cmd(int argc, char **argv); /* cmd_rules_explain.c */
int rules_diff_cmd(int argc, char **argv);    /* cmd_rules_diff.c */
int rules_export_cmd(int argc, char **argv);  /* cmd_rules_export.c */

/* What a tool tells the user when its arguments are wrong: EXIT_USAGE. */
#define EXIT_USAGE 2

#endif
