/* rules-t.h: rule packs, their sets and rules, and the verdict they give. */
#ifndef DPIX_RULES_T_H
#define DPIX_RULES_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dpix_facts;

enum rule_action { ACTION_NONE = 0, ACTION_BYPASS, ACTION_INSPECT, ACTION_DROP, ACTION_COUNT };

/* The connection marks that carry a verdict, unless configured otherwise:
 * dpixd writes them, `dpix rules export` sets them, the site's own
 * inspection skips them. Bits 20-21, clear of the low bits sites use. */
#define DPIX_MARK_MASK 0x00300000u
#define DPIX_MARK_BYPASS 0x00100000u
#define DPIX_MARK_INSPECT 0x00200000u
#define DPIX_MARK_DROP 0x00300000u

/*
 * A set of domain names. Entries are exact names ("example.com"), names
 * strictly below a domain ("*.example.com") or a glob inside the leftmost
 * label ("turn-*.example.com"). Stored in one open-addressing hash table
 * keyed by the name without its wildcard label, so a lookup costs one probe
 * per label of the name looked up, whatever the set's size. A slot holds
 * part of the name's hash and where its entry is; an entry is a record in
 * the set's text chunks with the form written first for it inline. A
 * sealed set's lookups read neither: see cells below.
 */
struct domain_entry {
	uint32_t more; /* 0: no globs, no tags; else 1 + its index in more */
	uint8_t len;   /* the name: lower case, no trailing dot, wildcard */
	uint8_t skip;  /* label removed; it is text + skip, len bytes */
	uint8_t exact; /* the name itself is in the set */
	uint8_t below; /* every name strictly below it is in the set */
	char text[];   /* as written (lower case), NUL-terminated */
};

/* What few entries have: globs, and a rules index's tags. */
struct domain_more {
	char **globs; /* leftmost-label patterns under this name */
	uint32_t nglobs;
	uint32_t ntags;
	struct domain_tag *tags; /* in a rules index: who wrote which form */
};

/* A rules index's note on an entry: form 0 exact, 1 below, 2 + i glob i. */
struct domain_tag {
	uint32_t form;
	uint32_t tag;
};

struct domain_set {
	char *name;
	uint64_t *slots; /* 0: empty; else hash >> 32 << 32 | (chunk + 1) << 16 | offset;
			  * NULL while sealed */
	uint32_t nslots; /* power of two, at most half full */
	uint32_t count;	 /* entries as written in the pack */
	uint32_t used;	 /* entries (distinct names) */
	char **written;	 /* the entries as written, for printing: in chunks */
	char **chunks;	 /* up to 64 KiB each, where the records are */
	uint32_t nchunks, chunkroom;
	uint32_t tail; /* bytes used in the last chunk */
	uint32_t tailcap;
	struct domain_more *more;
	uint32_t nmore, moreroom;
	/* Big sets: a Bloom filter of the names, 8 bits a slot in 64-byte
	 * blocks, small enough to stay in cache; most names looked up are in
	 * no set, and most of their suffixes stop here. NULL: none. */
	uint64_t *filter;
	uint32_t fblocks; /* power of two */
	/* Bit d (63: 63 or more): an entry's name has d labels, for exact
	 * names and for the wildcards' names: a lookup asks only for its
	 * suffixes of those depths. */
	uint64_t exact_depths, wild_depths;
	/*
	 * Sealed (domain_set_seal): the slots are freed and every entry is a
	 * cell in one array, the cells of a bucket (by the hash's low bits)
	 * one after the other: the name inline, so that a probe reads one or
	 * two adjacent cache lines and no record. A cell: length, flags
	 * (exact, below, more), 16 bits of the hash, the more index if any,
	 * the name; 4-byte aligned. NULL: not sealed (an add unseals).
	 */
	uint8_t *cells;
	uint32_t *cell_at; /* bucket b: cells + cell_at[b] to cells + cell_at[b + 1] */
	uint32_t cmask;	   /* buckets - 1 */
};

/* Addresses and CIDRs over one 128-bit space, IPv4 as ::ffff:a.b.c.d. */
struct addr_cidr {
	uint8_t addr[16];
	uint8_t plen; /* over the 128 bits: an IPv4 /24 is 120 */
};

struct addr_range {
	uint8_t lo[16], hi[16];
};

/* A range cut to the IPv4 block, as IPv4 addresses (host order). */
struct addr_range4 {
	uint32_t hi, lo;
};

struct addr_set {
	struct addr_cidr *cidrs; /* as written */
	size_t ncidrs, cap;
	struct addr_range *ranges; /* sorted, merged */
	size_t nranges;
	/*
	 * What lookups search. IPv4 (::ffff:0:0/96) addresses: the ranges cut
	 * to that block, 8 bytes each, and for big sets where to start by the
	 * address's first v4bits bits (v4at[b] the first range ending at or
	 * past bucket b's start; NULL: search them all). Other addresses: the
	 * ranges not inside the IPv4 block, range i as four host-order words
	 * at 4i (hi's most significant first, then lo's), and for big sets
	 * where to start by the bits after base6 (bucket; NULL: all).
	 */
	struct addr_range4 *v4;
	size_t nv4;
	uint32_t *v4at; /* (1 << v4bits) + 1 */
	uint8_t v4bits;
	uint64_t *keys;
	size_t nkeys;
	uint32_t *bucket; /* (1 << bucket_bits) + 1 */
	uint64_t base6[2];
	uint8_t bucket_bits, shift6;
};

struct port_range {
	uint16_t lo, hi;
};

struct port_set {
	struct port_range *written;
	size_t nwritten, cap;
	struct port_range *ranges; /* sorted, merged */
	size_t nranges;
};

/* PCRE2 patterns matched against a whole name, ignoring case. */
struct pattern_set {
	void **code; /* pcre2_code_8 * */
	char **src;
	size_t n, cap;
};

enum set_kind { SET_DOMAINS, SET_PATTERNS, SET_ADDRESSES, SET_PORTS, SET_KIND_COUNT };

/* A named set of a pack; an inline list in a rule is an unnamed one. */
struct rule_set {
	char *name; /* NULL: written inline in a rule */
	uint8_t kind;
	unsigned line;
	const char *file; /* the file it is written in (a pack or an include) */
	char *from;	  /* the list file it was read from, or NULL */
	union {
		struct domain_set *dom;
		struct pattern_set *pat;
		struct addr_set *addr;
		struct port_set *port;
	} u;
};

struct rule_pack;

/* What a rule can look at; COND_* bits say which conditions a rule has. */
#define COND_TRANSPORT 0x0001
#define COND_APP 0x0002
#define COND_SNI 0x0004
#define COND_CONNECT 0x0008
#define COND_NAME 0x0010
#define COND_HTTP_HOST 0x0020
#define COND_CONNECT_PORT 0x0040
#define COND_DST 0x0080
#define COND_SRC 0x0100
#define COND_DPORT 0x0200
#define COND_TUNNEL 0x0400
#define COND_WEBSOCKET 0x0800
#define COND_FRONTING 0x1000
#define COND_PUSH 0x2000
#define COND_JA4 0x4000

struct rule {
	char *id;
	uint8_t action;	   /* enum rule_action */
	uint8_t transport; /* IPPROTO_TCP or IPPROTO_UDP, with COND_TRANSPORT */
	uint8_t push;	   /* bit per enum push_service, with COND_PUSH */
	uint32_t conds;	   /* COND_* */
	uint32_t apps;	   /* bit per enum app_proto */
	uint32_t tunnels;  /* bit per enum tunnel_kind */
	const struct rule_set *sni, *connect, *name, *http_host;
	const struct rule_set *dst, *src, *dport, *connect_port;
	char **ja4;
	size_t nja4;
	uint32_t timeout; /* seconds; 0: none given */
	char *service;	  /* may be NULL */
	char *msg;	  /* may be NULL */
	char *ref;	  /* section of the source document, may be NULL */
	const char *file; /* the file it is written in (a pack or an include) */
	unsigned line;
	const struct rule_pack *pack;
};

struct rule_pack {
	char *path;
	char *name, *version, *date, *source;
	uint8_t default_action; /* ACTION_NONE: none declared */
	struct rule_set **sets; /* named, then inline ones */
	size_t nsets;
	char **files; /* the pack and every file it included or read lists from */
	size_t nfiles;
	struct rule *rules;
	size_t nrules;
};

struct rules_index;

/* Packs in load order; the first matching rule across them decides. */
struct ruleset {
	struct rule_pack **packs;
	size_t npacks;
	uint8_t default_action;	   /* the first declared, else inspect */
	struct rules_index *index; /* ruleset_seal(); NULL: scan every rule */
};

/* What a rule is evaluated on: a flow's endpoints and its facts. */
struct rules_input {
	const struct dpix_facts *facts;
	uint8_t proto;		  /* IPPROTO_TCP or IPPROTO_UDP */
	const uint8_t *src, *dst; /* 16 bytes each, IPv4 as ::ffff:a.b.c.d */
	uint16_t sport, dport;
	uint8_t addr[2][16]; /* storage src and dst may point into */
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

/*
 * A check on every file a pack is read from (the pack, its includes, its
 * list files), run on the bytes just read, before they are parsed: what
 * is parsed is what was checked. 0: go on; -1 with err set: refuse.
 */
struct rules_verifier {
	int (*check)(const char *path, const char *data, size_t len, const void *arg,
		     struct rules_error *err);
	const void *arg;
};

#endif
