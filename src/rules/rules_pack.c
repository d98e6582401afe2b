/*
 * rules_pack.c: reading a rule pack (the language is in doc/dpix.rules.5).
 *
 *   # comment
 *   pack NAME                       first statement
 *   version TEXT | date TEXT | source TEXT
 *   domains SET = NAME...           or  domains SET { NAME... }
 *   rule ID ACTION FIELD in SET [service TEXT] [msg TEXT] [ref TEXT]
 *
 * TEXT is a word or a "quoted string" (\" and \\ escape). A statement ends
 * at the end of its line, except inside { }. Every error names
 * file:line:column, the text found and what was expected; a pack with an
 * error is discarded whole.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

#define PACK_MAX_BYTES (64u << 20)

enum tok_type { T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_EQUALS, T_NEWLINE, T_END, T_BAD };

struct token {
	enum tok_type type;
	const char *text; /* T_WORD: into the file; T_STRING: lexer's buffer */
	size_t len;
	unsigned line, col;
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
};

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

static struct domain_set *find_set(const struct rule_pack *pk, const char *name, size_t n)
{
	for (size_t i = 0; i < pk->nsets; i++)
		if (strlen(pk->sets[i]->name) == n && !memcmp(pk->sets[i]->name, name, n))
			return pk->sets[i];
	return NULL;
}

static int add_domain(struct parser *ps, struct domain_set *s)
{
	const char *why;
	char name[300];
	size_t col;
	struct token at = ps->tok;

	if (ps->tok.type != T_WORD)
		return fail(ps, &ps->tok, "expected a domain name");
	if (ps->tok.len >= sizeof(name))
		return fail(ps, &ps->tok, "bad domain '%.60s...': name longer than 253 characters",
			    ps->tok.text);
	memcpy(name, ps->tok.text, ps->tok.len);
	name[ps->tok.len] = '\0';
	if (domain_set_add(s, name, &col, &why) < 0) {
		at.col += (unsigned)col;
		return fail(ps, &at, "bad domain '%s': %s", name, why);
	}
	return 0;
}

static int parse_domains(struct parser *ps)
{
	struct rule_pack *pk = ps->pack;
	struct domain_set *s, **v;
	struct token at;
	char *name = NULL, b[80];
	bool block;

	if (expect_ident(ps, "a set name", &name) < 0)
		return -1;
	at = ps->tok;
	if (find_set(pk, name, strlen(name))) {
		free(name);
		return fail(ps, &at, "set '%.*s' is already defined in this pack", (int)at.len,
			    at.text);
	}
	s = domain_set_new(name);
	free(name);
	v = s ? realloc(pk->sets, (pk->nsets + 1) * sizeof(*v)) : NULL;
	if (!v) {
		domain_set_free(s);
		return fail(ps, &at, "out of memory");
	}
	pk->sets = v;
	pk->sets[pk->nsets++] = s;
	if (next(ps) < 0)
		return -1;
	if (ps->tok.type != T_EQUALS && ps->tok.type != T_LBRACE)
		return fail(ps, &ps->tok, "found %s, expected '=' or '{' after the set name",
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
			if (s->count == 0)
				return fail(ps, &ps->tok,
					    "set '%s' is empty: expected domain names before '}'",
					    s->name);
			return expect_eol(ps);
		}
		if (ps->tok.type == T_END)
			return fail(ps, &ps->tok,
				    "found end of file, expected '}' to close set '%s'", s->name);
		if (add_domain(ps, s) < 0)
			return -1;
	}
	if (s->count == 0)
		return fail(ps, &ps->tok, "set '%s' is empty: expected domain names after '='",
			    s->name);
	return 0;
}

static const struct {
	const char *word;
	enum rule_action action;
} actions[] = { { "bypass", ACTION_BYPASS },
		{ "inspect", ACTION_INSPECT },
		{ "drop", ACTION_DROP } };

static const struct {
	const char *word;
	enum rule_field field;
} fields[] = { { "sni", FIELD_SNI }, { "connect", FIELD_CONNECT }, { "name", FIELD_NAME } };

static int parse_rule(struct parser *ps)
{
	struct rule_pack *pk = ps->pack;
	struct rule *r, *v;
	char b[80];
	size_t i;

	v = realloc(pk->rules, (pk->nrules + 1) * sizeof(*v));
	if (!v)
		return fail(ps, &ps->tok, "out of memory");
	pk->rules = v;
	r = &pk->rules[pk->nrules++];
	memset(r, 0, sizeof(*r));
	r->line = ps->tok.line;
	if (expect_ident(ps, "a rule id", &r->id) < 0)
		return -1;
	for (size_t k = 0; k + 1 < pk->nrules; k++)
		if (!strcmp(pk->rules[k].id, r->id))
			return fail(ps, &ps->tok, "rule id '%s' is already used on line %u", r->id,
				    pk->rules[k].line);
	if (next(ps) < 0)
		return -1;
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]) && !is_word(&ps->tok, actions[i].word);
	     i++)
		;
	if (i == sizeof(actions) / sizeof(actions[0]))
		return fail(ps, &ps->tok, "found %s, expected an action: bypass, inspect or drop",
			    show(&ps->tok, b, sizeof(b)));
	r->action = (uint8_t)actions[i].action;
	if (next(ps) < 0)
		return -1;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]) && !is_word(&ps->tok, fields[i].word);
	     i++)
		;
	if (i == sizeof(fields) / sizeof(fields[0]))
		return fail(ps, &ps->tok, "found %s, expected what to match: sni, connect or name",
			    show(&ps->tok, b, sizeof(b)));
	r->field = (uint8_t)fields[i].field;
	if (next(ps) < 0)
		return -1;
	if (!is_word(&ps->tok, "in"))
		return fail(ps, &ps->tok, "found %s, expected 'in'", show(&ps->tok, b, sizeof(b)));
	if (next(ps) < 0)
		return -1;
	if (ps->tok.type != T_WORD || !(r->set = find_set(pk, ps->tok.text, ps->tok.len)))
		return fail(ps, &ps->tok,
			    "found %s, expected the name of a set defined above with 'domains'",
			    show(&ps->tok, b, sizeof(b)));
	for (;;) {
		if (next(ps) < 0)
			return -1;
		if (ps->tok.type == T_NEWLINE || ps->tok.type == T_END)
			return 0;
		if (is_word(&ps->tok, "service")) {
			if (expect_text(ps, "a service label", &r->service) < 0)
				return -1;
		} else if (is_word(&ps->tok, "msg")) {
			if (expect_text(ps, "a message", &r->msg) < 0)
				return -1;
		} else if (is_word(&ps->tok, "ref")) {
			if (expect_text(ps, "a document reference", &r->ref) < 0)
				return -1;
		} else {
			return fail(ps, &ps->tok,
				    "found %s, expected service, msg, ref or the end of the line",
				    show(&ps->tok, b, sizeof(b)));
		}
	}
}

static int parse(struct parser *ps)
{
	struct rule_pack *pk = ps->pack;
	char b[80];

	for (;;) {
		if (next(ps) < 0)
			return -1;
		if (ps->tok.type == T_NEWLINE)
			continue;
		if (ps->tok.type == T_END)
			break;
		if (!pk->name && !is_word(&ps->tok, "pack"))
			return fail(ps, &ps->tok,
				    "found %s, expected 'pack NAME' as the first statement",
				    show(&ps->tok, b, sizeof(b)));
		if (is_word(&ps->tok, "pack")) {
			if (pk->name)
				return fail(ps, &ps->tok,
					    "a second 'pack' statement: one pack per file");
			if (expect_ident(ps, "a pack name", &pk->name) < 0 || expect_eol(ps) < 0)
				return -1;
		} else if (is_word(&ps->tok, "version")) {
			if (expect_text(ps, "a version", &pk->version) < 0 || expect_eol(ps) < 0)
				return -1;
		} else if (is_word(&ps->tok, "date")) {
			if (expect_text(ps, "a date", &pk->date) < 0 || expect_eol(ps) < 0)
				return -1;
		} else if (is_word(&ps->tok, "source")) {
			if (expect_text(ps, "the source document", &pk->source) < 0 ||
			    expect_eol(ps) < 0)
				return -1;
		} else if (is_word(&ps->tok, "domains")) {
			if (parse_domains(ps) < 0)
				return -1;
		} else if (is_word(&ps->tok, "rule")) {
			if (parse_rule(ps) < 0)
				return -1;
		} else {
			return fail(
			    ps, &ps->tok,
			    "found %s, expected pack, version, date, source, domains or rule",
			    show(&ps->tok, b, sizeof(b)));
		}
	}
	if (!pk->name) {
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
		domain_set_free(pk->sets[i]);
	for (size_t i = 0; i < pk->nrules; i++) {
		free(pk->rules[i].id);
		free(pk->rules[i].service);
		free(pk->rules[i].msg);
		free(pk->rules[i].ref);
	}
	free(pk->sets);
	free(pk->rules);
	free(pk->path);
	free(pk->name);
	free(pk->version);
	free(pk->date);
	free(pk->source);
	free(pk);
}

static char *read_file(const char *path, size_t *len, struct rules_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "%s: cannot open: %s", path, strerror(errno));
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

int rules_load(struct ruleset *rs, const char *path, struct rules_error *err)
{
	struct parser ps = { .path = path, .line = 1, .err = err };
	struct rule_pack **v;
	size_t len;
	char *text = read_file(path, &len, err);
	int rc = -1;

	if (!text)
		return -1;
	if (memchr(text, '\0', len)) {
		snprintf(err->msg, sizeof(err->msg), "%s: contains a NUL byte: not a text file",
			 path);
		free(text);
		return -1;
	}
	ps.p = ps.line_start = text;
	ps.end = text + len;
	ps.strbuf = malloc(len + 1);
	ps.pack = calloc(1, sizeof(*ps.pack));
	if (!ps.strbuf || !ps.pack || !(ps.pack->path = strdup(path))) {
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
		goto out;
	}
	if (parse(&ps) < 0)
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
	ps.pack = NULL;
	rc = 0;
out:
	pack_free(ps.pack);
	free(ps.strbuf);
	free(text);
	return rc;
}

void ruleset_free(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->npacks; i++)
		pack_free(rs->packs[i]);
	free(rs->packs);
	rs->packs = NULL;
	rs->npacks = 0;
}
