/*
 * test_rules.c: domain sets, the pack parser and rule evaluation.
 *
 * Domain sets are tested through domain_set_add/match alone. Packs come
 * from fixtures in tests/unit/packs/ (found under $srcdir) or from files the
 * tests write into a fresh mkdtemp directory, removed after each test.
 * Every error message is asserted whole, "path:line:column: what", with
 * the line and column counted by hand from the text of the pack.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/rules.h"

/* --- domain sets -------------------------------------------------------- */

static struct domain_set *set_of(const char *const *patterns, size_t n)
{
	struct domain_set *s = domain_set_new("test");
	const char *why = NULL;
	size_t col = 0;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		if (domain_set_add(s, patterns[i], &col, &why) != 0)
			fail_msg("'%s' rejected at %zu: %s", patterns[i], col, why);
	assert_int_equal(domain_set_seal(s), 0); /* as a pack's sets are */
	return s;
}

static bool in_set(const struct domain_set *s, const char *name)
{
	return domain_set_match(s, name, strlen(name));
}

#define SET(...)                                     \
	set_of((const char *const[]){ __VA_ARGS__ }, \
	       sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static void test_exact_names(void **state)
{
	(void)state;
	struct domain_set *s = SET("a.example.com", "example.org", "localhost");

	assert_string_equal(s->name, "test");
	assert_int_equal(s->count, 3);
	assert_true(in_set(s, "a.example.com"));
	assert_true(in_set(s, "example.org"));
	assert_true(in_set(s, "localhost"));
	assert_false(in_set(s, "example.com"));
	assert_false(in_set(s, "x.a.example.com"));
	assert_false(in_set(s, "aa.example.com"));
	assert_false(in_set(s, "a.example.co"));
	assert_false(in_set(s, "a.example.com.evil.net"));
	assert_false(in_set(s, "www.example.org"));
	assert_false(in_set(s, ""));
	assert_false(in_set(s, "."));
	/* A length shorter than the string: only that much is looked at. */
	assert_true(domain_set_match(s, "example.org.uk", 11));
	domain_set_free(s);
}

static void test_wildcard_below(void **state)
{
	(void)state;
	struct domain_set *s = SET("*.example.com");

	assert_true(in_set(s, "a.example.com"));
	assert_true(in_set(s, "a.b.example.com"));
	assert_true(in_set(s, "x-1.y_2.z.example.com"));
	assert_false(in_set(s, "example.com"));
	assert_false(in_set(s, "badexample.com"));
	assert_false(in_set(s, "a.badexample.com"));
	assert_false(in_set(s, "example.com.evil.net"));
	assert_false(in_set(s, "a.example.com.evil.net"));
	assert_false(in_set(s, "com"));
	/* Names with an empty label are not DNS names and never match. */
	assert_false(in_set(s, ".example.com"));
	assert_false(in_set(s, "a..example.com"));
	assert_false(in_set(s, "..example.com"));
	domain_set_free(s);
}

static void test_wildcard_and_exact(void **state)
{
	(void)state;
	/* The rainbow pack's form: the name and everything below it. */
	struct domain_set *s = SET("openrainbow.com", "*.openrainbow.com");

	assert_int_equal(s->count, 2);
	assert_true(in_set(s, "openrainbow.com"));
	assert_true(in_set(s, "web.openrainbow.com"));
	assert_false(in_set(s, "myopenrainbow.com"));
	domain_set_free(s);
}

static void test_label_glob(void **state)
{
	(void)state;
	struct domain_set *s = SET("turn-*.openrainbow.com");

	assert_true(in_set(s, "turn-rbx1.openrainbow.com"));
	assert_true(in_set(s, "turn-.openrainbow.com"));
	assert_true(in_set(s, "turn-a-b-c.openrainbow.com"));
	assert_false(in_set(s, "turn-rbx1.x.openrainbow.com"));
	assert_false(in_set(s, "a.turn-rbx1.openrainbow.com"));
	assert_false(in_set(s, "xturn-rbx1.openrainbow.com"));
	assert_false(in_set(s, "turn-rbx1.openrainbow.com.evil"));
	assert_false(in_set(s, "turn.openrainbow.com"));
	assert_false(in_set(s, "turn-rbx1.openrainbow.co"));
	assert_false(in_set(s, "openrainbow.com"));
	assert_false(in_set(s, "web.openrainbow.com"));
	domain_set_free(s);
}

static void test_glob_star_at_end(void **state)
{
	(void)state;
	struct domain_set *s = SET("turn*.openrainbow.health");

	assert_true(in_set(s, "turn.openrainbow.health"));
	assert_true(in_set(s, "turn1.openrainbow.health"));
	assert_true(in_set(s, "turnserver.openrainbow.health"));
	assert_false(in_set(s, "openrainbow.health"));
	assert_false(in_set(s, "xturn.openrainbow.health"));
	assert_false(in_set(s, "tur.openrainbow.health"));
	assert_false(in_set(s, "a.turn.openrainbow.health"));
	assert_false(in_set(s, "turn.openrainbow.com"));
	domain_set_free(s);
}

static void test_glob_two_stars(void **state)
{
	(void)state;
	struct domain_set *s = SET("a*b*c.example.com", "*-edge.example.net");

	assert_true(in_set(s, "abc.example.com"));
	assert_true(in_set(s, "axxbyyc.example.com"));
	assert_true(in_set(s, "abbc.example.com"));
	assert_true(in_set(s, "abcbc.example.com"));
	assert_true(in_set(s, "abcc.example.com"));
	assert_true(in_set(s, "aXbXc.example.com"));
	assert_false(in_set(s, "ac.example.com"));
	assert_false(in_set(s, "ab.example.com"));
	assert_false(in_set(s, "bc.example.com"));
	assert_false(in_set(s, "acb.example.com"));
	assert_false(in_set(s, "abcd.example.com"));
	assert_false(in_set(s, "xabc.example.com"));
	assert_false(in_set(s, "a.b.c.example.com"));
	/* A star in front. */
	assert_true(in_set(s, "eu-edge.example.net"));
	assert_true(in_set(s, "-edge.example.net"));
	assert_false(in_set(s, "eu-edge2.example.net"));
	assert_false(in_set(s, "edge.example.net"));
	domain_set_free(s);
}

static void test_globs_share_a_parent(void **state)
{
	(void)state;
	/* Several globs under one name: any of them matches. */
	struct domain_set *s =
	    SET("turn-*.openrainbow.com", "stun*.openrainbow.com", "web.openrainbow.com");

	assert_true(in_set(s, "turn-x.openrainbow.com"));
	assert_true(in_set(s, "stun2.openrainbow.com"));
	assert_true(in_set(s, "web.openrainbow.com"));
	assert_false(in_set(s, "openrainbow.com"));
	assert_false(in_set(s, "api.openrainbow.com"));
	domain_set_free(s);
}

static void test_case_insensitive(void **state)
{
	(void)state;
	struct domain_set *s = SET("Web.OpenRainbow.COM", "*.EXAMPLE.net", "TURN-*.Example.org");

	assert_true(in_set(s, "web.openrainbow.com"));
	assert_true(in_set(s, "WEB.OPENRAINBOW.COM"));
	assert_true(in_set(s, "wEb.oPeNrAiNbOw.CoM"));
	assert_true(in_set(s, "a.example.net"));
	assert_true(in_set(s, "A.Example.NET"));
	assert_true(in_set(s, "turn-1.example.org"));
	assert_true(in_set(s, "Turn-X.EXAMPLE.ORG"));
	assert_false(in_set(s, "EXAMPLE.NET"));
	domain_set_free(s);
}

static void test_trailing_dot(void **state)
{
	(void)state;
	struct domain_set *s =
	    SET("a.example.com.", "*.example.net.", "turn-*.example.org.", "plain.example");

	assert_true(in_set(s, "a.example.com"));
	assert_true(in_set(s, "a.example.com."));
	assert_true(in_set(s, "x.example.net"));
	assert_true(in_set(s, "x.example.net."));
	assert_true(in_set(s, "turn-1.example.org."));
	assert_true(in_set(s, "plain.example."));
	assert_false(in_set(s, "example.net."));
	assert_false(in_set(s, "a.example.com.."));
	assert_false(in_set(s, "."));
	domain_set_free(s);
}

/* Adding pattern fails at col with reason why, and leaves the set as it was. */
static void assert_bad_pattern(const char *pattern, size_t col, const char *why)
{
	struct domain_set *s = SET("keep.example.com");
	const char *got_why = NULL;
	size_t got_col = 9999;

	if (domain_set_add(s, pattern, &got_col, &got_why) != -1)
		fail_msg("'%s' was accepted", pattern);
	assert_int_equal(got_col, col);
	assert_non_null(got_why);
	assert_string_equal(got_why, why);
	assert_int_equal(s->count, 1);
	assert_true(in_set(s, "keep.example.com"));
	domain_set_free(s);
}

/* n characters: labels of 63 'a' joined by dots, the last one shorter. */
static void long_name(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '.' : 'a';
	buf[n] = '\0';
}

static void test_bad_patterns(void **state)
{
	(void)state;
	char buf[400];

	assert_bad_pattern("a.*.com", 2, "'*' is only allowed in the leftmost label");
	assert_bad_pattern("*.*.com", 2, "'*' is only allowed in the leftmost label");
	assert_bad_pattern("example.*", 8, "'*' is only allowed in the leftmost label");
	assert_bad_pattern("a..com", 2, "empty label");
	assert_bad_pattern(".example.com", 0, "empty label");
	assert_bad_pattern("example.com..", 12, "empty label");
	assert_bad_pattern(".", 0, "empty label");
	assert_bad_pattern("*", 0, "a wildcard needs a domain after it, as in *.example.com");
	assert_bad_pattern("turn-*", 0, "a wildcard needs a domain after it, as in *.example.com");
	assert_bad_pattern("a/b.com", 1, "character not allowed in a domain name");
	assert_bad_pattern("a b.com", 1, "character not allowed in a domain name");
	assert_bad_pattern("example.com:443", 11, "character not allowed in a domain name");
	assert_bad_pattern("caf\xc3\xa9.example", 3, "character not allowed in a domain name");
	assert_bad_pattern("", 0, "empty name");

	/* A label of 64 characters: the 64th is the offending one. */
	memset(buf, 'x', 64);
	memcpy(buf + 64, ".com", 5);
	assert_bad_pattern(buf, 63, "label longer than 63 characters");
	/* ... in the second label. */
	memcpy(buf, "a.", 2);
	memset(buf + 2, 'x', 64);
	memcpy(buf + 66, ".com", 5);
	assert_bad_pattern(buf, 65, "label longer than 63 characters");

	/* 254 characters: 63.63.63.62 */
	long_name(buf, 254);
	assert_int_equal(buf[63], '.');
	assert_bad_pattern(buf, 253, "name longer than 253 characters");
	long_name(buf, 300);
	assert_bad_pattern(buf, 253, "name longer than 253 characters");
}

static void test_longest_name(void **state)
{
	(void)state;
	char name[300], dotted[300];
	struct domain_set *s;

	/* 253 characters: 63.63.63.61; with a trailing dot too. */
	long_name(name, 253);
	s = SET(name);
	assert_true(in_set(s, name));
	memcpy(dotted, name, 253);
	memcpy(dotted + 253, ".", 2);
	assert_true(in_set(s, dotted));
	domain_set_free(s);
	s = SET(dotted);
	assert_true(in_set(s, name));
	/* A name of 254 characters is never in a set. */
	long_name(name, 254);
	assert_false(in_set(s, name));
	domain_set_free(s);
}

/* --- domain_set_match against a scan of every entry ------------------------ */

static uint32_t dom_rnd_state = 2463534242u;

static uint32_t dom_rnd(uint32_t n)
{
	dom_rnd_state ^= dom_rnd_state << 13;
	dom_rnd_state ^= dom_rnd_state >> 17;
	dom_rnd_state ^= dom_rnd_state << 5;
	return dom_rnd_state % n;
}

static const char *const dom_labels[] = { "a", "b", "www", "api", "turn-1", "turn-22", "x1" };

/* A random name (pattern: also '*.' and leftmost-label globs) over ndom
 * registered domains, so that entries nest and overlap. */
static void dom_rnd_name(char *buf, size_t n, uint32_t ndom, bool pattern)
{
	static const char *const globs[] = { "turn-*", "*-1", "a*", "*w*" };
	char dom[32];
	const char *l = dom_labels[dom_rnd(7)];
	uint32_t form = pattern ? dom_rnd(6) : 3 + dom_rnd(3);

	snprintf(dom, sizeof(dom), "ex%u.%s", dom_rnd(ndom), dom_rnd(4) ? "com" : "org");
	switch (form) {
	case 0:
		snprintf(buf, n, "*.%s%s%s", dom_rnd(2) ? l : "", dom_rnd(2) ? "." : "", dom);
		break;
	case 1:
	case 2:
		snprintf(buf, n, "%s.%s", globs[dom_rnd(4)], dom);
		break;
	case 3:
		snprintf(buf, n, "%s", dom);
		break;
	case 4:
		snprintf(buf, n, "%s.%s", l, dom);
		break;
	default:
		snprintf(buf, n, "%s.%s.%s", dom_labels[dom_rnd(7)], l, dom);
		break;
	}
	if (buf[0] == '*' && buf[1] == '.' && buf[2] == '.') /* "*.." from an empty label */
		memmove(buf + 2, buf + 3, strlen(buf + 3) + 1);
}

/* The language's meaning, one entry at a time (lower-case names). */
static bool dom_naive(char *const *entries, size_t n, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n; i++) {
		const char *e = entries[i], *dot = strchr(e, '.'), *first = strchr(name, '.');
		size_t el = strlen(e);

		if (!strchr(e, '*')) {
			if (!strcmp(e, name))
				return true;
		} else if (e[0] == '*' && e[1] == '.') {
			if (nl > el - 1 && !strcmp(name + nl - (el - 1), e + 1))
				return true;
		} else if (first && !strcmp(first, dot)) {
			char pat[64], label[256];

			snprintf(pat, sizeof(pat), "%.*s", (int)(dot - e), e);
			snprintf(label, sizeof(label), "%.*s", (int)(first - name), name);
			if (fnmatch(pat, label, 0) == 0)
				return true;
		}
	}
	return false;
}

static void test_domain_set_random(void **state)
{
	static const uint32_t sizes[] = { 3, 300, 6000, 40000 };

	(void)state;
	for (size_t round = 0; round < sizeof(sizes) / sizeof(sizes[0]); round++) {
		uint32_t n = sizes[round], ndom = n / 4 + 1;
		struct domain_set *s = domain_set_new("rnd"), *sealed = domain_set_new("rnd");
		const char *why;
		size_t col;
		int queries = n > 10000 ? 1500 : 5000;

		assert_non_null(s);
		assert_non_null(sealed);
		for (uint32_t i = 0; i < n; i++) {
			char e[128];

			dom_rnd_name(e, sizeof(e), ndom, true);
			if (domain_set_add(s, e, &col, &why) != 0 ||
			    domain_set_add(sealed, e, &col, &why) != 0)
				fail_msg("%s: %s", e, why);
		}
		assert_int_equal(domain_set_seal(sealed), 0);
		assert_non_null(sealed->cells);
		assert_int_equal(s->count, n);
		assert_true(n < 6000 || s->filter); /* big: the filter is asked too */
		for (int q = 0; q < queries; q++) {
			char name[128];

			if (dom_rnd(2)) { /* an entry, its wildcard label filled in */
				char *p = name, *d;

				snprintf(name, sizeof(name), "%s", s->written[dom_rnd(n)]);
				while ((p = strchr(name, '*')))
					memmove(p, p + 1, strlen(p + 1) + 1);
				if (name[0] == '.')
					memmove(name, name + 1, strlen(name));
				if (dom_rnd(3) == 0 && (d = strchr(name, '.')))
					memmove(name, d + 1, strlen(d + 1) + 1); /* its parent */
			} else {
				dom_rnd_name(name, sizeof(name), ndom * 2, false);
			}
			if (in_set(s, name) != dom_naive(s->written, n, name))
				fail_msg("set of %u, '%s': domain_set_match %d, scan %d", n, name,
					 in_set(s, name), dom_naive(s->written, n, name));
			if (in_set(sealed, name) != in_set(s, name))
				fail_msg("set of %u, '%s': sealed %d, not %d", n, name,
					 in_set(sealed, name), in_set(s, name));
		}
		domain_set_free(s);
		domain_set_free(sealed);
	}
}

static void test_big_set(void **state)
{
	(void)state;
	struct domain_set *s = domain_set_new("big");
	const char *why = NULL;
	char name[64];
	size_t col;

	assert_non_null(s);
	for (unsigned i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "host%u.example%u.com", i, i % 100);
		if (domain_set_add(s, name, &col, &why) != 0)
			fail_msg("%s rejected: %s", name, why);
	}
	assert_int_equal(s->count, 100000);
	assert_int_equal(s->used, 100000);
	assert_true(s->used * 2 <= s->nslots);
	for (unsigned i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "host%u.example%u.com", i, i % 100);
		if (!in_set(s, name))
			fail_msg("%s not found", name);
	}
	/* Right host under the wrong domain, names past the end, parents. */
	for (unsigned i = 0; i < 1000; i++) {
		if (i % 4 == 0)
			snprintf(name, sizeof(name), "host%u.example%u.com", i, (i + 1) % 100);
		else if (i % 4 == 1)
			snprintf(name, sizeof(name), "host%u.example%u.com", 100000 + i, i % 100);
		else if (i % 4 == 2)
			snprintf(name, sizeof(name), "example%u.com", i % 100);
		else
			snprintf(name, sizeof(name), "x.host%u.example%u.com", i, i % 100);
		if (in_set(s, name))
			fail_msg("%s found", name);
	}
	/* Sealed: the same answers; an add after it unseals, and it seals again. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(domain_set_seal(s), 0);
		assert_non_null(s->cells);
		assert_null(s->slots);
		for (unsigned i = 0; i < 100000; i += 7) {
			snprintf(name, sizeof(name), "HOST%u.example%u.com.", i, i % 100);
			if (!in_set(s, name))
				fail_msg("sealed: %s not found", name);
			snprintf(name, sizeof(name), "host%u.example%u.com", i, (i + 1) % 100);
			if (in_set(s, name))
				fail_msg("sealed: %s found", name);
		}
		assert_int_equal(in_set(s, "x.more.example"), round == 1);
		if (domain_set_add(s, round ? "host1.example1.com" : "*.more.example", &col,
				   &why) != 0)
			fail_msg("rejected after the seal: %s", why);
		assert_null(s->cells);
		assert_true(in_set(s, "x.more.example"));
		assert_true(in_set(s, "host99999.example99.com"));
	}
	assert_int_equal(s->used, 100001);
	domain_set_free(s);
	domain_set_free(NULL);
}

/* A sealed set at its edges: empty, one bucket, every depth, the longest
 * names, the most labels, bytes that are not letters. */
static void test_sealed_edges(void **state)
{
	(void)state;
	struct domain_set *s = domain_set_new("edges");
	char name[300], pat[300];
	const char *why;
	size_t col;

	assert_non_null(s);
	assert_int_equal(domain_set_seal(s), 0);
	assert_false(in_set(s, "example.com"));
	assert_false(in_set(s, "a"));
	domain_set_free(s);

	/* Two entries: one bucket, scanned cell by cell. */
	s = SET("a", "*.a");
	assert_int_equal(s->cmask, 0);
	assert_true(in_set(s, "a"));
	assert_true(in_set(s, "A."));
	assert_true(in_set(s, "b.a"));
	assert_true(in_set(s, "c.b.a"));
	assert_false(in_set(s, "aa"));
	assert_false(in_set(s, "b.aa"));
	assert_false(in_set(s, ".a"));
	assert_false(in_set(s, "b..a"));
	assert_false(in_set(s, "b.a.."));
	domain_set_free(s);

	/* "*.l1...ld" for d = 1..12, and names at every depth under each. */
	s = domain_set_new("depth");
	pat[0] = '\0';
	for (int d = 1; d <= 12; d++) {
		char next[300];

		snprintf(next, sizeof(next), "l%d%s%s", d, d > 1 ? "." : "", pat);
		memcpy(pat, next, strlen(next) + 1);
		if (d % 3 == 0) {
			snprintf(name, sizeof(name), "*.%.60s", pat);
			if (domain_set_add(s, name, &col, &why) != 0)
				fail_msg("%s: %s", name, why);
		}
	}
	assert_int_equal(domain_set_seal(s), 0);
	/* pat is l12.l11...l1: a suffix of d labels is under *.l(d)...l1 when
	 * d is a multiple of 3 and the name is longer. */
	for (int depth = 1; depth <= 12; depth++) {
		const char *suffix = pat;

		for (int k = 12; k > depth; k--)
			suffix = strchr(suffix, '.') + 1;
		assert_int_equal(in_set(s, suffix), depth > 3);
		snprintf(name, sizeof(name), "X.%.60s", suffix);
		assert_int_equal(in_set(s, name), depth >= 3);
	}
	domain_set_free(s);

	/* The longest name, as an entry and under a wildcard; 127 labels. */
	memset(name, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		name[i] = '.';
	name[253] = '\0';
	s = SET(name, "*.b.c");
	assert_true(in_set(s, name));
	name[0] = 'A';
	assert_true(in_set(s, name));
	name[0] = 'b';
	assert_false(in_set(s, name));
	for (int i = 0; i < 253; i++)
		pat[i] = i % 2 ? '.' : 'x';
	pat[250] = 'b'; /* 127 labels, 253 characters, the last two b.c */
	pat[252] = 'c';
	pat[253] = '\0';
	assert_true(in_set(s, pat));
	pat[0] = '.';
	assert_false(in_set(s, pat));
	/* Not letters: the high bit, NUL; '@' and '[' next to 'A' and 'Z'. */
	assert_true(in_set(s, "\xc2.b.c"));
	assert_true(domain_set_match(s, "x\0y.b.c", 7));
	assert_false(domain_set_match(s, "b\0c", 3));
	domain_set_free(s);
	s = SET("z.example", "a.example");
	assert_true(in_set(s, "Z.EXAMPLE"));
	assert_true(in_set(s, "A.eXample"));
	assert_false(in_set(s, "@.example"));
	assert_false(in_set(s, "[.example"));
	assert_false(in_set(s, "\xc1.example")); /* 'A' | 0x80 */
	domain_set_free(s);
}

/* --- pack files --------------------------------------------------------- */

/* The fixture tests/unit/packs/<name> under $srcdir (or "."). */
static const char *fixture(const char *name)
{
	static char path[4][PATH_MAX];
	static unsigned next;
	const char *top = getenv("srcdir");
	char *p = path[next++ % 4];

	snprintf(p, PATH_MAX, "%s/tests/unit/packs/%s", top && *top ? top : ".", name);
	return p;
}

/* A fresh temporary directory per test, removed with what is in it. */
struct tmp {
	char dir[256];
	char path[512];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));
	const char *base = getenv("TMPDIR");

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s/dpix-test-rules-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) != 0)
			rm_tree(p);
	}
	closedir(d);
	rmdir(dir);
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	rm_tree(t->dir);
	free(t);
	return 0;
}

/* Write n bytes to <tmp>/<name>; the path is in t->path until the next call. */
static const char *tmp_write(struct tmp *t, const char *name, const void *text, size_t n)
{
	FILE *f;

	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	f = fopen(t->path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return t->path;
}

static const char *tmp_pack(struct tmp *t, const char *name, const char *text)
{
	return tmp_write(t, name, text, strlen(text));
}

static const struct rule *rule_named(const struct rule_pack *pk, const char *id)
{
	for (size_t i = 0; i < pk->nrules; i++)
		if (!strcmp(pk->rules[i].id, id))
			return &pk->rules[i];
	fail_msg("no rule %s in pack %s", id, pk->name);
	return NULL;
}

static void load_ok(struct ruleset *rs, const char *path)
{
	struct rules_error err;

	memset(&err, 0, sizeof(err));
	if (rules_load(rs, path, &err) != 0)
		fail_msg("%s: %s", path, err.msg);
}

static void test_valid_pack(void **state)
{
	(void)state;
	struct ruleset rs = { 0 };
	const char *path = fixture("valid.rules");
	const struct rule_pack *pk;
	const struct rule *r;

	load_ok(&rs, path);
	assert_int_equal(rs.npacks, 1);
	pk = rs.packs[0];
	assert_string_equal(pk->path, path);
	assert_string_equal(pk->name, "unit-valid");
	assert_string_equal(pk->version, "1.2");
	assert_string_equal(pk->date, "2025-05");
	assert_string_equal(pk->source, "Unit \"test\" pack, with a \\ backslash");

	assert_int_equal(pk->nsets, 2);
	assert_string_equal(pk->sets[0]->name, "exact");
	assert_int_equal(pk->sets[0]->kind, SET_DOMAINS);
	assert_int_equal(pk->sets[0]->u.dom->count, 2);
	assert_true(in_set(pk->sets[0]->u.dom, "a.example.com"));
	assert_true(in_set(pk->sets[0]->u.dom, "b.example.org"));
	assert_string_equal(pk->sets[1]->name, "block");
	assert_int_equal(pk->sets[1]->u.dom->count, 2);
	assert_true(in_set(pk->sets[1]->u.dom, "x.wild.example.net"));
	assert_true(in_set(pk->sets[1]->u.dom, "turn-1.openrainbow.com"));
	assert_false(in_set(pk->sets[1]->u.dom, "wild.example.net"));

	assert_int_equal(pk->nrules, 3);
	r = &pk->rules[0];
	assert_string_equal(r->id, "r-sni");
	assert_int_equal(r->action, ACTION_BYPASS);
	assert_int_equal(r->conds, COND_SNI);
	assert_ptr_equal(r->sni, pk->sets[0]);
	assert_string_equal(r->service, "svc-a");
	assert_string_equal(r->msg, "SNI \"exact\"");
	assert_string_equal(r->ref, "001 7.2");
	assert_int_equal(r->line, 17);
	assert_ptr_equal(r->pack, pk);

	r = &pk->rules[1];
	assert_string_equal(r->id, "r-connect");
	assert_int_equal(r->action, ACTION_DROP);
	assert_int_equal(r->conds, COND_CONNECT);
	assert_ptr_equal(r->connect, pk->sets[1]);
	assert_null(r->service);
	assert_string_equal(r->msg, "plain-word");
	assert_null(r->ref);
	assert_int_equal(r->line, 18);
	assert_ptr_equal(r->pack, pk);

	r = &pk->rules[2];
	assert_string_equal(r->id, "r-name");
	assert_int_equal(r->action, ACTION_INSPECT);
	assert_int_equal(r->conds, COND_NAME);
	assert_ptr_equal(r->name, pk->sets[1]);
	assert_string_equal(r->service, "two words");
	assert_null(r->msg);
	assert_string_equal(r->ref, "a\\b"); /* only \" and \\ are escapes */
	assert_int_equal(r->line, 19);

	ruleset_free(&rs);
	assert_int_equal(rs.npacks, 0);
	assert_null(rs.packs);
	ruleset_free(&rs); /* twice is harmless */
}

static void test_crlf_and_no_final_newline(void **state)
{
	struct tmp *t = *state;
	struct ruleset rs = { 0 };

	load_ok(&rs, tmp_pack(t, "crlf.rules",
			      "pack crlf\r\ndomains s = a.example.com\r\n"
			      "rule r1 bypass sni in s msg \"m\"\r\n"
			      "rule r2 bypass connect in s"));
	assert_int_equal(rs.npacks, 1);
	assert_int_equal(rs.packs[0]->nrules, 2);
	assert_string_equal(rs.packs[0]->rules[0].msg, "m");
	assert_int_equal(rs.packs[0]->rules[1].line, 4);
	ruleset_free(&rs);
}

/* --- evaluation --------------------------------------------------------- */

static struct dpix_facts facts_of(const char *sni, const char *host)
{
	struct dpix_facts f;

	memset(&f, 0, sizeof(f));
	if (sni) {
		f.sni_len = (uint8_t)strlen(sni);
		memcpy(f.sni, sni, f.sni_len + 1);
	}
	if (host) {
		f.app = APP_CONNECT;
		f.connect_host_len = (uint8_t)strlen(host);
		memcpy(f.connect_host, host, f.connect_host_len + 1);
		f.connect_port = 443;
	}
	return f;
}

/* The verdict for these names: action and rule id (NULL: no rule). */
static void assert_verdict(const struct ruleset *rs, const char *sni, const char *host,
			   enum rule_action action, const char *id)
{
	struct dpix_facts f = facts_of(sni, host);
	struct rules_input in = { .facts = &f, .proto = 6, .dport = 443 };
	struct verdict v;

	in.src = in.addr[0];
	in.dst = in.addr[1];
	memset(&v, 0xa5, sizeof(v));
	rules_eval(rs, &in, &v);
	assert_int_equal(v.action, action);
	if (!id) {
		assert_null(v.rule);
		return;
	}
	assert_non_null(v.rule);
	assert_string_equal(v.rule->id, id);
}

static void test_eval_fields(void **state)
{
	(void)state;
	struct ruleset rs = { 0 };

	load_ok(&rs, fixture("valid.rules"));
	/* sni: the server name only. */
	assert_verdict(&rs, "a.example.com", NULL, ACTION_BYPASS, "r-sni");
	assert_verdict(&rs, "B.EXAMPLE.ORG.", NULL, ACTION_BYPASS, "r-sni");
	assert_verdict(&rs, NULL, "a.example.com", ACTION_INSPECT, NULL);
	/* connect: the CONNECT host only. */
	assert_verdict(&rs, NULL, "turn-rbx1.openrainbow.com", ACTION_DROP, "r-connect");
	assert_verdict(&rs, "nothing.example", "x.wild.example.net", ACTION_DROP, "r-connect");
	/* name: either; a rule that says inspect is still a rule. */
	assert_verdict(&rs, "turn-rbx1.openrainbow.com", NULL, ACTION_INSPECT, "r-name");
	assert_verdict(&rs, "a.b.wild.example.net", NULL, ACTION_INSPECT, "r-name");
	/* Both names match something: the first rule written wins. */
	assert_verdict(&rs, "a.example.com", "turn-x.openrainbow.com", ACTION_BYPASS, "r-sni");
	/* Nothing matches: inspect, no rule. */
	assert_verdict(&rs, "wild.example.net", "example.com", ACTION_INSPECT, NULL);
	assert_verdict(&rs, NULL, NULL, ACTION_INSPECT, NULL);
	ruleset_free(&rs);

	/* No packs at all. */
	assert_verdict(&rs, "a.example.com", NULL, ACTION_INSPECT, NULL);
}

static void test_eval_order_across_packs(void **state)
{
	(void)state;
	struct ruleset rs = { 0 };

	load_ok(&rs, fixture("first.rules"));
	load_ok(&rs, fixture("second.rules"));
	assert_int_equal(rs.npacks, 2);
	assert_string_equal(rs.packs[0]->name, "first");
	assert_string_equal(rs.packs[1]->name, "second");
	assert_verdict(&rs, "shared.example.com", NULL, ACTION_DROP, "first-drop");
	assert_ptr_equal(rule_named(rs.packs[0], "first-drop")->pack, rs.packs[0]);
	assert_verdict(&rs, "only-second.example.com", NULL, ACTION_BYPASS, "second-sni");
	assert_verdict(&rs, NULL, "shared.example.com", ACTION_INSPECT, "second-name");
	ruleset_free(&rs);

	/* The other load order, the other verdict. */
	load_ok(&rs, fixture("second.rules"));
	load_ok(&rs, fixture("first.rules"));
	assert_verdict(&rs, "shared.example.com", NULL, ACTION_BYPASS, "second-sni");
	ruleset_free(&rs);
}

static void test_shipped_packs(void **state)
{
	(void)state;
	/* The packs in rules/ parse, and the flows they were written for get
	 * through. */
	struct ruleset rs = { 0 };
	const char *top = getenv("srcdir");
	char path[PATH_MAX];
	struct rules_error err;

	snprintf(path, sizeof(path), "%s/rules", top && *top ? top : ".");
	if (rules_load_dir(&rs, path, &err) != 0)
		fail_msg("%s", err.msg);
	assert_verdict(&rs, NULL, "turn-rbx1.openrainbow.com", ACTION_BYPASS,
		       "rainbow-turn-connect");
	assert_verdict(&rs, "web.openrainbow.com", NULL, ACTION_BYPASS, "rainbow-wss");
	assert_verdict(&rs, "www.example.com", "example.com", ACTION_INSPECT, NULL);
	ruleset_free(&rs);
}

/* --- errors ------------------------------------------------------------- */

/*
 * text, loaded into a ruleset that already holds valid.rules, fails with
 * exactly path + where_what, and the ruleset is as it was.
 */
static void assert_load_error_bytes(struct tmp *t, const void *text, size_t n,
				    const char *where_what)
{
	struct ruleset rs = { 0 };
	struct rules_error err;
	struct rule_pack *before;
	char want[sizeof(err.msg)];
	const char *path;

	load_ok(&rs, fixture("valid.rules"));
	before = rs.packs[0];
	path = tmp_write(t, "bad.rules", text, n);
	snprintf(want, sizeof(want), "%s%s", path, where_what);
	memset(&err, 0, sizeof(err));
	assert_int_equal(rules_load(&rs, path, &err), -1);
	assert_string_equal(err.msg, want);
	assert_int_equal(rs.npacks, 1);
	assert_ptr_equal(rs.packs[0], before);
	assert_verdict(&rs, "a.example.com", NULL, ACTION_BYPASS, "r-sni");
	/* A later good pack still loads. */
	load_ok(&rs, fixture("first.rules"));
	assert_int_equal(rs.npacks, 2);
	assert_verdict(&rs, "shared.example.com", NULL, ACTION_DROP, "first-drop");
	ruleset_free(&rs);
}

static void assert_load_error(struct tmp *t, const char *text, const char *where_what)
{
	assert_load_error_bytes(t, text, strlen(text), where_what);
}

static void test_err_pack_first(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "version 1\npack p\n",
			  ":1:1: found 'version', expected 'pack NAME' as the first statement");
	assert_load_error(t, "# comment\n\n  domains s = a.com\n",
			  ":3:3: found 'domains', expected 'pack NAME' as the first statement");
	assert_load_error(t, "pack \"p\"\n",
			  ":1:6: found 'p', expected a pack name (a letter, then letters, digits, "
			  "'-', '_' or '.')");
	assert_load_error(t, "pack 1p\n",
			  ":1:6: found '1p', expected a pack name (a letter, then letters, digits, "
			  "'-', '_' or '.')");
}

static void test_err_second_pack(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\nversion 1\npack q\n",
			  ":3:1: a second 'pack' statement: one pack per file");
}

static void test_err_unknown_keyword(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomain s = a.com\n",
			  ":2:1: found 'domain', expected pack, version, date, source, default, "
			  "domains, patterns, addresses, ports, rule or include");
	assert_load_error(
	    t, "pack p\n\t= x\n",
	    ":2:2: found '=', expected pack, version, date, source, default, domains, "
	    "patterns, addresses, ports, rule or include");
}

static void test_err_unknown_action(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 allow sni in s\n",
			  ":3:9: found 'allow', expected an action: bypass, inspect or drop");
	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 BYPASS sni in s\n",
			  ":3:9: found 'BYPASS', expected an action: bypass, inspect or drop");
	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1\n",
			  ":3:8: found end of line, expected an action: bypass, inspect or drop");
}

static void test_err_unknown_field(void **state)
{
	struct tmp *t = *state;

	assert_load_error(
	    t, "pack p\ndomains s = a.com\nrule r1 bypass host in s\n",
	    ":3:16: found 'host', expected a condition (sni, connect, name, http-host, "
	    "dst, src, dport, connect-port, transport, app, tunnel, websocket, "
	    "fronting, push, ja4) or service, msg, ref, timeout");
}

static void test_err_missing_in(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 bypass sni s\n",
			  ":3:20: found 's', expected 'in' after 'sni'");
	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 bypass sni\n",
			  ":3:19: found end of line, expected 'in' after 'sni'");
	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 bypass sni",
			  ":3:19: found end of file, expected 'in' after 'sni'");
}

static void test_err_unknown_set(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 bypass sni in nope\n",
			  ":3:23: found 'nope', expected the name of a set defined above");
	/* Defined below the rule is not defined above. */
	assert_load_error(t, "pack p\nrule r1 bypass sni in s\ndomains s = a.com\n",
			  ":2:23: found 's', expected the name of a set defined above");
}

static void test_err_duplicate_set(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomains s = a.com\ndomains s { b.com }\n",
			  ":3:9: set 's' is already defined in this pack");
}

static void test_err_duplicate_rule(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t,
			  "pack p\ndomains s = a.com\nrule r1 bypass sni in s\n"
			  "rule r2 bypass sni in s\nrule r1 drop connect in s\n",
			  ":5:6: rule id 'r1' is already used on line 3");
}

static void test_err_empty_set(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomains s =\n",
			  ":2:12: set 's' is empty: expected domain names after '='");
	assert_load_error(
	    t, "pack p\ndomains s =", ":2:12: set 's' is empty: expected domain names after '='");
}

static void test_err_empty_block_set(void **state)
{
	struct tmp *t = *state;

	/* The block form with no names is as empty as "s =". */
	assert_load_error(t, "pack p\ndomains s { }\nrule r1 bypass sni in s\n",
			  ":2:13: set 's' is empty: expected domain names before '}'");
	assert_load_error(t, "pack p\ndomains s {\n\t# nothing yet\n\n}\n",
			  ":5:1: set 's' is empty: expected domain names before '}'");
}

static void test_err_unterminated_string(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\nsource \"abc\nversion 1\n",
			  ":2:8: unterminated string: expected a closing '\"' on the same line");
	assert_load_error(t, "pack p\nsource \"abc",
			  ":2:8: unterminated string: expected a closing '\"' on the same line");
	/* An escaped quote does not close it. */
	assert_load_error(t, "pack p\nsource \"abc\\\"\n",
			  ":2:8: unterminated string: expected a closing '\"' on the same line");
	assert_load_error(t,
			  "pack p\ndomains s = a.com\nrule r1 bypass sni in s msg \"x\" ref \"y\n",
			  ":3:37: unterminated string: expected a closing '\"' on the same line");
}

static void test_err_unclosed_block(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomains s {\n\ta.com\n",
			  ":4:1: found end of file, expected '}' to close set 's'");
	assert_load_error(t, "pack p\ndomains s {\n\ta.com",
			  ":3:7: found end of file, expected '}' to close set 's'");
}

static void test_err_bad_domain(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\ndomains s = good.example.com a.*.com\n",
			  ":2:32: bad domain 'a.*.com': '*' is only allowed in the leftmost label");
	assert_load_error(
	    t, "pack p\ndomains s {\n\tok.example.com\n\tbad/name.com\n}\n",
	    ":4:5: bad domain 'bad/name.com': character not allowed in a domain name");
	assert_load_error(t, "pack p\ndomains s = a..com\n",
			  ":2:15: bad domain 'a..com': empty label");
	assert_load_error(t, "pack p\ndomains s = *\n",
			  ":2:13: bad domain '*': a wildcard needs a domain after it, as in "
			  "*.example.com");
	assert_load_error(t, "pack p\ndomains s = \"a.com\"\n", ":2:13: expected a domain name");
	assert_load_error(t, "pack p\ndomains s a.com\n",
			  ":2:11: found 'a.com', expected '=', '{' or 'from' after the set name");
}

static void test_err_long_domain(void **state)
{
	struct tmp *t = *state;
	char text[800], want[512], name[400];

	/* 254 characters (63.63.63.62): the 254th is the offending one, at
	 * column 13 + 253 = 266. */
	long_name(name, 254);
	snprintf(text, sizeof(text), "pack p\ndomains s = %s\n", name);
	snprintf(want, sizeof(want), ":2:266: bad domain '%s': name longer than 253 characters",
		 name);
	assert_load_error(t, text, want);
	/* 300 characters and more: the message shows the first 60. */
	long_name(name, 350);
	snprintf(text, sizeof(text), "pack p\ndomains s {\n\t%s\n}\n", name);
	assert_load_error(
	    t, text,
	    ":3:2: bad domain 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...': "
	    "name longer than 253 characters");
}

static void test_err_trailing_garbage(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p extra\n", ":1:8: found 'extra', expected the end of the line");
	assert_load_error(t, "pack p\nversion 1 2\n",
			  ":2:11: found '2', expected the end of the line");
	assert_load_error(t, "pack p\nsource \"a\" \"b\"\n",
			  ":2:12: found 'b', expected the end of the line");
	assert_load_error(t, "pack p\ndomains s { a.com } x\n",
			  ":2:21: found 'x', expected the end of the line");
	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 bypass sni in s extra\n",
			  ":3:25: found 'extra', expected a condition (sni, connect, name, "
			  "http-host, dst, src, dport, connect-port, transport, app, tunnel, "
			  "websocket, fronting, push, ja4) or service, msg, ref, timeout");
	assert_load_error(t, "pack p\ndomains s = a.com\nrule r1 bypass sni in s msg\n",
			  ":3:28: found end of line, expected a message");
}

static void test_err_control_character(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "pack p\x01q\n", ":1:7: control character 0x01 in the pack");
}

static void test_err_nul_byte(void **state)
{
	struct tmp *t = *state;
	static const char text[] = "pack p\n\0domains s = a.com\n";

	assert_load_error_bytes(t, text, sizeof(text) - 1,
				": contains a NUL byte: not a text file");
}

static void test_err_missing_file(void **state)
{
	struct tmp *t = *state;
	struct ruleset rs = { 0 };
	struct rules_error err;
	char path[512], want[1024];

	load_ok(&rs, fixture("valid.rules"));
	snprintf(path, sizeof(path), "%s/missing.rules", t->dir);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_int_equal(rules_load(&rs, path, &err), -1);
	assert_string_equal(err.msg, want);
	assert_int_equal(rs.npacks, 1);
	ruleset_free(&rs);
}

static void test_err_empty_file(void **state)
{
	struct tmp *t = *state;

	assert_load_error(t, "", ":1:1: empty pack: expected 'pack NAME' as the first statement");
	assert_load_error(t, "# only a comment\n\n",
			  ":1:1: empty pack: expected 'pack NAME' as the first statement");
}

/* --- directories -------------------------------------------------------- */

static void test_load_dir(void **state)
{
	struct tmp *t = *state;
	static const char *const order[] = { "30-c", "10-a", "50-e", "20-b", "60-f", "40-d" };
	struct ruleset rs = { 0 };
	struct rules_error err;
	char name[64], text[200];

	/* Six packs written shuffled, so that no directory order is sorted by
	 * chance; each one's rule drops the same name. */
	for (size_t i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "%s.rules", order[i]);
		snprintf(text, sizeof(text),
			 "pack p%s\ndomains s = shared.example.com\nrule r%s drop sni in s\n",
			 order[i] + 3, order[i] + 3);
		tmp_pack(t, name, text);
	}
	/* Only *.rules that are not hidden count. */
	tmp_pack(t, "notes.txt", "not a pack\n");
	tmp_pack(t, "30-old.rules.bak", "not a pack\n");
	tmp_pack(t, ".hidden.rules", "not a pack\n");
	tmp_pack(t, "x.RULES", "not a pack\n");
	tmp_pack(t, ".rules", "not a pack\n");
	memset(&err, 0, sizeof(err));
	if (rules_load_dir(&rs, t->dir, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(rs.npacks, 6);
	assert_string_equal(rs.packs[0]->name, "pa");
	assert_string_equal(rs.packs[1]->name, "pb");
	assert_string_equal(rs.packs[2]->name, "pc");
	assert_string_equal(rs.packs[3]->name, "pd");
	assert_string_equal(rs.packs[4]->name, "pe");
	assert_string_equal(rs.packs[5]->name, "pf");
	/* The first pack in name order decides. */
	assert_verdict(&rs, "shared.example.com", NULL, ACTION_DROP, "ra");
	ruleset_free(&rs);
}

static void test_load_dir_bad_pack(void **state)
{
	struct tmp *t = *state;
	struct ruleset rs = { 0 };
	struct rules_error err;
	char want[1024];

	tmp_pack(t, "10-good.rules", "pack good\ndomains s = a.com\n");
	tmp_pack(t, "20-bad.rules", "pack bad\nbogus\n");
	snprintf(want, sizeof(want),
		 "%s/20-bad.rules:2:1: found 'bogus', expected pack, version, date, source, "
		 "default, domains, patterns, addresses, ports, rule or include",
		 t->dir);
	assert_int_equal(rules_load_dir(&rs, t->dir, &err), -1);
	assert_string_equal(err.msg, want);
	ruleset_free(&rs);
}

static void test_load_dir_empty(void **state)
{
	struct tmp *t = *state;
	struct ruleset rs = { 0 };
	struct rules_error err;
	char want[1024];

	tmp_pack(t, "readme.txt", "no packs here\n");
	snprintf(want, sizeof(want), "%s: no *.rules files", t->dir);
	assert_int_equal(rules_load_dir(&rs, t->dir, &err), -1);
	assert_string_equal(err.msg, want);
	assert_int_equal(rs.npacks, 0);

	snprintf(want, sizeof(want),
		 "%s/nope: cannot open rules directory: No such file or directory", t->dir);
	{
		char missing[512];

		snprintf(missing, sizeof(missing), "%s/nope", t->dir);
		assert_int_equal(rules_load_dir(&rs, missing, &err), -1);
		assert_string_equal(err.msg, want);
	}
	assert_int_equal(rs.npacks, 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(rule_action_name(ACTION_BYPASS), "bypass");
	assert_string_equal(rule_action_name(ACTION_INSPECT), "inspect");
	assert_string_equal(rule_action_name(ACTION_DROP), "drop");
	assert_string_equal(rule_action_name(ACTION_COUNT), "invalid");
	assert_string_equal(verdict_reason_name(REASON_BUDGET), "budget_exhausted");
	assert_string_equal(verdict_reason_name(REASON_COUNT), "invalid");
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

/* --- address, port and pattern sets ------------------------------------ */

static void addr_of(const char *text, uint8_t a[16])
{
	uint8_t plen, family;
	const char *why;

	if (addr_parse(text, a, &plen, &family, &why) != 0)
		fail_msg("%s: %s", text, why);
}

static bool addr_in(const struct addr_set *s, const char *text)
{
	uint8_t a[16];

	addr_of(text, a);
	return addr_set_match(s, a);
}

static void test_addr_parse(void **state)
{
	uint8_t a[16], plen, family;
	const char *why;

	(void)state;
	assert_int_equal(addr_parse("192.0.2.0/24", a, &plen, &family, &why), 0);
	assert_int_equal(plen, 96 + 24);
	assert_int_equal(family, 4);
	assert_int_equal(a[10], 0xff);
	assert_int_equal(a[12], 192);
	assert_int_equal(addr_parse("2001:db8::/32", a, &plen, &family, &why), 0);
	assert_int_equal(plen, 32);
	assert_int_equal(family, 6);
	assert_int_equal(addr_parse("198.51.100.7", a, &plen, &family, &why), 0);
	assert_int_equal(plen, 128);
	assert_int_equal(addr_parse("::", a, &plen, &family, &why), 0);
	assert_int_equal(addr_parse("0.0.0.0/0", a, &plen, &family, &why), 0);
	assert_int_equal(plen, 96);
	/* Refused, each with its reason. */
	assert_int_equal(addr_parse("192.0.2.1/24", a, &plen, &family, &why), -1);
	assert_string_equal(why, "bits are set past the prefix length (write the network address)");
	assert_int_equal(addr_parse("192.0.2.0/33", a, &plen, &family, &why), -1);
	assert_string_equal(why, "an IPv4 prefix length is 0 to 32");
	assert_int_equal(addr_parse("2001:db8::/129", a, &plen, &family, &why), -1);
	assert_string_equal(why, "an IPv6 prefix length is 0 to 128");
	assert_int_equal(addr_parse("192.0.2.0/", a, &plen, &family, &why), -1);
	assert_int_equal(addr_parse("192.0.2.0/024", a, &plen, &family, &why), -1);
	assert_int_equal(addr_parse("192.0.2.0/2x", a, &plen, &family, &why), -1);
	assert_int_equal(addr_parse("192.0.2", a, &plen, &family, &why), -1);
	assert_string_equal(why, "not an IPv4 or IPv6 address");
	assert_int_equal(addr_parse("1.2.3.256", a, &plen, &family, &why), -1);
	assert_int_equal(addr_parse("", a, &plen, &family, &why), -1);
	assert_int_equal(addr_parse("/8", a, &plen, &family, &why), -1);
	assert_int_equal(addr_parse("example.com", a, &plen, &family, &why), -1);
}

static void test_addr_set(void **state)
{
	static const char *const entries[] = {
		"192.0.2.0/25",	 "192.0.2.128/25",		  /* adjacent: merged into a /24 */
		"198.51.100.7",	 "10.0.0.0/8",	   "10.1.0.0/16", /* inside the /8 */
		"2001:db8::/32", "2001:db8:1::1",
	};
	struct addr_set *s = addr_set_new();

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		uint8_t a[16], plen, family;
		const char *why;

		assert_int_equal(addr_parse(entries[i], a, &plen, &family, &why), 0);
		assert_int_equal(addr_set_add(s, a, plen), 0);
	}
	assert_int_equal(addr_set_seal(s), 0);
	assert_int_equal(s->ncidrs, 7);
	assert_int_equal(s->nranges, 4);
	assert_true(addr_in(s, "192.0.2.0"));
	assert_true(addr_in(s, "192.0.2.127"));
	assert_true(addr_in(s, "192.0.2.128"));
	assert_true(addr_in(s, "192.0.2.255"));
	assert_false(addr_in(s, "192.0.1.255"));
	assert_false(addr_in(s, "192.0.3.0"));
	assert_true(addr_in(s, "198.51.100.7"));
	assert_false(addr_in(s, "198.51.100.6"));
	assert_false(addr_in(s, "198.51.100.8"));
	assert_true(addr_in(s, "10.255.255.255"));
	assert_false(addr_in(s, "11.0.0.0"));
	assert_true(addr_in(s, "2001:db8:ffff::1"));
	assert_false(addr_in(s, "2001:db9::"));
	assert_false(addr_in(s, "::"));
	/* An IPv4 set never holds IPv6 addresses outside ::ffff:0:0/96. */
	assert_false(addr_in(s, "::c000:201")); /* IPv4-compatible, not mapped */
	assert_true(addr_in(s, "::ffff:192.0.2.1"));
	addr_set_free(s);

	/* Empty (sealed) set: nothing matches. */
	s = addr_set_new();
	assert_int_equal(addr_set_seal(s), 0);
	assert_false(addr_in(s, "192.0.2.1"));
	addr_set_free(s);
}

/* A sealed set of the CIDRs in a NULL-terminated list. */
static struct addr_set *addr_set_of(const char *const *cidrs)
{
	struct addr_set *s = addr_set_new();

	assert_non_null(s);
	for (; *cidrs; cidrs++) {
		uint8_t a[16], plen, family;
		const char *why;

		if (addr_parse(*cidrs, a, &plen, &family, &why) < 0)
			fail_msg("%s: %s", *cidrs, why);
		assert_int_equal(addr_set_add(s, a, plen), 0);
	}
	assert_int_equal(addr_set_seal(s), 0);
	return s;
}

/* The IPv4 block's edges: ranges that hold it, reach into it from either
 * side (merged with a neighbour), /0, /32 and /128, with and without the
 * IPv4 table (padded with 300 /32s far away). */
static void test_addr_set_v4_edges(void **state)
{
	(void)state;
	for (int big = 0; big < 2; big++) {
		const char *list[400] = { 0 };
		char pad[300][24];
		size_t n = 0;
		struct addr_set *s;

		if (big)
			for (int i = 0; i < 300; i++) {
				snprintf(pad[i], sizeof(pad[i]), "100.%d.%d.1", i / 250, i % 250);
				list[n++] = pad[i];
			}
		list[n] = "::/64"; /* holds all of ::ffff:0:0/96 */
		s = addr_set_of(list);
		assert_true(addr_in(s, "0.0.0.0"));
		assert_true(addr_in(s, "255.255.255.255"));
		assert_true(addr_in(s, "::1"));
		assert_false(addr_in(s, "0:0:0:1::"));
		addr_set_free(s);

		/* below the block into it, and from its top out of it */
		list[n] = "::fffe:ffff:ffff";
		list[n + 1] = "0.0.0.0/8";
		list[n + 2] = "255.255.255.0/24";
		list[n + 3] = "::1:0:0:0";
		s = addr_set_of(list);
		assert_true(addr_in(s, "0.1.2.3"));
		assert_true(addr_in(s, "::fffe:ffff:ffff"));
		assert_false(addr_in(s, "::fffe:ffff:fffe"));
		assert_false(addr_in(s, "1.0.0.0"));
		assert_true(addr_in(s, "255.255.255.255"));
		assert_false(addr_in(s, "255.255.254.255"));
		assert_true(addr_in(s, "::1:0:0:0"));
		assert_false(addr_in(s, "::1:0:0:1"));
		assert_int_equal(addr_in(s, "100.0.0.1"), big);
		assert_int_equal(s->v4at != NULL, big);
		assert_false(addr_in(s, "100.0.0.2"));
		addr_set_free(s);

		/* /32s at the ends of the space, inside a /16, and a /128 */
		list[n] = "0.0.0.0/32";
		list[n + 1] = "255.255.255.255/32";
		list[n + 2] = "10.1.0.0/16";
		list[n + 3] = "10.1.2.3/32";
		list[n + 4] = "2001:db8::1/128";
		s = addr_set_of(list);
		assert_true(addr_in(s, "0.0.0.0"));
		assert_false(addr_in(s, "0.0.0.1"));
		assert_true(addr_in(s, "255.255.255.255"));
		assert_false(addr_in(s, "255.255.255.254"));
		assert_true(addr_in(s, "10.1.255.255"));
		assert_false(addr_in(s, "10.2.0.0"));
		assert_false(addr_in(s, "10.0.255.255"));
		assert_true(addr_in(s, "2001:db8::1"));
		assert_false(addr_in(s, "2001:db8::2"));
		assert_false(addr_in(s, "::"));
		addr_set_free(s);

		/* IPv4 /0 and IPv6 /0 */
		list[n] = "0.0.0.0/0";
		list[n + 1] = NULL;
		s = addr_set_of(list);
		assert_true(addr_in(s, "0.0.0.0"));
		assert_true(addr_in(s, "255.255.255.255"));
		assert_false(addr_in(s, "::fffe:ffff:ffff"));
		assert_false(addr_in(s, "::1:0:0:0"));
		assert_int_equal(s->nv4, 1);
		addr_set_free(s);
		list[n] = "::/0";
		s = addr_set_of(list);
		assert_true(addr_in(s, "1.2.3.4"));
		assert_true(addr_in(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
		assert_true(addr_in(s, "::"));
		addr_set_free(s);
	}
}

/* --- addr_set_match against a scan of every CIDR -------------------------- */

static uint64_t xs_state = 88172645463325252ULL;

static uint64_t xs(void)
{
	xs_state ^= xs_state << 13;
	xs_state ^= xs_state >> 7;
	xs_state ^= xs_state << 17;
	return xs_state;
}

static bool naive_in(const struct addr_cidr *c, size_t n, const uint8_t a[16])
{
	for (size_t i = 0; i < n; i++) {
		unsigned full = c[i].plen / 8, rest = c[i].plen % 8;

		if (!memcmp(a, c[i].addr, full) &&
		    (!rest || !((a[full] ^ c[i].addr[full]) & (0xff00u >> rest))))
			return true;
	}
	return false;
}

/* A random CIDR, IPv4 mapped or IPv6 below or above the IPv4 block, with
 * prefix lengths that nest and overlap; /0, /32 and /128 among them. */
static void rnd_cidr(uint8_t a[16], uint8_t *plen)
{
	uint64_t r = xs();
	unsigned kind = (unsigned)(r % 8), len;

	for (int i = 0; i < 16; i += 8) {
		uint64_t w = xs();

		memcpy(a + i, &w, 8);
	}
	if (kind < 5) { /* IPv4, in 16 /8s so that they overlap */
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		a[12] = (uint8_t)(10 + (r >> 8) % 16);
		len = (unsigned[]){ 20, 22, 24, 24, 28, 30, 32, 32, 32, 32 }[(r >> 16) % 10];
		if ((r >> 32) % 1000 == 0) /* a few that hold many others */
			len = (unsigned[]){ 8, 12, 16, 18 }[(r >> 40) % 4];
		if ((r >> 24) % 500 == 0)
			len = 0;
		len += 96;
	} else if (kind == 5) { /* low IPv6: ::/96-ish, 64:ff9b::/96 */
		memset(a, 0, 8);
		a[8] = (uint8_t)((r >> 8) % 4);
		len = (unsigned[]){ 104, 112, 120, 124, 128, 128 }[(r >> 16) % 6];
		if ((r >> 32) % 1000 == 0)
			len = (unsigned[]){ 64, 72, 96 }[(r >> 40) % 3];
	} else { /* high IPv6 in a few /16s */
		a[0] = 0x20;
		a[1] = (uint8_t)((r >> 8) % 4);
		len = (unsigned[]){ 48, 56, 64, 64, 96, 120, 128, 128, 128 }[(r >> 16) % 9];
		if ((r >> 32) % 1000 == 0)
			len = (unsigned[]){ 16, 24, 32 }[(r >> 40) % 3];
		if ((r >> 24) % 500 == 0)
			len = 0;
	}
	for (unsigned b = len; b < 128; b++)
		a[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
	*plen = (uint8_t)len;
}

/* Does a/plen hold ::ffff:0.0.0.0/8, i.e. cover a fair part of IPv4? */
static bool holds_v4_block(const uint8_t a[16], unsigned plen)
{
	static const uint8_t v4[16] = { [10] = 0xff, [11] = 0xff };

	for (unsigned b = 0; b < plen; b++)
		if ((a[b / 8] ^ v4[b / 8]) & (0x80u >> (b % 8)))
			return false;
	return true;
}

static void test_addr_set_random(void **state)
{
	static const size_t sizes[] = { 1, 7, 300, 3000, 40000 };

	(void)state;
	for (size_t round = 0; round < sizeof(sizes) / sizeof(sizes[0]); round++) {
		struct addr_set *s = addr_set_new();
		size_t n = sizes[round];

		assert_non_null(s);
		for (size_t i = 0; i < n; i++) {
			uint8_t a[16], plen;

			rnd_cidr(a, &plen);
			if (n > 7 && plen == 0)
				plen = 96; /* a /0 in a big set would hide the rest */
			if (n > 7 && plen < 104 && holds_v4_block(a, plen))
				plen = 128; /* so would IPv4 /0 to /7 and what holds them
					     * all (the IPv4 table needs many ranges) */
			assert_int_equal(addr_set_add(s, a, plen), 0);
		}
		assert_int_equal(addr_set_seal(s), 0);
		/* the big ones are searched through buckets */
		assert_true(n < 40000 || s->bucket);
		assert_true(n < 3000 || s->v4at);
		for (int q = 0; q < 20000; q++) {
			const struct addr_cidr *c = &s->cidrs[xs() % n];
			uint8_t a[16], plen;
			uint64_t r = xs();

			if (r % 3 == 0) { /* inside or at the edges of an entry */
				memcpy(a, c->addr, 16);
				for (unsigned b = c->plen; b < 128; b++)
					if ((r >> 8) % 4 == 0 || ((r >> 8) % 4 == 1 && (xs() & 1)))
						a[b / 8] |= (uint8_t)(0x80u >> (b % 8));
				if ((r >> 12) % 3 == 0) /* one past the end, or before */
					for (int i = 15; i >= 0; i--)
						if ((r >> 16) & 1 ? ++a[i] != 0 : a[i]-- != 0)
							break;
			} else {
				rnd_cidr(a, &plen);
				if (plen < 128)
					a[15] ^= (uint8_t)r;
			}
			if (addr_set_match(s, a) != naive_in(s->cidrs, n, a))
				fail_msg("set of %zu, query %d: addr_set_match %d, scan %d", n, q,
					 addr_set_match(s, a), naive_in(s->cidrs, n, a));
		}
		addr_set_free(s);
	}
}

static void test_ports(void **state)
{
	static const char *const bad[] = { "0",	 "65536", "10-5", "01", "1-",
					   "-1", "1-2-3", "x",	  "",	"443 " };
	struct port_set *s = port_set_new();
	uint16_t lo, hi;
	const char *why;

	(void)state;
	assert_int_equal(port_parse("443", &lo, &hi, &why), 0);
	assert_int_equal(lo, 443);
	assert_int_equal(hi, 443);
	assert_int_equal(port_parse("5228-5230", &lo, &hi, &why), 0);
	assert_int_equal(lo, 5228);
	assert_int_equal(hi, 5230);
	assert_int_equal(port_parse("1-65535", &lo, &hi, &why), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (port_parse(bad[i], &lo, &hi, &why) == 0)
			fail_msg("port '%s' accepted", bad[i]);
	assert_int_equal(port_set_add(s, 5228, 5230), 0);
	assert_int_equal(port_set_add(s, 443, 443), 0);
	assert_int_equal(port_set_add(s, 5231, 5231), 0); /* adjacent: merged */
	assert_int_equal(port_set_add(s, 5229, 5229), 0); /* inside */
	assert_int_equal(port_set_add(s, 65535, 65535), 0);
	assert_int_equal(port_set_seal(s), 0);
	assert_int_equal(s->nranges, 3);
	assert_true(port_set_match(s, 443));
	assert_false(port_set_match(s, 442));
	assert_false(port_set_match(s, 444));
	assert_true(port_set_match(s, 5228));
	assert_true(port_set_match(s, 5231));
	assert_false(port_set_match(s, 5232));
	assert_true(port_set_match(s, 65535));
	assert_false(port_set_match(s, 0));
	port_set_free(s);
}

static void test_patterns(void **state)
{
	struct pattern_set *s = pattern_set_new();
	const char *re = "turn-[a-z]+[0-9]*\\.openrainbow\\.com";
	char why[160];
	size_t col;

	(void)state;
	assert_int_equal(pattern_set_add(s, re, strlen(re), &col, why, sizeof(why)), 0);
	/* Anchored at both ends, any case, a trailing dot ignored. */
	assert_true(pattern_set_match(s, "turn-rbx1.openrainbow.com", 25));
	assert_true(pattern_set_match(s, "TURN-GRA.OpenRainbow.COM.", 25));
	assert_false(pattern_set_match(s, "xturn-rbx1.openrainbow.com", 26));
	assert_false(pattern_set_match(s, "turn-rbx1.openrainbow.com.evil.net", 34));
	assert_false(pattern_set_match(s, "turn-rbx1.openrainbowxcom", 25));
	assert_false(pattern_set_match(s, "", 0));
	/* An alternation is anchored as a whole, not only its first branch. */
	re = "a\\.example|b\\.example";
	assert_int_equal(pattern_set_add(s, re, strlen(re), &col, why, sizeof(why)), 0);
	assert_true(pattern_set_match(s, "b.example", 9));
	assert_false(pattern_set_match(s, "b.example.org", 13));
	/* A bad pattern: the library's reason and where. */
	re = "turn-(rbx";
	assert_int_equal(pattern_set_add(s, re, strlen(re), &col, why, sizeof(why)), -1);
	assert_int_equal(col, 9);
	assert_non_null(strstr(why, "missing closing parenthesis"));
	assert_int_equal(s->n, 2);
	pattern_set_free(s);
}

/* --- the version-2 language ---------------------------------------------- */

/* A flow for rules: server 198.51.100.7:443 over TCP unless changed. */
struct flow_case {
	struct dpix_facts f;
	struct rules_input in;
};

static struct flow_case *flow_case(const char *dst, uint16_t dport, uint8_t proto)
{
	static struct flow_case c;

	memset(&c, 0, sizeof(c));
	c.in.facts = &c.f;
	c.in.proto = proto;
	c.in.dport = dport;
	c.in.sport = 40000;
	addr_of("192.0.2.2", c.in.addr[0]);
	addr_of(dst, c.in.addr[1]);
	c.in.src = c.in.addr[0];
	c.in.dst = c.in.addr[1];
	return &c;
}

static const char *verdict_id(const struct ruleset *rs, const struct flow_case *c, uint8_t *action)
{
	struct verdict v;

	rules_eval(rs, &c->in, &v);
	*action = v.action;
	return v.rule ? v.rule->id : "-";
}

#define ASSERT_RULE(rs, c, id)                                     \
	do {                                                       \
		uint8_t act_;                                      \
		assert_string_equal(verdict_id(rs, c, &act_), id); \
	} while (0)

static void set_str(char *dst, uint8_t *len, const char *s)
{
	*len = (uint8_t)strlen(s);
	memcpy(dst, s, *len + 1);
}

static void test_v2_conditions(void **state)
{
	struct tmp *t = *state;
	struct ruleset rs = { 0 };
	struct flow_case *c;
	uint8_t act;

	load_ok(&rs, tmp_pack(t, "v2.rules",
			      "pack v2\n"
			      "default drop\n"
			      "domains rb = openrainbow.com *.openrainbow.com\n"
			      "patterns turnre { \"turn-[a-z0-9]+\\.openrainbow\\.com\" }\n"
			      "addresses relays = 198.51.100.0/24 2001:db8:100::/48\n"
			      "ports push = 5228-5230\n"
			      "rule fcm bypass dport in push push fcm timeout 30m\n"
			      "rule turn-ip bypass connect in relays connect-port 443,80\n"
			      "rule turn-udp bypass {\n"
			      "\ttransport udp   # one item per line\n"
			      "\tdst in relays\n"
			      "\tdport 3478\n"
			      "\tapp stun,dtls\n"
			      "\ttimeout 10m\n"
			      "\tservice turn\n"
			      "\tref \"001 4.6.1\"\n"
			      "}\n"
			      "rule turn-re bypass connect in turnre tunnel turn,tls\n"
			      "rule front drop fronting\n"
			      "rule ws bypass websocket http-host in rb\n"
			      "rule ja bypass ja4 t13d1516h2_8daaf6152771_e5627efa2ab1\n"
			      "rule web inspect sni in rb\n"));
	/* Header and options. */
	assert_int_equal(rs.default_action, ACTION_DROP);
	assert_int_equal(rule_named(rs.packs[0], "fcm")->timeout, 1800);
	assert_int_equal(rule_named(rs.packs[0], "turn-udp")->timeout, 600);
	assert_string_equal(rule_named(rs.packs[0], "turn-udp")->ref, "001 4.6.1");

	/* dport + push: both must hold. */
	c = flow_case("203.0.113.9", 5229, 6);
	c->f.app = APP_TLS;
	c->f.push = PUSH_FCM;
	ASSERT_RULE(&rs, c, "fcm");
	c->f.push = PUSH_APNS;
	ASSERT_RULE(&rs, c, "-"); /* nothing: the default */
	assert_string_equal(verdict_id(&rs, c, &act), "-");
	assert_int_equal(act, ACTION_DROP);

	/* A CONNECT to an IP literal in an address set, on a listed port. */
	c = flow_case("192.0.2.1", 3128, 6);
	c->f.app = APP_CONNECT;
	set_str(c->f.connect_host, &c->f.connect_host_len, "198.51.100.20");
	c->f.connect_port = 443;
	ASSERT_RULE(&rs, c, "turn-ip");
	set_str(c->f.connect_host, &c->f.connect_host_len, "2001:db8:100::5");
	ASSERT_RULE(&rs, c, "turn-ip");
	c->f.connect_port = 8443;
	ASSERT_RULE(&rs, c, "-");
	c->f.connect_port = 443;
	set_str(c->f.connect_host, &c->f.connect_host_len, "198.51.101.20");
	ASSERT_RULE(&rs, c, "-");
	/* A name is no IP literal; a CIDR is not an address. */
	set_str(c->f.connect_host, &c->f.connect_host_len, "relay.example");
	ASSERT_RULE(&rs, c, "-");
	set_str(c->f.connect_host, &c->f.connect_host_len, "198.51.100.0/24");
	ASSERT_RULE(&rs, c, "-");
	/* The same host, but the flow is not a CONNECT: connect conditions fail. */
	c->f.app = APP_TLS;
	set_str(c->f.connect_host, &c->f.connect_host_len, "198.51.100.20");
	ASSERT_RULE(&rs, c, "-");

	/* A block rule: every item holds, or the rule does not match. */
	c = flow_case("198.51.100.9", 3478, 17);
	c->f.app = APP_STUN;
	ASSERT_RULE(&rs, c, "turn-udp");
	c->f.app = APP_DTLS;
	ASSERT_RULE(&rs, c, "turn-udp");
	c->f.app = APP_UNKNOWN;
	ASSERT_RULE(&rs, c, "-");
	c->f.app = APP_STUN;
	c->in.proto = 6;
	ASSERT_RULE(&rs, c, "-");
	c->in.proto = 17;
	c->in.dport = 3479;
	ASSERT_RULE(&rs, c, "-");
	addr_of("198.51.99.9", c->in.addr[1]);
	c->in.dport = 3478;
	ASSERT_RULE(&rs, c, "-");

	/* Patterns and tunnel kinds. */
	c = flow_case("192.0.2.1", 3128, 6);
	c->f.app = APP_CONNECT;
	set_str(c->f.connect_host, &c->f.connect_host_len, "turn-gra1.openrainbow.com");
	c->f.tunnel = TUNNEL_TURN;
	ASSERT_RULE(&rs, c, "turn-re");
	c->f.tunnel = TUNNEL_UNKNOWN;
	ASSERT_RULE(&rs, c, "-");
	c->f.flags |= FACT_FRONTING;
	ASSERT_RULE(&rs, c, "front");

	/* WebSocket, direct or in a tunnel; http-host. */
	c = flow_case("198.51.100.7", 80, 6);
	c->f.app = APP_WEBSOCKET;
	set_str(c->f.http_host, &c->f.http_host_len, "web.openrainbow.com");
	ASSERT_RULE(&rs, c, "ws");
	c->f.app = APP_HTTP;
	ASSERT_RULE(&rs, c, "-");
	c->f.app = APP_CONNECT;
	c->f.tunnel = TUNNEL_WEBSOCKET;
	ASSERT_RULE(&rs, c, "ws");

	/* JA4, then the SNI. */
	c = flow_case("203.0.113.1", 443, 6);
	c->f.app = APP_TLS;
	set_str(c->f.sni, &c->f.sni_len, "web.openrainbow.com");
	strcpy(c->f.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	ASSERT_RULE(&rs, c, "ja");
	c->f.ja4[0] = '\0';
	ASSERT_RULE(&rs, c, "web");
	ruleset_free(&rs);
	assert_int_equal(rs.default_action, ACTION_NONE);
}

static void test_v2_default_first_declared(void **state)
{
	struct tmp *t = *state;
	struct ruleset rs = { 0 };
	struct flow_case *c = flow_case("203.0.113.1", 443, 6);
	uint8_t act;

	load_ok(&rs, tmp_pack(t, "a.rules",
			      "pack a\ndomains s = a.example\n"
			      "rule r bypass sni in s\n"));
	assert_string_equal(verdict_id(&rs, c, &act), "-");
	assert_int_equal(act, ACTION_INSPECT);
	load_ok(&rs, tmp_pack(t, "b.rules", "pack b\ndefault bypass\n"));
	load_ok(&rs, tmp_pack(t, "c.rules", "pack c\ndefault drop\n"));
	assert_string_equal(verdict_id(&rs, c, &act), "-");
	assert_int_equal(act, ACTION_BYPASS);
	ruleset_free(&rs);
}

static void test_v2_lists_and_includes(void **state)
{
	struct tmp *t = *state;
	struct ruleset rs = { 0 };
	const struct rule_pack *pk;
	struct flow_case *c;
	char sub[PATH_MAX];

	tmp_pack(t, "allow.txt",
		 "# allow-list kept by the security team\n"
		 "  a.example.com   # trailing comment\n"
		 "\n"
		 "*.b.example.org\r\n");
	tmp_pack(t, "nets.txt", "192.0.2.0/24\n2001:db8::/32\n");
	snprintf(sub, sizeof(sub), "%s/inc", t->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	tmp_pack(t, "inc/common.rules",
		 "ports web = 443\n"
		 "include \"deeper.rules\"\n"
		 "rule inc-web bypass dst in nets dport in web\n");
	tmp_pack(t, "inc/deeper.rules",
		 "# only sets and rules here\n"
		 "addresses nets from \"../nets.txt\"\n");
	load_ok(&rs, tmp_pack(t, "top.rules",
			      "pack top\n"
			      "domains allow from \"allow.txt\"\n"
			      "rule top-sni bypass sni in allow\n"
			      "include \"inc/common.rules\"\n"
			      "rule after inspect transport tcp\n"));
	pk = rs.packs[0];
	assert_int_equal(pk->nrules, 3);
	assert_string_equal(pk->rules[0].id, "top-sni");
	assert_string_equal(pk->rules[1].id, "inc-web"); /* in place of the include */
	assert_string_equal(pk->rules[2].id, "after");
	assert_int_equal(pk->rules[1].line, 3);
	assert_non_null(strstr(pk->rules[1].file, "inc/common.rules"));
	assert_int_equal(pk->nfiles, 5); /* top, allow.txt, common, deeper, nets.txt */
	assert_int_equal(pk->sets[0]->u.dom->count, 2);

	c = flow_case("203.0.113.1", 443, 6);
	set_str(c->f.sni, &c->f.sni_len, "x.b.example.org");
	ASSERT_RULE(&rs, c, "top-sni");
	set_str(c->f.sni, &c->f.sni_len, "b.example.org");
	ASSERT_RULE(&rs, c, "after");
	c = flow_case("2001:db8::9", 443, 6);
	ASSERT_RULE(&rs, c, "inc-web");
	ruleset_free(&rs);
}

static void test_v2_errors(void **state)
{
	struct tmp *t = *state;
	char want[1400];
	struct ruleset rs = { 0 };
	struct rules_error err;

	assert_load_error(t, "pack p\naddresses a = 192.0.2.1/24\n",
			  ":2:15: bad address '192.0.2.1/24': bits are set past the prefix length "
			  "(write the network address)");
	assert_load_error(t, "pack p\nports w { 443 0 }\n",
			  ":2:15: bad port '0': a port is a number from 1 to 65535 (or a range "
			  "LOW-HIGH)");
	assert_load_error(t, "pack p\npatterns x = \"a(b\"\n",
			  ":2:18: bad pattern: missing closing parenthesis");
	assert_load_error(t, "pack p\npatterns x = a.b\n",
			  ":2:14: expected a pattern in double quotes");
	assert_load_error(t, "pack p\naddresses a = 192.0.2.0/24\nrule r bypass sni in a\n",
			  ":3:22: set 'a' holds addresses, but 'sni' needs domains or patterns");
	assert_load_error(t, "pack p\ndomains d = a.com\nrule r bypass dst in d\n",
			  ":3:22: set 'd' holds domains, but 'dst' needs addresses");
	assert_load_error(t, "pack p\nrule r bypass dport 443 dport 80\n",
			  ":2:25: 'dport' is already a condition of this rule");
	assert_load_error(t, "pack p\nrule r bypass dport 443,,80\n",
			  ":2:25: empty item in the list: expected ports (443, 5228-5230) or 'in "
			  "SET'");
	assert_load_error(t, "pack p\nrule r bypass dport 443,99999\n",
			  ":2:25: bad port '99999': a port is a number from 1 to 65535 (or a range "
			  "LOW-HIGH)");
	assert_load_error(
	    t, "pack p\nrule r bypass app tls,quic\n",
	    ":2:23: unknown app 'quic': expected connect, tls, http, websocket, stun, "
	    "dtls or unknown");
	assert_load_error(t, "pack p\nrule r bypass transport sctp\n",
			  ":2:25: found 'sctp', expected tcp or udp");
	assert_load_error(
	    t, "pack p\nrule r bypass tunnel ssh\n",
	    ":2:22: unknown tunnel 'ssh': expected tls, turn, http, websocket, unknown "
	    "or none");
	assert_load_error(t, "pack p\nrule r bypass push gcm\n",
			  ":2:20: unknown push service 'gcm': expected apns or fcm");
	assert_load_error(t, "pack p\nrule r bypass timeout 8d\n", ":2:23: a timeout is 1s to 7d");
	assert_load_error(t, "pack p\nrule r bypass timeout 10\n",
			  ":2:23: found '10', expected a duration such as 600s, 10m, 2h or 1d");
	assert_load_error(t, "pack p\nrule r bypass timeout 0s\n", ":2:23: a timeout is 1s to 7d");
	assert_load_error(t, "pack p\nrule r bypass {\n\tdport 443\n",
			  ":4:1: found end of file, expected '}' to close rule 'r'");
	assert_load_error(t, "pack p\nrule r bypass { dport 443 }\n",
			  ":2:17: found 'dport', expected the end of the line");
	/* A block opens right after the action, not after options. */
	assert_load_error(t, "pack p\nrule r bypass service x {\n\tdport 443\n}\n",
			  ":2:25: found '{', expected a condition (sni, connect, name, http-host, "
			  "dst, src, dport, connect-port, transport, app, tunnel, websocket, "
			  "fronting, push, ja4) or service, msg, ref, timeout");
	assert_load_error(t, "pack p\ndefault allow\n",
			  ":2:9: found 'allow', expected an action: bypass, inspect or drop");
	assert_load_error(t, "pack p\ndefault drop\ndefault bypass\n",
			  ":3:1: a second 'default' statement");

	/* Errors inside list files and included files name those files. */
	tmp_pack(t, "list.txt", "a.example.com\nbad_name!.example\n");
	tmp_pack(t, "bad.rules", "pack p\ndomains d from \"list.txt\"\n");
	memset(&err, 0, sizeof(err));
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want),
		 "%s/list.txt:2:9: bad domain 'bad_name!.example': character not allowed in a "
		 "domain name",
		 t->dir);
	assert_string_equal(err.msg, want);
	tmp_pack(t, "two.txt", "a.example.com b.example.com\n");
	tmp_pack(t, "bad.rules", "pack p\ndomains d from \"two.txt\"\n");
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want),
		 "%s/two.txt:1:14: one entry per line: found a blank inside the entry", t->dir);
	assert_string_equal(err.msg, want);
	tmp_pack(t, "empty.txt", "# nothing\n\n");
	tmp_pack(t, "bad.rules", "pack p\naddresses a from \"empty.txt\"\n");
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want), "%s/empty.txt: the list is empty: set 'a'", t->dir);
	assert_string_equal(err.msg, want);
	tmp_pack(t, "bad.rules", "pack p\ndomains d from \"missing.txt\"\n");
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want),
		 "%s/bad.rules:2:16: cannot read the list: %s/missing.txt: cannot open: No such "
		 "file or directory",
		 t->dir, t->dir);
	assert_string_equal(err.msg, want);

	tmp_pack(t, "hdr.rules", "version 2\n");
	tmp_pack(t, "bad.rules", "pack p\ninclude \"hdr.rules\"\n");
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want),
		 "%s/hdr.rules:1:1: 'version' belongs in the pack's own file, not in an included "
		 "one",
		 t->dir);
	assert_string_equal(err.msg, want);
	tmp_pack(t, "loop.rules", "include \"./loop.rules\"\n");
	tmp_pack(t, "bad.rules", "pack p\ninclude \"loop.rules\"\n");
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want),
		 "%s/loop.rules:1:9: '%s/./loop.rules' is already part of this pack (an include "
		 "cycle, or included twice)",
		 t->dir, t->dir);
	assert_string_equal(err.msg, want);
	tmp_pack(t, "bad.rules", "pack p\ninclude \"nope.rules\"\n");
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want),
		 "%s/bad.rules:2:9: cannot include: %s/nope.rules: cannot open: No such file or "
		 "directory",
		 t->dir, t->dir);
	assert_string_equal(err.msg, want);
	/* A chain deeper than RULES_INCLUDE_DEPTH. */
	for (int i = 0; i <= RULES_INCLUDE_DEPTH; i++) {
		char name[32], text[64];

		snprintf(name, sizeof(name), "d%d.rules", i);
		snprintf(text, sizeof(text), "include \"d%d.rules\"\n", i + 1);
		tmp_pack(t, name, text);
	}
	tmp_pack(t, "bad.rules", "pack p\ninclude \"d0.rules\"\n");
	assert_int_equal(rules_load(&rs, t->path, &err), -1);
	snprintf(want, sizeof(want), "%s/d7.rules:1:9: includes nested deeper than %d", t->dir,
		 RULES_INCLUDE_DEPTH);
	assert_string_equal(err.msg, want);
	assert_int_equal(rs.npacks, 0);
}

/* --- the index gives what a scan of every rule gives -------------------- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* Names and addresses drawn from small pools, so that rules overlap. */
static const char *const labels[] = { "a", "b", "turn-1", "turn-2", "www", "x" };
static const char *const domains[] = { "example.com", "openrainbow.com", "example.org" };

static void rnd_name(char *buf, size_t n, bool pattern)
{
	const char *d = domains[rnd(3)];

	switch (pattern ? 3 : rnd(4)) {
	case 0:
		snprintf(buf, n, "%s.%s", labels[rnd(6)], d);
		break;
	case 1:
		snprintf(buf, n, "*.%s", d);
		break;
	case 2:
		snprintf(buf, n, "turn-*.%s", d);
		break;
	default:
		snprintf(buf, n, "%s", d);
		break;
	}
}

/* Names and prefixes no flow of the test has: they only make a set big
 * enough (1024 entries and more) for the index to ask it as a whole. */
static size_t pad_set(char *text, size_t size, bool addresses)
{
	size_t n = 0;

	for (int k = 0; k < 1030; k++)
		n += (size_t)(addresses
				  ? snprintf(text + n, size - n, " 10.%d.%d.0/24", k / 256, k % 256)
				  : snprintf(text + n, size - n, " f%d.pad.example.net", k));
	return n;
}

static void rnd_pack(char *text, size_t size, bool big)
{
	static const char *const fields[] = { "sni", "connect", "name", "http-host" };
	static const char *const nets[] = { "198.51.100.0/24", "198.51.100.128/25",
					    "198.51.100.7",    "203.0.113.0/24",
					    "2001:db8::/32",   "2001:db8:1::/48",
					    "0.0.0.0/0",       "::/0",
					    "2001:db8:1::5" };
	size_t n = (size_t)snprintf(text, size, "pack rnd\n");

	for (int i = 0; i < 200; i++) {
		char name[64];
		int kind = (int)rnd(6);

		if (kind <= 2) {
			rnd_name(name, sizeof(name), false);
			n += (size_t)snprintf(text + n, size - n, "domains d%d = %s", i, name);
			if (rnd(2)) {
				rnd_name(name, sizeof(name), false);
				n += (size_t)snprintf(text + n, size - n, " %s", name);
			}
			if (big && rnd(3) == 0)
				n += pad_set(text + n, size - n, false);
			n += (size_t)snprintf(text + n, size - n, "\nrule r%d %s %s in d%d%s%s\n",
					      i, rnd(2) ? "bypass" : "drop", fields[rnd(4)], i,
					      rnd(3) ? "" : " dport 443",
					      rnd(4) ? "" : " transport udp");
		} else if (kind == 3) {
			n += (size_t)snprintf(text + n, size - n, "addresses n%d = %s %s", i,
					      nets[rnd(rnd(4) ? 6 : 9)], nets[rnd(6)]);
			if (big && rnd(3) == 0)
				n += pad_set(text + n, size - n, true);
			n += (size_t)snprintf(text + n, size - n,
					      "\nrule r%d inspect dst in n%d%s\n", i, i,
					      rnd(2) ? "" : " dport 3478");
		} else if (kind == 4) {
			n += (size_t)snprintf(
			    text + n, size - n,
			    "patterns p%d = \"turn-[0-9]\\\\.%s\"\nrule r%d bypass sni "
			    "in p%d\n",
			    i, rnd(2) ? "openrainbow\\\\.com" : "example\\\\.com", i, i);
		} else {
			n += (size_t)snprintf(text + n, size - n, "rule r%d drop dport %u app %s\n",
					      i, 440 + rnd(8), rnd(2) ? "tls" : "stun");
		}
		assert_true(n < size);
	}
}

/* big: a third of the sets big enough to be asked whole (a group) */
static void index_same_as_scan(struct tmp *t, bool big)
{
	static char text[4 << 20];
	static const char *const dsts[] = { "198.51.100.7", "198.51.100.200", "203.0.113.9",
					    "192.0.2.1",    "2001:db8:1::5",  "2001:db9::1",
					    "10.0.5.9" };
	struct ruleset rs = { 0 };
	struct rules_index *ix;

	for (int round = 0; round < 5; round++) {
		rnd_pack(text, sizeof(text), big);
		load_ok(&rs, tmp_pack(t, "rnd.rules", text));
		assert_int_equal(ruleset_seal(&rs), 0);
		ix = rs.index;
		for (int k = 0; k < 4000; k++) {
			struct flow_case *c =
			    flow_case(dsts[rnd(7)], (uint16_t)(440 + rnd(8)), rnd(2) ? 6 : 17);
			char name[64];
			struct verdict vi, vs;

			c->f.app = (uint8_t)rnd(APP_COUNT);
			rnd_name(name, sizeof(name), false);
			for (char *q = name; *q; q++)
				if (*q == '*')
					*q = rnd(2) ? 'q' : '1';
			if (rnd(2))
				set_str(c->f.sni, &c->f.sni_len, name);
			if (rnd(2))
				set_str(c->f.connect_host, &c->f.connect_host_len, name);
			if (rnd(3) == 0)
				set_str(c->f.http_host, &c->f.http_host_len, name);
			rs.index = ix;
			rules_eval(&rs, &c->in, &vi);
			rs.index = NULL;
			rules_eval(&rs, &c->in, &vs);
			if (vi.rule != vs.rule || vi.action != vs.action)
				fail_msg(
				    "round %d flow %d (%s, sni '%s', host '%s'): index %s, scan %s",
				    round, k, name, c->f.sni, c->f.connect_host,
				    vi.rule ? vi.rule->id : "-", vs.rule ? vs.rule->id : "-");
		}
		rs.index = ix;
		ruleset_free(&rs);
		assert_null(rs.index);
	}
}

static void test_index_same_as_scan(void **state)
{
	index_same_as_scan(*state, false);
}

static void test_index_big_sets_same_as_scan(void **state)
{
	index_same_as_scan(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_names),
		cmocka_unit_test(test_wildcard_below),
		cmocka_unit_test(test_wildcard_and_exact),
		cmocka_unit_test(test_label_glob),
		cmocka_unit_test(test_glob_star_at_end),
		cmocka_unit_test(test_glob_two_stars),
		cmocka_unit_test(test_globs_share_a_parent),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_trailing_dot),
		cmocka_unit_test(test_bad_patterns),
		cmocka_unit_test(test_longest_name),
		cmocka_unit_test(test_big_set),
		cmocka_unit_test(test_sealed_edges),
		cmocka_unit_test(test_addr_set_v4_edges),
		cmocka_unit_test(test_domain_set_random),
		cmocka_unit_test(test_valid_pack),
		TMP_TEST(test_crlf_and_no_final_newline),
		cmocka_unit_test(test_eval_fields),
		cmocka_unit_test(test_eval_order_across_packs),
		cmocka_unit_test(test_shipped_packs),
		TMP_TEST(test_err_pack_first),
		TMP_TEST(test_err_second_pack),
		TMP_TEST(test_err_unknown_keyword),
		TMP_TEST(test_err_unknown_action),
		TMP_TEST(test_err_unknown_field),
		TMP_TEST(test_err_missing_in),
		TMP_TEST(test_err_unknown_set),
		TMP_TEST(test_err_duplicate_set),
		TMP_TEST(test_err_duplicate_rule),
		TMP_TEST(test_err_empty_set),
		TMP_TEST(test_err_empty_block_set),
		TMP_TEST(test_err_unterminated_string),
		TMP_TEST(test_err_unclosed_block),
		TMP_TEST(test_err_bad_domain),
		TMP_TEST(test_err_long_domain),
		TMP_TEST(test_err_trailing_garbage),
		TMP_TEST(test_err_control_character),
		TMP_TEST(test_err_nul_byte),
		TMP_TEST(test_err_missing_file),
		TMP_TEST(test_err_empty_file),
		TMP_TEST(test_load_dir),
		TMP_TEST(test_load_dir_bad_pack),
		TMP_TEST(test_load_dir_empty),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_addr_set),
		cmocka_unit_test(test_addr_set_random),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_patterns),
		TMP_TEST(test_v2_conditions),
		TMP_TEST(test_v2_default_first_declared),
		TMP_TEST(test_v2_lists_and_includes),
		TMP_TEST(test_v2_errors),
		TMP_TEST(test_index_same_as_scan),
		TMP_TEST(test_index_big_sets_same_as_scan),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
