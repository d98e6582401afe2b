#ifndef DPIX_RULES_H
#define DPIX_RULES_H

#include <stdbool.h>
#include <stdio.h>

#include "dissect/dissect-t.h"
#include "rules/rules-t.h"

/*
 * Parse the pack at path and append it to rs. On error nothing is added, rs
 * is unchanged and err says what is wrong: file:line:column, the text found
 * and what was expected for errors inside the pack; the file name and the
 * reason for a file that cannot be read, is not text or is too large.
 */
int rules_load(struct ruleset *rs, const char *path, struct rules_error *err);

/* The same, every file the pack is read from checked by verify (NULL:
 * none) on the bytes that are then parsed. */
int rules_load_with(struct ruleset *rs, const char *path, const struct rules_verifier *verify,
		    struct rules_error *err);

/* Load every *.rules file of a directory, in name order (rules_load_with
 * for each, verify as there); if any fails, none is added to rs. */
int rules_load_dir(struct ruleset *rs, const char *dir, struct rules_error *err);

/* The rules directory read when no pack is named: $DPIX_RULES_DIR, else
 * the installed one. */
const char *rules_default_dir(void);
int rules_load_dir_with(struct ruleset *rs, const char *dir, const struct rules_verifier *verify,
			struct rules_error *err);

void ruleset_free(struct ruleset *rs);

/* Includes nest at most this deep. */
#define RULES_INCLUDE_DEPTH 8

/* First matching rule across packs in load order; no match: the ruleset's
 * default (the first pack's 'default' that was declared), else inspect. */
void rules_eval(const struct ruleset *rs, const struct rules_input *in, struct verdict *v);

/* Does rule r match? (rules_eval without the index, for tools and tests.) */
bool rule_matches(const struct rule *r, const struct rules_input *in);

/* The COND_* bits of r's conditions that do not hold for in: 0 when r
 * matches (rule_matches gives the same answer, stopping early). */
uint32_t rule_mismatch(const struct rule *r, const struct rules_input *in);

/* A condition bit's keyword as the language spells it ("http-host");
 * "invalid" for anything but one COND_* bit. */
const char *cond_name(uint32_t bit);

/*
 * Index the loaded packs (rules_index.c) so that rules_eval asks only the
 * rules a flow's names and server address can match; loading another pack
 * drops the index until the next seal. -1: out of memory (rules_eval then
 * scans every rule, with the same result).
 */
int ruleset_seal(struct ruleset *rs);
struct rules_index *rules_index_build(const struct ruleset *rs);
void rules_index_free(struct rules_index *ix);
const struct rule *rules_index_eval(const struct rules_index *ix, const struct rules_input *in);

/*
 * Containment (rules_cover.c), for `dpix rules check`: true only when it
 * is certain that every flow b matches, a matches too (every name, address
 * or port b's set accepts, a's accepts; sets sealed).
 */
bool rule_covers(const struct rule *a, const struct rule *b);
bool domain_set_covers(const struct domain_set *a, const struct domain_set *b);
bool addr_set_covers(const struct addr_set *a, const struct addr_set *b);
bool port_set_covers(const struct port_set *a, const struct port_set *b);

const char *rule_action_name(enum rule_action a);

/* Entries of a set as written (domains, patterns, addresses or ports). */
size_t rule_set_size(const struct rule_set *s);

/* The words of the language for enum tunnel_kind and enum push_service
 * (NULL: none), shared by the parser and the printer. */
#define RULES_PUSH_WORDS 3
extern const char *const rules_tunnel_words[TUNNEL_COUNT];
extern const char *const rules_push_words[RULES_PUSH_WORDS];
const char *verdict_reason_name(enum verdict_reason r);

/* Domain sets (rules_domain.c). */
struct domain_set *domain_set_new(const char *name);
void domain_set_free(struct domain_set *s);
/* Add a pattern; returns 0, or -1 with the column (0-based) of the offending
 * character in *col and a reason in *why. */
int domain_set_add(struct domain_set *s, const char *pattern, size_t *col, const char **why);
/* Lay the set out for lookups (after the last add; an add after it
 * undoes it). Lookups give the same answers sealed or not. 0 or -1. */
int domain_set_seal(struct domain_set *s);
/* Is the name (any case, trailing dot allowed) in the set? */
bool domain_set_match(const struct domain_set *s, const char *name, size_t len);

/* A rules index's domain table: patterns added with a tag, and every tag
 * of every pattern a name falls under (each once per pattern). */
#define DOMAIN_NO_TAG UINT32_MAX
int domain_set_add_tag(struct domain_set *s, const char *pattern, uint32_t tag, size_t *col,
		       const char **why);
void domain_set_tags(const struct domain_set *s, const char *name, size_t len,
		     void (*cb)(uint32_t tag, void *arg), void *arg);

/* Address, port and pattern sets (rules_sets.c). A set is filled with
 * *_add, then sealed once (sorted, merged) before any *_match. */
struct addr_set *addr_set_new(void);
void addr_set_free(struct addr_set *s);
/* "192.0.2.0/24", "2001:db8::/32", an address: 16 bytes (IPv4 mapped),
 * the prefix length over them, family 4 or 6; -1 with a reason. */
int addr_parse(const char *text, uint8_t addr[16], uint8_t *plen, uint8_t *family,
	       const char **why);
int addr_set_add(struct addr_set *s, const uint8_t addr[16], uint8_t plen);
int addr_set_seal(struct addr_set *s);
bool addr_set_match(const struct addr_set *s, const uint8_t addr[16]);

struct port_set *port_set_new(void);
void port_set_free(struct port_set *s);
/* "443" or "5228-5230"; -1 with a reason. */
int port_parse(const char *text, uint16_t *lo, uint16_t *hi, const char **why);
int port_set_add(struct port_set *s, uint16_t lo, uint16_t hi);
int port_set_seal(struct port_set *s);
bool port_set_match(const struct port_set *s, uint16_t port);

struct pattern_set *pattern_set_new(void);
void pattern_set_free(struct pattern_set *s);
/* Compile one pattern; -1 with the error and its offset in the pattern. */
int pattern_set_add(struct pattern_set *s, const char *re, size_t len, size_t *col, char *why,
		    size_t whylen);
/* Does a pattern match the whole name (ignoring case and a trailing dot)? */
bool pattern_set_match(const struct pattern_set *s, const char *name, size_t len);

/*
 * Canonical text of a pack (rules_print.c): what rules_load read, written
 * so that it parses again to the same verdicts and prints the same. Sets
 * read 'from' a list and included files come out inline. 0, or -1 on an
 * output or memory error.
 */
int rules_print_pack(FILE *out, const struct rule_pack *pk);
int rules_print_header(FILE *out, const struct rule_pack *pk);
int rules_print_set(FILE *out, const struct rule_set *s);
/* One line, "rule ID ACTION ..." and a newline. */
int rules_print_rule(FILE *out, const struct rule *r);
/* The same line without the newline, malloc'd; NULL: out of memory. */
char *rules_rule_text(const struct rule *r);
/* "TEXT" with \ before '"' and '\', as the parser reads it back. */
int rules_print_string(FILE *out, const char *s);
/* A set's entries in canonical text, sorted (names by text, addresses and
 * ports by value), each once: n strings, freed with rules_entries_free. */
char **rules_set_entries(const struct rule_set *s, size_t *n);
void rules_entries_free(char **v, size_t n);
/* "192.0.2.0/24", "2001:db8::1": IPv4 shown as IPv4, full lengths left out. */
void rules_addr_text(const uint8_t addr[16], uint8_t plen, char *buf, size_t n);
/* "443" or "5228-5230". */
void rules_port_text(uint16_t lo, uint16_t hi, char *buf, size_t n);
const char *rules_kind_name(unsigned kind);

#endif
