/*
 * cmd_rules_export.h: what the formats of `dpix rules export` share
 * (cmd_rules_export.c: options, packs, names, addresses, the rules to
 * write; one file per format).
 */
#ifndef DPIX_CMD_RULES_EXPORT_H
#define DPIX_CMD_RULES_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/rules-t.h"

/* A name given to a set in the output, unique within one export. */
struct export_name {
	const struct rule_set *set;
	unsigned roles; /* for a format's own use */
	char name[80];
};

struct export_ctx {
	const struct ruleset *rs;
	uint8_t action; /* the rules exported: enum rule_action */
	uint32_t mark, mask;
	FILE *out;
	unsigned skipped;      /* rules of the action not exported */
	unsigned shadowed;     /* rules of another action above them, not exported */
	unsigned bad_patterns; /* squid: patterns without a POSIX equivalent */
	int family;	       /* the section being written: 4 or 6 */
	const char *indent;    /* before a comment line */
	bool quiet;	       /* a second pass: no comments, no counts */
	struct export_name *names;
	size_t nnames, names_cap;
};

/* The output's name for a set: prefix, then the pack's and the set's name
 * (an unnamed one: rule's id), characters outside [A-Za-z0-9_] turned into
 * sep, at most maxlen characters (a hash keeps a cut name unique), unique
 * across the sets of this export. NULL: out of memory. */
const char *export_set_name(struct export_ctx *x, const struct rule_set *s, const struct rule *r,
			    const char *prefix, char sep, size_t maxlen);

/* The roles word of a set named by export_set_name. */
unsigned *export_set_roles(struct export_ctx *x, const struct rule_set *s);

/* The names of the conditions in conds, as a pack writes them, with ", ". */
void export_conds(FILE *out, uint32_t conds);

/* The CIDRs of an address set, merged, for one family (4 or 6): cb gets
 * each one as text ("192.0.2.0/24", a single address without a length).
 * IPv4 is the IPv4-mapped block; IPv6 every range not inside it; family
 * 0 is the one space as dpix and Squid keep it, a CIDR inside the mapped
 * block written as IPv4. Returns how many. */
#define EXPORT_NO_ZERO_PREFIX \
	1u /* a /0 as two /1: ipset refuses /0, Squid
				  * reads 0.0.0.0/0 as 'all', IPv6 too */
size_t export_cidrs(const struct addr_set *a, int family, unsigned flags,
		    void (*cb)(const char *text, size_t i, void *arg), void *arg);

/* The first condition of r that needs more than addresses, ports and the
 * transport (a layer-7 fact), or NULL. */
const char *export_l7_cond(const struct rule *r);

/* The comment header every format starts with: the packs, the action. */
void export_header(const struct export_ctx *x, const char *format, const char *how);

/* Does the set hold addresses of this family (4 or 6)? Can r match a
 * flow of it? */
bool export_has_family(const struct rule_set *s, int family);
bool export_rule_in_family(const struct rule *r, int family);

/*
 * Calls one(x, r, selected) for each rule to write, in dpix's order: the
 * rules of the action and, above the last of them, those of the others
 * (selected false), which take their flows first. A rule that needs a
 * layer-7 fact gets a comment instead (unless x->quiet) and is counted.
 */
int export_each_rule(struct export_ctx *x,
		     int (*one)(struct export_ctx *x, const struct rule *r, bool selected));

/* The formats: 0, or -1 when out of memory. */
int export_nft(struct export_ctx *x);	   /* cmd_rules_export_nft.c */
int export_iptables(struct export_ctx *x); /* cmd_rules_export_ipt.c */
int export_squid(struct export_ctx *x);	   /* cmd_rules_export_squid.c */

#endif
