/* rules-t.h: rule packs, their sets and rules, and the verdict they give. */
#ifndef DPIX_RULES_T_H
#define DPIX_RULES_T_H

#include <stddef.h>
#include <stdint.h>

enum rule_action { ACTION_NONE = 0, ACTION_BYPASS, ACTION_INSPECT, ACTION_DROP, ACTION_COUNT };

/* Which name of a flow a rule looks at. */
enum rule_field {
	FIELD_SNI,     /* TLS server_name */
	FIELD_CONNECT, /* HTTP CONNECT target host */
	FIELD_NAME,    /* either of them */
};

/*
 * A set of domain names. Entries are exact names ("example.com"), names
 * strictly below a domain ("*.example.com") or a glob inside the leftmost
 * label ("turn-*.example.com"). Stored in one open-addressing hash table
 * keyed by the name without its wildcard label, so a lookup costs one probe
 * per label of the name looked up, whatever the set's size.
 */
struct domain_entry {
	char *name; /* lower case, no trailing dot, wildcard label removed */
	uint64_t hash;
	uint8_t exact; /* the name itself is in the set */
	uint8_t below; /* every name strictly below it is in the set */
	uint32_t nglobs;
	char **globs; /* leftmost-label patterns under this name */
};

struct domain_set {
	char *name;
	struct domain_entry *slots;
	uint32_t nslots; /* power of two, at most half full */
	uint32_t count;	 /* entries as written in the pack */
	uint32_t used;	 /* slots in use */
};

struct rule_pack;

struct rule {
	char *id;
	uint8_t action; /* enum rule_action */
	uint8_t field;	/* enum rule_field */
	const struct domain_set *set;
	char *service; /* may be NULL */
	char *msg;     /* may be NULL */
	char *ref;     /* section of the source document, may be NULL */
	unsigned line;
	const struct rule_pack *pack;
};

struct rule_pack {
	char *path;
	char *name, *version, *date, *source;
	struct domain_set **sets;
	size_t nsets;
	struct rule *rules;
	size_t nrules;
};

/* Packs in load order; the first matching rule across them decides. */
struct ruleset {
	struct rule_pack **packs;
	size_t npacks;
};

/* Why a flow got its verdict. */
enum verdict_reason {
	REASON_CLASSIFIED,   /* a dissector recognized the flow */
	REASON_UNRECOGNIZED, /* every dissector said not mine */
	REASON_BUDGET,	     /* the flow's packet budget ran out first */
	REASON_FLOW_END,     /* idle past its state's timeout, or its ports were
	                      * reused by a new SYN, while undecided */
	REASON_EVICTED,	     /* the flow table needed the slot */
	REASON_CAPTURE_END,  /* the capture ended with the flow undecided */
	REASON_NO_MEMORY,    /* no memory to inspect it */
	REASON_COUNT
};

struct verdict {
	uint8_t action;		 /* enum rule_action */
	uint8_t reason;		 /* enum verdict_reason */
	const struct rule *rule; /* NULL: no rule matched, the default applied */
};

/* An error in a pack: where, and what. */
struct rules_error {
	char msg[512];
};

#endif
