#ifndef DPIX_RULES_H
#define DPIX_RULES_H

#include <stdbool.h>

#include "dissect/dissect-t.h"
#include "rules/rules-t.h"

/*
 * Parse the pack at path and append it to rs. On error nothing is added, rs
 * is unchanged and err says what is wrong: file:line:column, the text found
 * and what was expected for errors inside the pack; the file name and the
 * reason for a file that cannot be read, is not text or is too large.
 */
int rules_load(struct ruleset *rs, const char *path, struct rules_error *err);

/* Load every *.rules file of a directory, in name order. */
int rules_load_dir(struct ruleset *rs, const char *dir, struct rules_error *err);

void ruleset_free(struct ruleset *rs);

/* First matching rule across packs in load order; no match: inspect. */
void rules_eval(const struct ruleset *rs, const struct flow_facts *facts, struct verdict *v);

const char *rule_action_name(enum rule_action a);
const char *verdict_reason_name(enum verdict_reason r);

/* Domain sets (rules_domain.c). */
struct domain_set *domain_set_new(const char *name);
void domain_set_free(struct domain_set *s);
/* Add a pattern; returns 0, or -1 with the column (0-based) of the offending
 * character in *col and a reason in *why. */
int domain_set_add(struct domain_set *s, const char *pattern, size_t *col, const char **why);
/* Is the name (any case, trailing dot allowed) in the set? */
bool domain_set_match(const struct domain_set *s, const char *name, size_t len);

#endif
