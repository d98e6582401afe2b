/*
 * rules_domain.c: domain-name sets with label-aware wildcards.
 *
 * "*.example.com" matches names strictly below example.com at any depth,
 * never example.com itself and never badexample.com: matching walks label
 * boundaries, not characters. "turn-*.example.com" matches one leftmost
 * label by glob ('*' = any run of characters inside that label) under
 * example.com. Lookups lower-case the name and probe the hash once per
 * label suffix, so their cost depends on the name, not on the set's size.
 * A looked-up name with an empty label (".a.com", "a..com") matches nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct domain_set *domain_set_new(const char *name)
{
	struct domain_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->name = strdup(name);
	s->nslots = 16;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->name || !s->slots) {
		domain_set_free(s);
		return NULL;
	}
	return s;
}

void domain_set_free(struct domain_set *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; s->slots && i < s->nslots; i++) {
		struct domain_entry *e = &s->slots[i];

		free(e->name);
		for (uint32_t g = 0; g < e->nglobs; g++)
			free(e->globs[g]);
		free(e->globs);
		free(e->tags);
	}
	for (uint32_t i = 0; s->written && i < s->count; i++)
		free(s->written[i]);
	free(s->written);
	free(s->slots);
	free(s->name);
	free(s);
}

static struct domain_entry *find(const struct domain_set *s, const char *key, size_t n, uint64_t h)
{
	uint32_t mask = s->nslots - 1;

	for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
		struct domain_entry *e = &s->slots[i];

		if (!e->name)
			return e; /* the empty slot where key would go */
		if (e->hash == h && strlen(e->name) == n && !memcmp(e->name, key, n))
			return e;
	}
}

static int grow(struct domain_set *s)
{
	struct domain_entry *old = s->slots;
	uint32_t oldn = s->nslots;

	s->slots = calloc((size_t)oldn * 2, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		return -1;
	}
	s->nslots = oldn * 2;
	for (uint32_t i = 0; i < oldn; i++)
		if (old[i].name)
			*find(s, old[i].name, strlen(old[i].name), old[i].hash) = old[i];
	free(old);
	return 0;
}

static bool is_label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

/* Validate a lower-cased pattern; '*' is allowed in the first label only. */
static int check_pattern(const char *p, size_t n, size_t *col, const char **why)
{
	size_t label = 0;
	bool first = true;

	if (n == 0) {
		*col = 0, *why = "empty name";
		return -1;
	}
	if (n > DNS_NAME_MAX) {
		*col = DNS_NAME_MAX, *why = "name longer than 253 characters";
		return -1;
	}
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (label == 0) {
				*col = i, *why = "empty label";
				return -1;
			}
			label = 0;
			first = false;
			continue;
		}
		if (++label > DNS_LABEL_MAX) {
			*col = i, *why = "label longer than 63 characters";
			return -1;
		}
		if (p[i] == '*' && !first) {
			*col = i, *why = "'*' is only allowed in the leftmost label";
			return -1;
		}
		if (p[i] != '*' && !is_label_char(p[i])) {
			*col = i, *why = "character not allowed in a domain name";
			return -1;
		}
	}
	return 0;
}

enum { FORM_EXACT, FORM_BELOW, FORM_GLOB };

static int add_tag(struct domain_entry *e, uint32_t form, uint32_t tag)
{
	struct domain_tag *v;

	if (tag == DOMAIN_NO_TAG)
		return 0;
	v = realloc(e->tags, (e->ntags + 1) * sizeof(*v));
	if (!v)
		return -1;
	e->tags = v;
	e->tags[e->ntags].form = form;
	e->tags[e->ntags++].tag = tag;
	return 0;
}

int domain_set_add(struct domain_set *s, const char *pattern, size_t *col, const char **why)
{
	return domain_set_add_tag(s, pattern, DOMAIN_NO_TAG, col, why);
}

int domain_set_add_tag(struct domain_set *s, const char *pattern, uint32_t tag, size_t *col,
		       const char **why)
{
	char buf[DNS_NAME_MAX + 2];
	size_t n = strlen(pattern), dot;
	const char *key = buf, *star;
	struct domain_entry *e;
	char *glob = NULL;

	if (n > DNS_NAME_MAX + 1) {
		*col = DNS_NAME_MAX, *why = "name longer than 253 characters";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] =
		    (pattern[i] >= 'A' && pattern[i] <= 'Z') ? (char)(pattern[i] + 32) : pattern[i];
	if (n > 1 && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	if (check_pattern(buf, n, col, why) < 0)
		return -1;
	star = memchr(buf, '*', n);
	if (star) {
		const char *d = memchr(buf, '.', n);

		if (!d) {
			*col = 0, *why = "a wildcard needs a domain after it, as in *.example.com";
			return -1;
		}
		dot = (size_t)(d - buf);
		key = d + 1;
		if (!(dot == 1 && buf[0] == '*')) {
			glob = strndup(buf, dot);
			if (!glob)
				goto nomem;
		}
	}
	if ((s->used + 1) * 2 > s->nslots && grow(s) < 0)
		goto nomem;
	if (!(s->count & (s->count - 1))) { /* 0, 1, 2, 4...: double */
		char **w = realloc(s->written, (s->count ? s->count * 2 : 1) * sizeof(*w));

		if (!w)
			goto nomem;
		s->written = w;
	}
	if (!(s->written[s->count] = strdup(buf)))
		goto nomem;
	s->count++;
	n = strlen(key);
	e = find(s, key, n, fnv1a(key, n));
	if (!e->name) {
		e->name = strdup(key);
		if (!e->name)
			goto nomem;
		e->hash = fnv1a(key, n);
		s->used++;
	}
	if (!star) {
		e->exact = 1;
		if (add_tag(e, FORM_EXACT, tag) < 0)
			goto nomem;
	} else if (!glob) {
		e->below = 1;
		if (add_tag(e, FORM_BELOW, tag) < 0)
			goto nomem;
	} else {
		char **g = realloc(e->globs, (e->nglobs + 1) * sizeof(*g));

		if (!g)
			goto nomem;
		e->globs = g;
		e->globs[e->nglobs++] = glob;
		glob = NULL;
		if (add_tag(e, FORM_GLOB + e->nglobs - 1, tag) < 0)
			goto nomem;
	}
	return 0;
nomem:
	free(glob);
	*col = 0, *why = "out of memory";
	return -1;
}

/* '*' matches any run of characters; the text is one label (no dots). */
static bool glob_match(const char *p, const char *t, size_t tn)
{
	const char *star = NULL;
	size_t ti = 0, back = 0;

	while (ti < tn) {
		if (*p == '*') {
			star = p++;
			back = ti;
		} else if (*p && *p == t[ti]) {
			p++;
			ti++;
		} else if (star) {
			p = star + 1;
			ti = ++back;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/*
 * The entries a name falls under, one label at a time: the name itself
 * (exact), then each suffix after a dot (below, and the globs of the
 * leftmost label). With no callback, stop at the first and say so; else
 * call it for every form that matches.
 */
typedef void walk_fn(const struct domain_entry *e, uint32_t form, void *arg);

static bool walk(const struct domain_set *s, const char *name, size_t len, walk_fn *cb, void *arg)
{
	char buf[DNS_NAME_MAX + 1];
	const struct domain_entry *e;
	bool leftmost = true, hit = false;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		buf[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
		/* An empty label is no DNS name: a malformed name never matches. */
		if (buf[i] == '.' && (i == 0 || buf[i - 1] == '.'))
			return false;
	}
	buf[len] = '\0';
	e = find(s, buf, len, fnv1a(buf, len));
	if (e->name && e->exact) {
		if (!cb)
			return true;
		cb(e, FORM_EXACT, arg);
		hit = true;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '.')
			continue;
		e = find(s, buf + i + 1, len - i - 1, fnv1a(buf + i + 1, len - i - 1));
		if (e->name) {
			if (e->below) {
				if (!cb)
					return true;
				cb(e, FORM_BELOW, arg);
				hit = true;
			}
			for (uint32_t g = 0; leftmost && g < e->nglobs; g++)
				if (glob_match(e->globs[g], buf, i)) {
					if (!cb)
						return true;
					cb(e, FORM_GLOB + g, arg);
					hit = true;
				}
		}
		leftmost = false;
	}
	return hit;
}

bool domain_set_match(const struct domain_set *s, const char *name, size_t len)
{
	return walk(s, name, len, NULL, NULL);
}

struct tag_walk {
	void (*cb)(uint32_t tag, void *arg);
	void *arg;
};

static void each_tag(const struct domain_entry *e, uint32_t form, void *arg)
{
	const struct tag_walk *w = arg;

	for (uint32_t i = 0; i < e->ntags; i++)
		if (e->tags[i].form == form)
			w->cb(e->tags[i].tag, w->arg);
}

void domain_set_tags(const struct domain_set *s, const char *name, size_t len,
		     void (*cb)(uint32_t tag, void *arg), void *arg)
{
	struct tag_walk w = { cb, arg };

	walk(s, name, len, each_tag, &w);
}
