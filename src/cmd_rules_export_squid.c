/*
 * cmd_rules_export_squid.c: `dpix rules export squid`, the sets of the
 * rules of one action as Squid ACLs, for sites whose proxy keeps the
 * splice list of ssl_bump (and the CONNECT allow-list) itself.
 *
 * A domains set B becomes B_sn (ssl::server_name) and B_snre
 * (ssl::server_name_regex), joined as B (any-of), and the same names as
 * B_dd (dstdomain) and B_ddre (dstdom_regex), joined as B_host. The
 * matching is kept exact: "*.x" means strictly below x in dpix, while
 * Squid's ".x" also matches x itself, so ".x" is written only when the set
 * holds both x and *.x; "*.x" alone is a regular expression. A glob in the
 * leftmost label is a regular expression too. A patterns set is written
 * only where its PCRE2 pattern means the same as a POSIX extended one
 * (Squid's regex flavour); else a comment says it was not exported. An
 * addresses set becomes a dst ACL (a src one when a rule uses it as src),
 * over one address space as dpix's, which is also Squid's.
 * Squid cannot see a rule's ports, transport or application: each rule's
 * comment names the ACLs it needs and the conditions they leave out.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_rules_export.h"
#include "rules/rules.h"
#include "util/sort.h"

/* Squid keeps an ACL name to 63 characters (ACL_NAME_SZ - 1); room for
 * the longest suffix, "_snre". */
#define SQUID_NAME_MAX (63 - 5)

struct squid_set {
	FILE *out;
	const char *base;
	char **exact; /* names for ssl::server_name and dstdomain ("x", ".x") */
	size_t nexact;
	char **re; /* POSIX extended regular expressions, anchored */
	size_t nre;
	char **stars; /* the x of every "*.x", sorted */
	size_t nstars;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_strs(char **v, size_t n)
{
	sort_n(v, n, sizeof(char *), cmp_str);
}

static bool is_star(const struct squid_set *q, const char *d)
{
	return q->nstars && bsearch(&d, q->stars, q->nstars, sizeof(char *), cmp_str);
}

/* Is name (or, with self, name itself as a "*.name") strictly below some
 * "*.d" of the set? Then an entry for it adds nothing. */
static bool covered(const struct squid_set *q, const char *name, bool self)
{
	if (self && is_star(q, name))
		return true;
	for (const char *d = strchr(name, '.'); d; d = strchr(d + 1, '.'))
		if (is_star(q, d + 1))
			return true;
	return false;
}

/* A domain name or glob as a regular expression: '.' literal, '*' any
 * run of characters within a label. */
static char *glob_re(const char *prefix, const char *name)
{
	size_t n = strlen(prefix) + 2 * strlen(name) * 3 + 3;
	char *re = malloc(n), *d;

	if (!re)
		return NULL;
	d = re + snprintf(re, n, "%s", prefix);
	for (const char *s = name; *s; s++) {
		if (*s == '.') {
			*d++ = '\\';
			*d++ = '.';
		} else if (*s == '*') {
			memcpy(d, "[^.]*", 5);
			d += 5;
		} else {
			*d++ = *s;
		}
	}
	*d++ = '$';
	*d = 0;
	return re;
}

static int push(char ***v, size_t *n, char *s)
{
	char **nv;

	if (!s)
		return -1;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -1;
	}
	*v = nv;
	(*v)[(*n)++] = s;
	return 0;
}

/*
 * Does the PCRE2 pattern mean the same as a POSIX extended regular
 * expression? Accepted: what both define alike. Refused: escapes other
 * than of a special character (\d, \w, \b, ... mean other things or
 * nothing in ERE), a backslash inside brackets (literal in ERE), (?...)
 * groups and (*VERB)s, {,N}, lazy and possessive quantifiers, and
 * anything regcomp refuses.
 */
static bool pcre_is_ere(const char *p, char *why, size_t whylen)
{
	bool in_class = false;
	regex_t re;
	char *full;
	size_t n = strlen(p) + 8;
	int rc;

	for (const char *s = p; *s; s++) {
		if (in_class) {
			if (*s == '\\') {
				snprintf(why, whylen,
					 "a backslash inside brackets is literal in POSIX");
				return false;
			}
			if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
				const char *e = strstr(s + 2, (char[]){ s[1], ']', 0 });

				if (e)
					s = e + 1;
				continue;
			}
			if (*s == ']')
				in_class = false;
			continue;
		}
		if (*s == '\\') {
			if (!s[1] || !strchr(".[]()*+?{}|^$\\/-", s[1])) {
				snprintf(why, whylen, "the escape \\%c has no POSIX equivalent",
					 s[1] ? s[1] : ' ');
				return false;
			}
			s++;
		} else if (*s == '[') {
			in_class = true;
			if (s[1] == '^')
				s++;
			if (s[1] == ']')
				s++;
		} else if (*s == '(' && (s[1] == '?' || s[1] == '*')) {
			snprintf(why, whylen, "(%c groups and verbs have no POSIX equivalent",
				 s[1]);
			return false;
		} else if (*s == '{' && s[1] == ',') {
			snprintf(why, whylen, "{,N} is a literal in PCRE2, a quantifier in POSIX");
			return false;
		} else if (strchr("*+?}", *s) && (s[1] == '?' || s[1] == '+')) {
			snprintf(why, whylen,
				 "lazy and possessive quantifiers have no POSIX equivalent");
			return false;
		}
	}
	full = malloc(n);
	if (!full)
		return false;
	snprintf(full, n, "^(%s)$", p);
	rc = regcomp(&re, full, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	free(full);
	if (rc != 0) {
		snprintf(why, whylen, "not a POSIX extended regular expression");
		return false;
	}
	regfree(&re);
	return true;
}

static void squid_free(struct squid_set *q)
{
	for (size_t i = 0; i < q->nexact; i++)
		free(q->exact[i]);
	for (size_t i = 0; i < q->nre; i++)
		free(q->re[i]);
	for (size_t i = 0; i < q->nstars; i++)
		free(q->stars[i]);
	free(q->exact);
	free(q->re);
	free(q->stars);
}

/* Lower case, without a trailing dot. */
static char *norm(const char *w)
{
	char *s = strdup(w);
	size_t n;

	if (!s)
		return NULL;
	for (char *c = s; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	n = strlen(s);
	if (n && s[n - 1] == '.')
		s[n - 1] = 0;
	return s;
}

static int domain_items(struct squid_set *q, const struct domain_set *ds)
{
	char **exact = NULL;
	size_t nexact = 0;
	int rc = -1;

	for (size_t i = 0; i < ds->count; i++) { /* the stars and the exact names */
		char *s = norm(ds->written[i]);

		if (s && !strncmp(s, "*.", 2)) {
			memmove(s, s + 2, strlen(s + 2) + 1);
			if (push(&q->stars, &q->nstars, s) < 0)
				goto out;
		} else if (s && !strchr(s, '*')) {
			if (push(&exact, &nexact, s) < 0)
				goto out;
		} else if (!s) {
			goto out;
		} else {
			free(s);
		}
	}
	sort_strs(q->stars, q->nstars);
	sort_strs(exact, nexact);
	for (size_t i = 0; i < q->nstars; i++) {
		const char *d = q->stars[i];
		size_t n = strlen(d) + 2;
		char *t;

		if (covered(q, d, false)) /* below another star: nothing more */
			continue;
		if (nexact && bsearch(&d, exact, nexact, sizeof(char *), cmp_str)) {
			t = malloc(n); /* x and *.x: Squid's ".x" exactly */
			if (t)
				snprintf(t, n, ".%s", d);
			if (push(&q->exact, &q->nexact, t) < 0)
				goto out;
		} else if (push(&q->re, &q->nre, glob_re("^([^.]+\\.)+", d)) < 0) {
			goto out;
		}
	}
	for (size_t i = 0; i < nexact; i++) /* x itself: ".x" above if *.x */
		if (!covered(q, exact[i], true) &&
		    push(&q->exact, &q->nexact, strdup(exact[i])) < 0)
			goto out;
	for (size_t i = 0; i < ds->count; i++) { /* globs in the leftmost label */
		char *s = norm(ds->written[i]);
		int bad = 0;

		if (!s)
			goto out;
		if (strncmp(s, "*.", 2) && strchr(s, '*') && !covered(q, strchr(s, '.') + 1, true))
			bad = push(&q->re, &q->nre, glob_re("^", s));
		free(s);
		if (bad < 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nexact; i++)
		free(exact[i]);
	free(exact);
	return rc;
}

/* Sorted, each once. */
static void uniq(char **v, size_t *n)
{
	size_t k = 0;

	sort_strs(v, *n);
	for (size_t i = 0; i < *n; i++) {
		if (k && !strcmp(v[k - 1], v[i]))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*n = k;
}

static void squid_lines(struct squid_set *q, const char *sfx, const char *type, char **v, size_t n,
			const char *flags)
{
	for (size_t i = 0; i < n; i++)
		fprintf(q->out, "acl %s%s %s %s%s\n", q->base, sfx, type, flags, v[i]);
}

static void squid_any_of(struct squid_set *q, const char *sfx, const char *a, const char *b)
{
	fprintf(q->out, "acl %s%s any-of", q->base, sfx);
	if (q->nexact)
		fprintf(q->out, " %s%s", q->base, a);
	if (q->nre)
		fprintf(q->out, " %s%s", q->base, b);
	fprintf(q->out, "\n");
}

static int squid_names(struct export_ctx *x, const struct rule *r, const struct rule_set *s,
		       const char *base)
{
	struct squid_set q = { .out = x->out, .base = base };
	char why[96];
	int rc = -1;

	if (s->kind == SET_DOMAINS && domain_items(&q, s->u.dom) < 0)
		goto out;
	if (s->kind == SET_PATTERNS) {
		for (size_t i = 0; i < s->u.pat->n; i++) {
			const char *p = s->u.pat->src[i];
			size_t n = strlen(p) + 5;
			char *re;

			if (!pcre_is_ere(p, why, sizeof(why))) {
				fprintf(x->out, "# not exported: pattern \"%s\" of set %s/%s: %s\n",
					p, r->pack->name, s->name ? s->name : "-", why);
				x->bad_patterns++;
				continue;
			}
			re = malloc(n);
			if (re)
				snprintf(re, n, "^(%s)$", p);
			if (push(&q.re, &q.nre, re) < 0)
				goto out;
		}
	}
	uniq(q.exact, &q.nexact);
	uniq(q.re, &q.nre);
	if (!q.nexact && !q.nre) {
		fprintf(x->out, "# set %s: nothing Squid can match\n", base);
		rc = 0;
		goto out;
	}
	squid_lines(&q, "_sn", "ssl::server_name", q.exact, q.nexact, "");
	squid_lines(&q, "_snre", "ssl::server_name_regex", q.re, q.nre, "-i ");
	squid_any_of(&q, "", "_sn", "_snre");
	squid_lines(&q, "_dd", "dstdomain", q.exact, q.nexact, "");
	squid_lines(&q, "_ddre", "dstdom_regex", q.re, q.nre, "-i ");
	squid_any_of(&q, "_host", "_dd", "_ddre");
	rc = 0;
out:
	squid_free(&q);
	return rc;
}

struct addr_lines {
	FILE *out;
	const char *base, *type;
};

static void addr_line(const char *text, size_t i, void *arg)
{
	struct addr_lines *a = arg;

	(void)i;
	fprintf(a->out, "acl %s %s %s\n", a->base, a->type, text);
}

/* The ACL for set s in a rule's condition (role "dst" or "src" for
 * addresses; a name condition otherwise), written the first time. */
static const char *squid_acl(struct export_ctx *x, const struct rule *r, const struct rule_set *s,
			     const char *role, char *buf, size_t len)
{
	bool seen = false;
	const char *base;

	for (size_t k = 0; k < x->nnames; k++)
		seen |= x->names[k].set == s;
	base = export_set_name(x, s, r, "dpix_", '_', SQUID_NAME_MAX);
	if (!base)
		return NULL;
	if (s->kind == SET_ADDRESSES) {
		/* dst, or src as base_src: each written once */
		bool src = !strcmp(role, "src");
		unsigned *roles = export_set_roles(x, s);

		snprintf(buf, len, "%s%s", base, src ? "_src" : "");
		if (!(*roles & (src ? 2u : 1u))) {
			struct addr_lines a = { x->out, buf, role };

			*roles |= src ? 2u : 1u;
			export_cidrs(s->u.addr, 0, EXPORT_NO_ZERO_PREFIX, addr_line, &a);
		}
		return buf;
	}
	if (!seen && squid_names(x, r, s, base) < 0)
		return NULL;
	snprintf(buf, len, "%s%s", base, strcmp(role, "host") ? "" : "_host");
	return buf;
}

int export_squid(struct export_ctx *x)
{
	size_t last_p = 0, last_i = 0;
	bool any = false;

	export_header(x, "squid",
		      "# Squid ACLs, for an include in squid.conf. Each rule's comment names\n"
		      "# the ACLs it needs, all of them (write them on one line), e.g.\n"
		      "#   ssl_bump splice dpix_PACK_SET\n"
		      "# for a server name (ssl::server_name), and dpix_PACK_SET_host for a\n"
		      "# CONNECT or HTTP host (dstdomain). What Squid cannot see (ports, the\n"
		      "# transport, the application) is listed as left out.\n");
	for (size_t p = 0; p < x->rs->npacks; p++) /* the last rule of the action */
		for (size_t i = 0; i < x->rs->packs[p]->nrules; i++)
			if (x->rs->packs[p]->rules[i].action == x->action) {
				last_p = p;
				last_i = i;
				any = true;
			}
	for (size_t p = 0; any && p < x->rs->npacks; p++) {
		const struct rule_pack *pk = x->rs->packs[p];

		for (size_t i = 0; i < pk->nrules; i++) {
			const struct rule *r = &pk->rules[i];
			const struct {
				const struct rule_set *s;
				const char *role;
			} uses[] = {
				{ r->sni, "sni" },	{ r->name, "sni" },
				{ r->connect, "host" }, { r->http_host, "host" },
				{ r->dst, "dst" },	{ r->src, "src" },
			};
			char acls[8][80];
			size_t nacl = 0;
			uint32_t left;

			bool selected = r->action == x->action;

			if (!selected && (p > last_p || (p == last_p && i > last_i)))
				continue;
			for (size_t u = 0; u < sizeof(uses) / sizeof(uses[0]); u++) {
				const struct rule_set *s = uses[u].s;
				const char *role = uses[u].role;

				if (!s)
					continue;
				if (s->kind == SET_ADDRESSES && !strcmp(role, "host"))
					role = "dst"; /* connect in ADDRESSES: the IP literal */
				if (!squid_acl(x, r, s, role, acls[nacl], sizeof(acls[0])))
					return -1;
				nacl++;
			}
			if (!nacl) {
				fprintf(x->out,
					"# not exported: rule %s/%s (%s) has no name or address "
					"set%s\n",
					pk->name, r->id, rule_action_name(r->action),
					selected ? ""
						 : ", and takes its flows before the rules below");
				if (selected)
					x->skipped++;
				else
					x->shadowed++;
				continue;
			}
			fprintf(x->out, "# rule %s/%s%s%s%s:", pk->name, r->id,
				selected ? "" : " (", selected ? "" : rule_action_name(r->action),
				selected ? "" : ", first in dpix: its line goes above)");
			for (size_t k = 0; k < nacl; k++)
				fprintf(x->out, " %s", acls[k]);
			left = r->conds & ~(uint32_t)(COND_SNI | COND_NAME | COND_CONNECT |
						      COND_HTTP_HOST | COND_DST | COND_SRC);
			if (left) {
				fprintf(x->out, " (left out: ");
				export_conds(x->out, left);
				fprintf(x->out, ")");
			}
			fprintf(x->out, "\n");
		}
	}
	return 0;
}
