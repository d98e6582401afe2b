/*
 * rules_pack.c: reading a rule pack (the language is in doc/dpix.rules.5).
 *
 *   # comment
 *   pack NAME                       first statement
 *   version TEXT | date TEXT | source TEXT | default ACTION
 *   include "FILE"                  its sets and rules, here
 *   KIND SET = ENTRY...  |  KIND SET { ENTRY... }  |  KIND SET from "FILE"
 *                                   KIND: domains patterns addresses ports
 *   rule ID ACTION ITEM...          or  rule ID ACTION { ITEM... }
 *                                   ITEM: a condition, service, msg, ref, timeout
 *
 * TEXT is a word or a "quoted string" (\" and \\ escape). A statement ends
 * at the end of its line, except inside { }. Every error names
 * file:line:column, the text found and what was expected; a pack with an
 * error, in any file it includes or list it reads, is discarded whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dissect/dissect.h"
#include "rules/rules.h"
#include "util/vec.h"

#define PACK_MAX_BYTES (64u << 20)

enum tok_type { T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_EQUALS, T_NEWLINE, T_END, T_BAD };

struct token {
	enum tok_type type;
	const char *text; /* T_WORD: into the file; T_STRING: lexer's buffer */
	size_t len;
	unsigned line, col;
	bool quoted; /* written between double quotes */
};

struct parser {
	const char *path;
	const char *p, *end;
	unsigned line;
	const char *line_start;
	char *strbuf;	  /* unescaped string, at most the file's size */
	struct token tok; /* current token */
	struct rules_error *err;
	struct rule_pack *pack;
	char *text;			     /* the file's bytes */
	const struct rules_verifier *verify; /* NULL: files are taken as read */
	struct pack_names *names;	     /* the pack's, shared with includes */
};

/*
 * Names to their place, so that a pack of 100,000 rules loads in time
 * proportional to its size: set names to their index in pack->sets, rule
 * ids to theirs in pack->rules. Keys point into those objects.
 */
struct name_slot {
	const char *key;
	size_t len;
	uint32_t val;
};

struct name_map {
	struct name_slot *slots;
	uint32_t nslots, used; /* nslots a power of two, at most half used */
};

struct pack_names {
	struct name_map sets, rules;
	size_t sets_cap, rules_cap; /* room in pack->sets and pack->rules */
};

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

static struct name_slot *name_find(const struct name_map *m, const char *key, size_t len)
{
	uint32_t mask = m->nslots - 1;

	if (!m->nslots)
		return NULL;
	for (uint32_t i = (uint32_t)name_hash(key, len) & mask;; i = (i + 1) & mask) {
		struct name_slot *s = &m->slots[i];

		if (!s->key || (s->len == len && !memcmp(s->key, key, len)))
			return s;
	}
}

/* Add key (not there yet): 0, or -1 out of memory. */
static int name_add(struct name_map *m, const char *key, uint32_t val)
{
	struct name_slot *s;

	if ((m->used + 1) * 2 > m->nslots) {
		uint32_t n = m->nslots ? m->nslots * 2 : 64;
		struct name_map big = { calloc(n, sizeof(*big.slots)), n, m->used };

		if (!big.slots)
			return -1;
		for (uint32_t i = 0; i < m->nslots; i++)
			if (m->slots[i].key)
				*name_find(&big, m->slots[i].key, m->slots[i].len) = m->slots[i];
		free(m->slots);
		*m = big;
	}
	s = name_find(m, key, strlen(key));
	s->key = key;
	s->len = strlen(key);
	s->val = val;
	m->used++;
	return 0;
}

/* The value of key, or -1. */
static int64_t name_get(const struct name_map *m, const char *key, size_t len)
{
	const struct name_slot *s = name_find(m, key, len);

	return s && s->key ? (int64_t)s->val : -1;
}

static int fail(struct parser *ps, const struct token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, const struct token *t, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(ps->err->msg, sizeof(ps->err->msg), "%s:%u:%u: %s", ps->path, t->line, t->col,
		 what);
	return -1;
}

/* A token's text for messages, shortened. */
static const char *show(const struct token *t, char *buf, size_t n)
{
	switch (t->type) {
	case T_NEWLINE:
		return "end of line";
	case T_END:
		return "end of file";
	default:
		snprintf(buf, n, "'%.*s'", t->len > 60 ? 60 : (int)t->len, t->text);
		return buf;
	}
}

static int next(struct parser *ps)
{
	struct token *t = &ps->tok;

	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r'))
		ps->p++;
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
	t->line = ps->line;
	t->col = (unsigned)(ps->p - ps->line_start) + 1;
	t->quoted = false;
	t->text = ps->p;
	t->len = 1;
	if (ps->p >= ps->end) {
		t->type = T_END;
		t->len = 0;
		return 0;
	}
	switch (*ps->p) {
	case '\n':
		t->type = T_NEWLINE;
		ps->p++;
		ps->line++;
		ps->line_start = ps->p;
		return 0;
	case '{':
		t->type = T_LBRACE;
		ps->p++;
		return 0;
	case '}':
		t->type = T_RBRACE;
		ps->p++;
		return 0;
	case '=':
		t->type = T_EQUALS;
		ps->p++;
		return 0;
	case '"': {
		size_t n = 0;

		ps->p++;
		while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\n') {
			if (*ps->p == '\\' && ps->p + 1 < ps->end &&
			    (ps->p[1] == '"' || ps->p[1] == '\\'))
				ps->p++;
			ps->strbuf[n++] = *ps->p++;
		}
		if (ps->p >= ps->end || *ps->p != '"') {
			t->type = T_BAD;
			return fail(
			    ps, t, "unterminated string: expected a closing '\"' on the same line");
		}
		ps->p++;
		ps->strbuf[n] = '\0';
		t->type = T_STRING;
		t->quoted = true;
		t->text = ps->strbuf;
		t->len = n;
		return 0;
	}
	default:
		break;
	}
	t->type = T_WORD;
	while (ps->p < ps->end && !strchr(" \t\r\n#{}=\"", *ps->p)) {
		if ((unsigned char)*ps->p < 0x20) {
			struct token bad = *t;

			bad.col += (unsigned)(ps->p - t->text);
			return fail(ps, &bad, "control character 0x%02x in the pack",
				    (unsigned char)*ps->p);
		}
		ps->p++;
	}
	t->len = (size_t)(ps->p - t->text);
	return 0;
}

static bool is_word(const struct token *t, const char *w)
{
	return t->type == T_WORD && t->len == strlen(w) && !memcmp(t->text, w, t->len);
}

static char *tok_dup(const struct token *t)
{
	return strndup(t->text, t->len);
}

/* An identifier: letters, digits, '-', '_', '.'; starts with a letter. */
static bool is_ident(const struct token *t)
{
	if (t->type != T_WORD || t->len == 0 || t->len > 128)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		char c = t->text[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

		if (!alpha &&
		    !(i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')))
			return false;
	}
	return true;
}

static int expect_ident(struct parser *ps, const char *what, char **out)
{
	char b[80];

	if (next(ps) < 0)
		return -1;
	if (!is_ident(&ps->tok))
		return fail(
		    ps, &ps->tok,
		    "found %s, expected %s (a letter, then letters, digits, '-', '_' or '.')",
		    show(&ps->tok, b, sizeof(b)), what);
	*out = tok_dup(&ps->tok);
	return *out ? 0 : fail(ps, &ps->tok, "out of memory");
}

static int expect_text(struct parser *ps, const char *what, char **out)
{
	char b[80];

	if (next(ps) < 0)
		return -1;
	if (ps->tok.type != T_WORD && ps->tok.type != T_STRING)
		return fail(ps, &ps->tok, "found %s, expected %s", show(&ps->tok, b, sizeof(b)),
			    what);
	free(*out);
	*out = tok_dup(&ps->tok);
	return *out ? 0 : fail(ps, &ps->tok, "out of memory");
}

static int expect_eol(struct parser *ps)
{
	char b[80];

	if (next(ps) < 0)
		return -1;
	if (ps->tok.type != T_NEWLINE && ps->tok.type != T_END)
		return fail(ps, &ps->tok, "found %s, expected the end of the line",
			    show(&ps->tok, b, sizeof(b)));
	return 0;
}

static const char *const kind_words[SET_KIND_COUNT] = { "domains", "patterns", "addresses",
							"ports" };
static const char *const kind_nouns[SET_KIND_COUNT] = { "domain names", "patterns", "addresses",
							"ports" };

static struct rule_set *find_set(const struct parser *ps, const char *name, size_t n)
{
	int64_t i = name_get(&ps->names->sets, name, n);

	return i < 0 ? NULL : ps->pack->sets[i];
}

static void set_free(struct rule_set *s)
{
	if (!s)
		return;
	switch (s->kind) {
	case SET_DOMAINS:
		domain_set_free(s->u.dom);
		break;
	case SET_PATTERNS:
		pattern_set_free(s->u.pat);
		break;
	case SET_ADDRESSES:
		addr_set_free(s->u.addr);
		break;
	case SET_PORTS:
		port_set_free(s->u.port);
		break;
	}
	free(s->name);
	free(s->from);
	free(s);
}

/* A new set of the pack (name NULL: an inline list of a rule). */
static struct rule_set *set_new(struct parser *ps, enum set_kind kind, char *name)
{
	struct rule_pack *pk = ps->pack;
	struct rule_set *s = calloc(1, sizeof(*s)), **v;

	if (!s) {
		free(name);
		return NULL;
	}
	s->name = name;
	s->kind = (uint8_t)kind;
	s->line = ps->tok.line;
	s->file = pk->nfiles ? pk->files[pk->nfiles - 1] : NULL;
	for (size_t f = 0; f < pk->nfiles; f++)
		if (!strcmp(pk->files[f], ps->path))
			s->file = pk->files[f];
	switch (kind) {
	case SET_DOMAINS:
		s->u.dom = domain_set_new(name ? name : "");
		break;
	case SET_PATTERNS:
		s->u.pat = pattern_set_new();
		break;
	case SET_ADDRESSES:
		s->u.addr = addr_set_new();
		break;
	default:
		s->u.port = port_set_new();
		break;
	}
	v = s->u.dom ? vec_room(pk->sets, &ps->names->sets_cap, pk->nsets, sizeof(*v)) : NULL;
	if (!v || (name && name_add(&ps->names->sets, name, (uint32_t)pk->nsets) < 0)) {
		if (v)
			pk->sets = v;
		set_free(s);
		return NULL;
	}
	pk->sets = v;
	pk->sets[pk->nsets++] = s;
	return s;
}

/* One entry of a set, from the token at (a word; a pattern may be quoted). */
static int add_entry(struct parser *ps, struct rule_set *s, const struct token *t)
{
	struct token at = *t;
	char text[300], why[200];
	const char *w = NULL;
	size_t col = 0;
	int rc = 0;

	static const char *const one[SET_KIND_COUNT] = { "a domain name",
							 "a pattern in double quotes", "an address",
							 "a port" };

	/* Patterns are quoted: '#', '{' and '=' are common in them. */
	if (t->type != (s->kind == SET_PATTERNS ? T_STRING : T_WORD))
		return fail(ps, t, "expected %s", one[s->kind]);
	if (s->kind == SET_PATTERNS) {
		if (pattern_set_add(s->u.pat, t->text, t->len, &col, why, sizeof(why)) < 0) {
			at.col += (unsigned)col + t->quoted;
			return fail(ps, &at, "bad pattern: %s", why);
		}
		return 0;
	}
	if (t->len >= sizeof(text))
		return fail(ps, t, "bad %s '%.60s...': %s",
			    s->kind == SET_DOMAINS ? "domain" : "entry", t->text,
			    s->kind == SET_DOMAINS ? "name longer than 253 characters"
						   : "too long");
	memcpy(text, t->text, t->len);
	text[t->len] = '\0';
	switch (s->kind) {
	case SET_DOMAINS:
		if (domain_set_add(s->u.dom, text, &col, &w) < 0) {
			at.col += (unsigned)col;
			return fail(ps, &at, "bad domain '%s': %s", text, w);
		}
		break;
	case SET_ADDRESSES: {
		uint8_t addr[16], plen, family;

		if (addr_parse(text, addr, &plen, &family, &w) < 0)
			return fail(ps, &at, "bad address '%s': %s", text, w);
		rc = addr_set_add(s->u.addr, addr, plen);
		break;
	}
	default: {
		uint16_t lo, hi;

		if (port_parse(text, &lo, &hi, &w) < 0)
			return fail(ps, &at, "bad port '%s': %s", text, w);
		rc = port_set_add(s->u.port, lo, hi);
		break;
	}
	}
	return rc < 0 ? fail(ps, &at, "out of memory") : 0;
}

static int seal(struct parser *ps, struct rule_set *s)
{
	int rc = 0;

	if (s->kind == SET_DOMAINS)
		rc = domain_set_seal(s->u.dom);
	else if (s->kind == SET_ADDRESSES)
		rc = addr_set_seal(s->u.addr);
	else if (s->kind == SET_PORTS)
		rc = port_set_seal(s->u.port);
	return rc < 0 ? fail(ps, &ps->tok, "out of memory") : 0;
}

/* The directory part of path, with its slash ("" for a bare name). */
static size_t dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path) + 1 : 0;
}

/* A path written in a pack, relative to that file's directory. */
static char *relative_path(const struct parser *ps, const struct token *t)
{
	size_t d = t->len && t->text[0] == '/' ? 0 : dir_len(ps->path);
	char *p = malloc(d + t->len + 1);

	if (p) {
		memcpy(p, ps->path, d);
		memcpy(p + d, t->text, t->len);
		p[d + t->len] = '\0';
	}
	return p;
}

static int add_file(struct parser *ps, const char *path)
{
	struct rule_pack *pk = ps->pack;
	char **v = realloc(pk->files, (pk->nfiles + 1) * sizeof(*v));

	if (!v || !(v[pk->nfiles] = strdup(path))) {
		if (v)
			pk->files = v;
		return fail(ps, &ps->tok, "out of memory");
	}
	pk->files = v;
	pk->nfiles++;
	return 0;
}

static char *read_checked(const struct parser *ps, const char *path, size_t *len,
			  struct rules_error *err);

/*
 * A list file: one entry per line, '#' starts a comment, blanks around an
 * entry and blank lines ignored. Errors name the list file's line and
 * column.
 */
static int read_list(struct parser *ps, struct rule_set *s, const struct token *at)
{
	struct parser lp = { .line = 1,
			     .err = ps->err,
			     .pack = ps->pack,
			     .verify = ps->verify,
			     .names = ps->names };
	char *path = relative_path(ps, at), *text;
	size_t len;
	int rc = -1;

	if (!path)
		return fail(ps, at, "out of memory");
	text = read_checked(ps, path, &len, ps->err);
	if (!text) {
		char why[sizeof(ps->err->msg)];

		snprintf(why, sizeof(why), "%s", ps->err->msg);
		free(path);
		return fail(ps, at, "cannot read the list: %.300s", why);
	}
	lp.path = path;
	lp.line_start = text;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *q, *e;
		/* A line is one entry: a pattern's, unquoted. */
		struct token t = { .type = s->kind == SET_PATTERNS ? T_STRING : T_WORD,
				   .line = lp.line };

		if (!eol)
			eol = end;
		q = memchr(p, '#', (size_t)(eol - p));
		e = q ? q : eol;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (e > p) {
			t.text = p;
			t.len = (size_t)(e - p);
			t.col = (unsigned)(p - lp.line_start) + 1;
			for (const char *c = p; c < e; c++)
				if ((unsigned char)*c < 0x20 || *c == ' ' || *c == '\t') {
					t.col += (unsigned)(c - p);
					fail(&lp, &t, "one entry per line: found %s",
					     *c == ' ' || *c == '\t' ? "a blank inside the entry"
								     : "a control character");
					goto out;
				}
			if (add_entry(&lp, s, &t) < 0)
				goto out;
		}
		p = eol + 1;
		lp.line++;
		lp.line_start = p;
	}
	if (rule_set_size(s) == 0) {
		snprintf(ps->err->msg, sizeof(ps->err->msg), "%s: the list is empty: set '%s'",
			 path, s->name);
		goto out;
	}
	rc = add_file(ps, path);
out:
	free(text);
	free(path);
	return rc;
}

/* domains|patterns|addresses|ports NAME (= ENTRY... | { ENTRY... } | from "FILE") */
static int parse_set(struct parser *ps, enum set_kind kind)
{
	const char *kw = kind_nouns[kind];
	struct rule_set *s;
	struct token at;
	char *name = NULL, b[80];
	bool block;

	if (expect_ident(ps, "a set name", &name) < 0)
		return -1;
	at = ps->tok;
	if (find_set(ps, name, strlen(name))) {
		free(name);
		return fail(ps, &at, "set '%.*s' is already defined in this pack", (int)at.len,
			    at.text);
	}
	if (!(s = set_new(ps, kind, name)))
		return fail(ps, &at, "out of memory");
	if (next(ps) < 0)
		return -1;
	if (is_word(&ps->tok, "from")) {
		if (next(ps) < 0)
			return -1;
		if (ps->tok.type != T_STRING && ps->tok.type != T_WORD)
			return fail(ps, &ps->tok, "found %s, expected the list file's path",
				    show(&ps->tok, b, sizeof(b)));
		at = ps->tok;
		if (!(s->from = tok_dup(&at)))
			return fail(ps, &at, "out of memory");
		if (read_list(ps, s, &at) < 0 || seal(ps, s) < 0)
			return -1;
		return expect_eol(ps);
	}
	if (ps->tok.type != T_EQUALS && ps->tok.type != T_LBRACE)
		return fail(ps, &ps->tok,
			    "found %s, expected '=', '{' or 'from' after the set name",
			    show(&ps->tok, b, sizeof(b)));
	block = ps->tok.type == T_LBRACE;
	for (;;) {
		if (next(ps) < 0)
			return -1;
		if (ps->tok.type == T_NEWLINE && block)
			continue;
		if ((ps->tok.type == T_NEWLINE || ps->tok.type == T_END) && !block)
			break;
		if (ps->tok.type == T_RBRACE && block) {
			if (rule_set_size(s) == 0)
				return fail(ps, &ps->tok,
					    "set '%s' is empty: expected %s before '}'", s->name,
					    kw);
			if (seal(ps, s) < 0)
				return -1;
			return expect_eol(ps);
		}
		if (ps->tok.type == T_END)
			return fail(ps, &ps->tok,
				    "found end of file, expected '}' to close set '%s'", s->name);
		if (add_entry(ps, s, &ps->tok) < 0)
			return -1;
	}
	if (rule_set_size(s) == 0)
		return fail(ps, &ps->tok, "set '%s' is empty: expected %s after '='", s->name, kw);
	return seal(ps, s);
}

static const struct {
	const char *word;
	enum rule_action action;
} actions[] = { { "bypass", ACTION_BYPASS },
		{ "inspect", ACTION_INSPECT },
		{ "drop", ACTION_DROP } };

static int parse_action(struct parser *ps, uint8_t *out)
{
	char b[80];

	if (next(ps) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (is_word(&ps->tok, actions[i].word)) {
			*out = (uint8_t)actions[i].action;
			return 0;
		}
	return fail(ps, &ps->tok, "found %s, expected an action: bypass, inspect or drop",
		    show(&ps->tok, b, sizeof(b)));
}

/* The conditions a rule can have, with the set kinds each accepts. */
enum cond_arg { ARG_SET, ARG_PORTS, ARG_LIST, ARG_WORD, ARG_NONE };

static const struct cond_kw {
	const char *word;
	uint32_t cond;
	enum cond_arg arg;
	uint32_t kinds; /* bit per set_kind, for 'in SET' */
	size_t off;	/* where the set goes in struct rule */
} cond_kws[] = {
	{ "sni", COND_SNI, ARG_SET, 1u << SET_DOMAINS | 1u << SET_PATTERNS,
	  offsetof(struct rule, sni) },
	{ "connect", COND_CONNECT, ARG_SET,
	  1u << SET_DOMAINS | 1u << SET_PATTERNS | 1u << SET_ADDRESSES,
	  offsetof(struct rule, connect) },
	{ "name", COND_NAME, ARG_SET, 1u << SET_DOMAINS | 1u << SET_PATTERNS,
	  offsetof(struct rule, name) },
	{ "http-host", COND_HTTP_HOST, ARG_SET, 1u << SET_DOMAINS | 1u << SET_PATTERNS,
	  offsetof(struct rule, http_host) },
	{ "dst", COND_DST, ARG_SET, 1u << SET_ADDRESSES, offsetof(struct rule, dst) },
	{ "src", COND_SRC, ARG_SET, 1u << SET_ADDRESSES, offsetof(struct rule, src) },
	{ "dport", COND_DPORT, ARG_PORTS, 1u << SET_PORTS, offsetof(struct rule, dport) },
	{ "connect-port", COND_CONNECT_PORT, ARG_PORTS, 1u << SET_PORTS,
	  offsetof(struct rule, connect_port) },
	{ "transport", COND_TRANSPORT, ARG_WORD, 0, 0 },
	{ "app", COND_APP, ARG_LIST, 0, 0 },
	{ "tunnel", COND_TUNNEL, ARG_LIST, 0, 0 },
	{ "push", COND_PUSH, ARG_LIST, 0, 0 },
	{ "ja4", COND_JA4, ARG_LIST, 0, 0 },
	{ "websocket", COND_WEBSOCKET, ARG_NONE, 0, 0 },
	{ "fronting", COND_FRONTING, ARG_NONE, 0, 0 },
};

/* The bit of a word among names[0..n), or -1. */
static int word_index(const char *w, size_t len, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strlen(names[i]) == len && !memcmp(names[i], w, len))
			return (int)i;
	return -1;
}

/* A comma-separated list (one word): each item through add(). */
static int each_item(struct parser *ps, const char *what,
		     int (*add)(struct parser *, void *, const struct token *), void *ctx)
{
	struct token t = ps->tok, item = t;
	char b[80];

	if (t.type != T_WORD)
		return fail(ps, &t, "found %s, expected %s", show(&t, b, sizeof(b)), what);
	for (size_t i = 0, start = 0; i <= t.len; i++) {
		if (i < t.len && t.text[i] != ',')
			continue;
		item.text = t.text + start;
		item.len = i - start;
		item.col = t.col + (unsigned)start;
		if (item.len == 0)
			return fail(ps, &item, "empty item in the list: expected %s", what);
		if (add(ps, ctx, &item) < 0)
			return -1;
		start = i + 1;
	}
	return 0;
}

static int add_app(struct parser *ps, void *ctx, const struct token *t)
{
	struct rule *r = ctx;

	for (unsigned a = 0; a < APP_COUNT; a++) {
		const char *n = app_proto_name((enum app_proto)a);

		if (strlen(n) == t->len && !memcmp(n, t->text, t->len)) {
			r->apps |= 1u << a;
			return 0;
		}
	}
	return fail(ps, t,
		    "unknown app '%.*s': expected connect, tls, http, websocket, stun, "
		    "dtls or unknown",
		    (int)t->len, t->text);
}

static int add_tunnel(struct parser *ps, void *ctx, const struct token *t)
{
	struct rule *r = ctx;

	int i = word_index(t->text, t->len, rules_tunnel_words, TUNNEL_COUNT);

	if (i < 0)
		return fail(ps, t,
			    "unknown tunnel '%.*s': expected tls, turn, http, websocket, unknown "
			    "or none",
			    (int)t->len, t->text);
	r->tunnels |= 1u << i;
	return 0;
}

static int add_push(struct parser *ps, void *ctx, const struct token *t)
{
	struct rule *r = ctx;

	int i = word_index(t->text, t->len, rules_push_words, RULES_PUSH_WORDS);

	if (i < 0)
		return fail(ps, t, "unknown push service '%.*s': expected apns or fcm", (int)t->len,
			    t->text);
	r->push |= (uint8_t)(1u << i);
	return 0;
}

static int add_ja4(struct parser *ps, void *ctx, const struct token *t)
{
	struct rule *r = ctx;

	char **v;

	if (t->len > JA4_MAX)
		return fail(ps, t, "a JA4 fingerprint is at most %d characters", JA4_MAX);
	v = realloc(r->ja4, (r->nja4 + 1) * sizeof(*v));
	if (!v)
		return fail(ps, t, "out of memory");
	r->ja4 = v;
	if (!(r->ja4[r->nja4] = tok_dup(t)))
		return fail(ps, t, "out of memory");
	r->nja4++;
	return 0;
}

static int add_port_item(struct parser *ps, void *set, const struct token *t)
{
	return add_entry(ps, set, t);
}

/* 'in SET' or, for ports, an inline list: the set into *slot. */
static int cond_set(struct parser *ps, const struct cond_kw *k, struct rule *r)
{
	const struct rule_set **slot = (const struct rule_set **)((char *)r + k->off);
	struct rule_set *s;
	char b[80];

	if (next(ps) < 0)
		return -1;
	if (k->arg == ARG_PORTS && !is_word(&ps->tok, "in")) {
		struct token at = ps->tok;

		if (!(s = set_new(ps, SET_PORTS, NULL)))
			return fail(ps, &at, "out of memory");
		if (each_item(ps, "ports (443, 5228-5230) or 'in SET'", add_port_item, s) < 0 ||
		    seal(ps, s) < 0)
			return -1;
		*slot = s;
		return 0;
	}
	if (!is_word(&ps->tok, "in"))
		return fail(ps, &ps->tok, "found %s, expected 'in' after '%s'",
			    show(&ps->tok, b, sizeof(b)), k->word);
	if (next(ps) < 0)
		return -1;
	if (ps->tok.type != T_WORD || !(s = find_set(ps, ps->tok.text, ps->tok.len)))
		return fail(ps, &ps->tok, "found %s, expected the name of a set defined above",
			    show(&ps->tok, b, sizeof(b)));
	if (!(k->kinds & (1u << s->kind))) {
		char want[64] = "";

		for (unsigned i = 0; i < SET_KIND_COUNT; i++)
			if (k->kinds & (1u << i))
				snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
					 want[0] ? " or " : "", kind_words[i]);
		return fail(ps, &ps->tok, "set '%s' holds %s, but '%s' needs %s", s->name,
			    kind_words[s->kind], k->word, want);
	}
	*slot = s;
	return 0;
}

static int parse_duration(struct parser *ps, uint32_t *out)
{
	const struct token *t = &ps->tok;
	unsigned long v = 0, mult;
	size_t i = 0;
	char b[80];

	if (t->type == T_WORD)
		for (; i < t->len && t->text[i] >= '0' && t->text[i] <= '9' && v <= 604800; i++)
			v = v * 10 + (unsigned long)(t->text[i] - '0');
	if (t->type != T_WORD || i == 0 || i + 1 != t->len)
		return fail(ps, t, "found %s, expected a duration such as 600s, 10m, 2h or 1d",
			    show(t, b, sizeof(b)));
	switch (t->text[i]) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return fail(ps, t, "found %s, expected a duration such as 600s, 10m, 2h or 1d",
			    show(t, b, sizeof(b)));
	}
	if (v == 0 || v * mult > 604800)
		return fail(ps, t, "a timeout is 1s to 7d");
	*out = (uint32_t)(v * mult);
	return 0;
}

/* One condition or option of a rule; the current token is its keyword. */
static int rule_item(struct parser *ps, struct rule *r)
{
	char b[80];
	size_t i;

	if (is_word(&ps->tok, "service"))
		return expect_text(ps, "a service label", &r->service);
	if (is_word(&ps->tok, "msg"))
		return expect_text(ps, "a message", &r->msg);
	if (is_word(&ps->tok, "ref"))
		return expect_text(ps, "a document reference", &r->ref);
	if (is_word(&ps->tok, "timeout"))
		return next(ps) < 0 ? -1 : parse_duration(ps, &r->timeout);
	for (i = 0; i < sizeof(cond_kws) / sizeof(cond_kws[0]); i++)
		if (is_word(&ps->tok, cond_kws[i].word))
			break;
	if (i == sizeof(cond_kws) / sizeof(cond_kws[0]))
		return fail(ps, &ps->tok,
			    "found %s, expected a condition (sni, connect, name, http-host, dst, "
			    "src, dport, connect-port, transport, app, tunnel, websocket, "
			    "fronting, push, ja4) or service, msg, ref, timeout",
			    show(&ps->tok, b, sizeof(b)));
	if (r->conds & cond_kws[i].cond)
		return fail(ps, &ps->tok, "'%s' is already a condition of this rule",
			    cond_kws[i].word);
	r->conds |= cond_kws[i].cond;
	switch (cond_kws[i].arg) {
	case ARG_SET:
	case ARG_PORTS:
		return cond_set(ps, &cond_kws[i], r);
	case ARG_NONE:
		return 0;
	case ARG_WORD:
		if (next(ps) < 0)
			return -1;
		if (is_word(&ps->tok, "tcp"))
			r->transport = 6;
		else if (is_word(&ps->tok, "udp"))
			r->transport = 17;
		else
			return fail(ps, &ps->tok, "found %s, expected tcp or udp",
				    show(&ps->tok, b, sizeof(b)));
		return 0;
	case ARG_LIST:
		if (next(ps) < 0)
			return -1;
		switch (cond_kws[i].cond) {
		case COND_APP:
			return each_item(ps, "app names", add_app, r);
		case COND_TUNNEL:
			return each_item(ps, "tunnel kinds", add_tunnel, r);
		case COND_PUSH:
			return each_item(ps, "apns or fcm", add_push, r);
		default:
			return each_item(ps, "JA4 fingerprints", add_ja4, r);
		}
	}
	return 0;
}

/* rule ID ACTION ITEM... (to the end of the line) | rule ID ACTION { ITEM... } */
static int parse_rule(struct parser *ps)
{
	struct rule_pack *pk = ps->pack;
	struct rule *r, *v;
	bool block = false;
	int64_t k;

	v = vec_room(pk->rules, &ps->names->rules_cap, pk->nrules, sizeof(*v));
	if (!v)
		return fail(ps, &ps->tok, "out of memory");
	pk->rules = v;
	r = &pk->rules[pk->nrules++];
	memset(r, 0, sizeof(*r));
	r->line = ps->tok.line;
	r->file = pk->files[pk->nfiles - 1];
	for (size_t f = 0; f < pk->nfiles; f++)
		if (!strcmp(pk->files[f], ps->path))
			r->file = pk->files[f];
	if (expect_ident(ps, "a rule id", &r->id) < 0)
		return -1;
	k = name_get(&ps->names->rules, r->id, strlen(r->id));
	if (k >= 0)
		return pk->rules[k].file == r->file
			   ? fail(ps, &ps->tok, "rule id '%s' is already used on line %u", r->id,
				  pk->rules[k].line)
			   : fail(ps, &ps->tok, "rule id '%s' is already used at %s:%u", r->id,
				  pk->rules[k].file, pk->rules[k].line);
	if (name_add(&ps->names->rules, r->id, (uint32_t)(pk->nrules - 1)) < 0)
		return fail(ps, &ps->tok, "out of memory");
	if (parse_action(ps, &r->action) < 0)
		return -1;
	for (bool first = true;; first = false) {
		if (next(ps) < 0)
			return -1;
		/* A block opens right after the action, or not at all. */
		if (ps->tok.type == T_LBRACE && first) {
			block = true;
			if (expect_eol(ps) < 0)
				return -1;
			continue;
		}
		if (ps->tok.type == T_NEWLINE && block)
			continue;
		if ((ps->tok.type == T_NEWLINE || ps->tok.type == T_END) && !block)
			return 0;
		if (ps->tok.type == T_RBRACE && block)
			return expect_eol(ps);
		if (ps->tok.type == T_END)
			return fail(ps, &ps->tok,
				    "found end of file, expected '}' to close rule '%s'", r->id);
		if (rule_item(ps, r) < 0)
			return -1;
	}
}

static int parse_file(struct parser *ps, bool included, unsigned depth);

/* The same file, however its path is written (a.rules, ./a.rules, a link). */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return !strcmp(a, b);
}

/* include "PATH": the file's sets and rules become part of this pack here. */
static int parse_include(struct parser *ps, unsigned depth)
{
	struct parser in = { .line = 1,
			     .err = ps->err,
			     .pack = ps->pack,
			     .verify = ps->verify,
			     .names = ps->names };
	struct token at;
	char b[80];
	char *path;
	size_t len;
	int rc = -1;

	if (next(ps) < 0)
		return -1;
	if (ps->tok.type != T_STRING && ps->tok.type != T_WORD)
		return fail(ps, &ps->tok, "found %s, expected the path of the file to include",
			    show(&ps->tok, b, sizeof(b)));
	at = ps->tok;
	if (depth >= RULES_INCLUDE_DEPTH)
		return fail(ps, &at, "includes nested deeper than %d", RULES_INCLUDE_DEPTH);
	if (!(path = relative_path(ps, &at)))
		return fail(ps, &at, "out of memory");
	for (size_t i = 0; i < ps->pack->nfiles; i++)
		if (same_file(ps->pack->files[i], path)) {
			fail(ps, &at,
			     "'%s' is already part of this pack (an include cycle, or "
			     "included twice)",
			     path);
			free(path);
			return -1;
		}
	in.text = read_checked(ps, path, &len, ps->err);
	if (!in.text) {
		char why[sizeof(ps->err->msg)];

		snprintf(why, sizeof(why), "%s", ps->err->msg);
		free(path);
		return fail(ps, &at, "cannot include: %.300s", why);
	}
	if (add_file(ps, path) < 0)
		goto out;
	in.path = ps->pack->files[ps->pack->nfiles - 1];
	in.p = in.line_start = in.text;
	in.end = in.text + len;
	in.strbuf = malloc(len + 1);
	if (!in.strbuf) {
		fail(ps, &at, "out of memory");
		goto out;
	}
	if (memchr(in.text, '\0', len)) {
		snprintf(ps->err->msg, sizeof(ps->err->msg),
			 "%s: contains a NUL byte: not a text file", path);
		goto out;
	}
	if (parse_file(&in, true, depth + 1) < 0)
		goto out;
	rc = expect_eol(ps);
out:
	free(in.strbuf);
	free(in.text);
	free(path);
	return rc;
}

static int parse_header(struct parser *ps, bool included)
{
	struct rule_pack *pk = ps->pack;

	if (included)
		return fail(ps, &ps->tok,
			    "'%.*s' belongs in the pack's own file, not in an included one",
			    (int)ps->tok.len, ps->tok.text);
	if (is_word(&ps->tok, "pack")) {
		if (pk->name)
			return fail(ps, &ps->tok, "a second 'pack' statement: one pack per file");
		return expect_ident(ps, "a pack name", &pk->name) < 0 ? -1 : expect_eol(ps);
	}
	if (is_word(&ps->tok, "version"))
		return expect_text(ps, "a version", &pk->version) < 0 ? -1 : expect_eol(ps);
	if (is_word(&ps->tok, "date"))
		return expect_text(ps, "a date", &pk->date) < 0 ? -1 : expect_eol(ps);
	if (is_word(&ps->tok, "source"))
		return expect_text(ps, "the source document", &pk->source) < 0 ? -1
									       : expect_eol(ps);
	if (pk->default_action)
		return fail(ps, &ps->tok, "a second 'default' statement");
	if (parse_action(ps, &pk->default_action) < 0)
		return -1;
	return expect_eol(ps);
}

static int parse_file(struct parser *ps, bool included, unsigned depth)
{
	static const char *const header[] = { "pack", "version", "date", "source", "default" };
	struct rule_pack *pk = ps->pack;
	char b[80];

	for (;;) {
		bool is_header = false;
		int kind = -1;

		if (next(ps) < 0)
			return -1;
		if (ps->tok.type == T_NEWLINE)
			continue;
		if (ps->tok.type == T_END)
			break;
		for (size_t i = 0; i < sizeof(header) / sizeof(header[0]); i++)
			is_header |= is_word(&ps->tok, header[i]);
		if (!included && !pk->name && !is_word(&ps->tok, "pack"))
			return fail(ps, &ps->tok,
				    "found %s, expected 'pack NAME' as the first statement",
				    show(&ps->tok, b, sizeof(b)));
		for (int k = 0; k < SET_KIND_COUNT; k++)
			if (is_word(&ps->tok, kind_words[k]))
				kind = k;
		if (is_header) {
			if (parse_header(ps, included) < 0)
				return -1;
		} else if (kind >= 0) {
			if (parse_set(ps, (enum set_kind)kind) < 0)
				return -1;
		} else if (is_word(&ps->tok, "rule")) {
			if (parse_rule(ps) < 0)
				return -1;
		} else if (is_word(&ps->tok, "include")) {
			if (parse_include(ps, depth) < 0)
				return -1;
		} else {
			return fail(ps, &ps->tok,
				    "found %s, expected %sdomains, patterns, addresses, ports, "
				    "rule or include",
				    show(&ps->tok, b, sizeof(b)),
				    included ? "" : "pack, version, date, source, default, ");
		}
	}
	if (!included && !pk->name) {
		ps->tok.line = 1, ps->tok.col = 1;
		return fail(ps, &ps->tok,
			    "empty pack: expected 'pack NAME' as the first statement");
	}
	return 0;
}

static void pack_free(struct rule_pack *pk)
{
	if (!pk)
		return;
	for (size_t i = 0; i < pk->nsets; i++)
		set_free(pk->sets[i]);
	for (size_t i = 0; i < pk->nrules; i++) {
		free(pk->rules[i].id);
		free(pk->rules[i].service);
		free(pk->rules[i].msg);
		free(pk->rules[i].ref);
		for (size_t j = 0; j < pk->rules[i].nja4; j++)
			free(pk->rules[i].ja4[j]);
		free(pk->rules[i].ja4);
	}
	for (size_t i = 0; i < pk->nfiles; i++)
		free(pk->files[i]);
	free(pk->files);
	free(pk->sets);
	free(pk->rules);
	free(pk->path);
	free(pk->name);
	free(pk->version);
	free(pk->date);
	free(pk->source);
	free(pk);
}

/*
 * A pack, include or list file, whole. Only a regular file: a FIFO or a
 * device named by a pack (an include of /dev/stdin, of a pipe nobody
 * writes) would block the reader, dpixd's reload with it, forever. Opened
 * without blocking so that a FIFO cannot hold up the open itself.
 */
static char *read_file(const char *path, size_t *len, struct rules_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	FILE *f = NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    !(f = fdopen(fd, "rb"))) {
		snprintf(err->msg, sizeof(err->msg), "%s: cannot open: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	do {
		if (n == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > PACK_MAX_BYTES + 1)
				cap = PACK_MAX_BYTES + 1;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > PACK_MAX_BYTES) {
			snprintf(err->msg, sizeof(err->msg), "%s: larger than %u MiB", path,
				 PACK_MAX_BYTES >> 20);
			goto fail;
		}
	} while (got > 0);
	if (ferror(f)) {
		snprintf(err->msg, sizeof(err->msg), "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

/* A file of the pack, read once and checked by the verifier, if any. */
static char *read_checked(const struct parser *ps, const char *path, size_t *len,
			  struct rules_error *err)
{
	char *text = read_file(path, len, err);

	if (text && ps->verify && ps->verify->check(path, text, *len, ps->verify->arg, err) < 0) {
		free(text);
		return NULL;
	}
	return text;
}

int rules_load(struct ruleset *rs, const char *path, struct rules_error *err)
{
	return rules_load_with(rs, path, NULL, err);
}

int rules_load_with(struct ruleset *rs, const char *path, const struct rules_verifier *verify,
		    struct rules_error *err)
{
	struct pack_names names = { 0 };
	struct parser ps = {
		.path = path, .line = 1, .err = err, .verify = verify, .names = &names
	};
	struct rule_pack **v;
	size_t len;
	int rc = -1;

	ps.text = read_checked(&ps, path, &len, err);
	if (!ps.text)
		return -1;
	if (memchr(ps.text, '\0', len)) {
		snprintf(err->msg, sizeof(err->msg), "%s: contains a NUL byte: not a text file",
			 path);
		free(ps.text);
		return -1;
	}
	ps.p = ps.line_start = ps.text;
	ps.end = ps.text + len;
	ps.strbuf = malloc(len + 1);
	ps.pack = calloc(1, sizeof(*ps.pack));
	if (!ps.strbuf || !ps.pack || !(ps.pack->path = strdup(path)) ||
	    !(ps.pack->files = malloc(sizeof(char *))) || !(ps.pack->files[0] = strdup(path))) {
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
		goto out;
	}
	ps.pack->nfiles = 1;
	if (parse_file(&ps, false, 0) < 0)
		goto out;
	v = realloc(rs->packs, (rs->npacks + 1) * sizeof(*v));
	if (!v) {
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < ps.pack->nrules; i++)
		ps.pack->rules[i].pack = ps.pack;
	rs->packs = v;
	rs->packs[rs->npacks++] = ps.pack;
	rules_index_free(rs->index); /* stale: the next seal builds it again */
	rs->index = NULL;
	if (!rs->default_action)
		rs->default_action = ps.pack->default_action;
	ps.pack = NULL;
	rc = 0;
out:
	pack_free(ps.pack);
	free(ps.strbuf);
	free(ps.text);
	free(names.sets.slots);
	free(names.rules.slots);
	return rc;
}

void ruleset_free(struct ruleset *rs)
{
	rules_index_free(rs->index);
	rs->index = NULL;
	for (size_t i = 0; i < rs->npacks; i++)
		pack_free(rs->packs[i]);
	free(rs->packs);
	rs->packs = NULL;
	rs->npacks = 0;
	rs->default_action = ACTION_NONE;
}
