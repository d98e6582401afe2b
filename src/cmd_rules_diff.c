/*
 * cmd_rules_diff.c: `dpix rules diff OLD NEW`, what an edition of a pack
 * adds and removes, in the canonical forms of rules_print.c:
 *
 *   header:                                 header lines that differ
 *   - version "12"
 *   + version "36"
 *   set NAME removed (KIND, N entries):     each entry, '-'
 *   set NAME changed (KIND: N removed, M added):
 *                                           '-' entries, then '+' entries
 *   set NAME added (KIND, N entries):       each entry, '+'
 *   rule ID removed:                        '-' and its line
 *   rule ID added (first | after ID):       '+' and its line; where in NEW
 *   rule ID changed:                        '-' old line, '+' new line
 *   rules moved (the first matching rule wins: ...):
 *   rule ID moved: now after ID, was after ID
 *
 * Sets are compared by name (a set whose kind changed is removed and
 * added), entries and rules in their canonical text, rules by id.
 * The first matching rule wins, so a rule that moves past another can
 * change verdicts: the rules that moved are those outside a longest run
 * of common rules kept in the same order. Output order: sets removed or
 * changed as in OLD, then added as in NEW; rules removed as in OLD, then
 * added or changed as in NEW, then moved; entries sorted. Exit status as
 * diff(1): 0 same, 1 different, 2 trouble (a pack that does not load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_rules.h"
#include "rules/rules.h"
#include "util/sort.h"

struct differ {
	FILE *out;
	bool differ;
	bool nomem;
	bool header_said;
	const struct rule **old_rules, **new_rules; /* by id, for lookups */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sets are few: a scan. */
static const struct rule_set *find_set(const struct rule_pack *pk, const char *name)
{
	for (size_t i = 0; i < pk->nsets; i++)
		if (pk->sets[i]->name && !strcmp(pk->sets[i]->name, name))
			return pk->sets[i];
	return NULL;
}

static int cmp_rule_id(const void *a, const void *b)
{
	return strcmp((*(const struct rule *const *)a)->id, (*(const struct rule *const *)b)->id);
}

/* The pack's rules sorted by id, for find_rule; NULL: out of memory. */
static const struct rule **by_id(const struct rule_pack *pk)
{
	const struct rule **v = malloc((pk->nrules ? pk->nrules : 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < pk->nrules; i++)
		v[i] = &pk->rules[i];
	sort_n(v, pk->nrules, sizeof(*v), cmp_rule_id);
	return v;
}

/* The rule of pk (sorted as v) with r's id, its place in the pack in *at. */
static const struct rule *find_rule(const struct rule_pack *pk, const struct rule **v,
				    const struct rule *r, size_t *at)
{
	const struct rule **f;

	if (!pk->nrules)
		return NULL;
	f = bsearch(&r, v, pk->nrules, sizeof(*v), cmp_rule_id);
	if (f && at)
		*at = (size_t)(*f - pk->rules);
	return f ? *f : NULL;
}

static void header_line(struct differ *d, const char *word, const char *a, const char *b,
			bool quote)
{
	if ((!a && !b) || (a && b && !strcmp(a, b)))
		return;
	if (!d->header_said)
		fputs("header:\n", d->out);
	d->header_said = d->differ = true;
	if (a) {
		fprintf(d->out, "- %s ", word);
		quote ? rules_print_string(d->out, a) : fputs(a, d->out);
		fputc('\n', d->out);
	}
	if (b) {
		fprintf(d->out, "+ %s ", word);
		quote ? rules_print_string(d->out, b) : fputs(b, d->out);
		fputc('\n', d->out);
	}
}

static void diff_header(struct differ *d, const struct rule_pack *a, const struct rule_pack *b)
{
	const char *da = a->default_action ? rule_action_name(a->default_action) : NULL;
	const char *db = b->default_action ? rule_action_name(b->default_action) : NULL;

	header_line(d, "pack", a->name, b->name, false);
	header_line(d, "version", a->version, b->version, true);
	header_line(d, "date", a->date, b->date, true);
	header_line(d, "source", a->source, b->source, true);
	header_line(d, "default", da, db, false);
}

static void print_entries(struct differ *d, const struct rule_set *s, char **v, size_t n, char sign)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(d->out, "%c ", sign);
		if (s->kind == SET_PATTERNS)
			rules_print_string(d->out, v[i]);
		else
			fputs(v[i], d->out);
		fputc('\n', d->out);
	}
}

/* A whole set, added or removed. */
static void set_whole(struct differ *d, const struct rule_set *s, char sign)
{
	size_t n;
	char **v = rules_set_entries(s, &n);

	d->differ = true;
	if (!v) {
		d->nomem = true;
		return;
	}
	fprintf(d->out, "set %s %s (%s, %zu %s):\n", s->name, sign == '+' ? "added" : "removed",
		rules_kind_name(s->kind), n, n == 1 ? "entry" : "entries");
	print_entries(d, s, v, n, sign);
	rules_entries_free(v, n);
}

/* The entries of v[0..n) not in w (sorted by text as lookup). */
static size_t missing(char **v, size_t n, char **w, size_t m, char **out)
{
	char **look = malloc((m ? m : 1) * sizeof(*look));
	size_t k = 0;

	if (!look)
		return (size_t)-1;
	memcpy(look, w, m * sizeof(*look));
	sort_n(look, m, sizeof(*look), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (!m || !bsearch(&v[i], look, m, sizeof(*look), cmp_str))
			out[k++] = v[i];
	free(look);
	return k;
}

static void set_changed(struct differ *d, const struct rule_set *a, const struct rule_set *b)
{
	size_t na, nb, nrem = 0, nadd = 0;
	char **va = rules_set_entries(a, &na), **vb = rules_set_entries(b, &nb);
	char **rem = malloc((na ? na : 1) * sizeof(char *));
	char **add = malloc((nb ? nb : 1) * sizeof(char *));

	if (!va || !vb || !rem || !add || (nrem = missing(va, na, vb, nb, rem)) == (size_t)-1 ||
	    (nadd = missing(vb, nb, va, na, add)) == (size_t)-1) {
		d->nomem = d->differ = true;
		goto out;
	}
	if (nrem || nadd) {
		d->differ = true;
		fprintf(d->out, "set %s changed (%s: %zu removed, %zu added):\n", a->name,
			rules_kind_name(a->kind), nrem, nadd);
		print_entries(d, a, rem, nrem, '-');
		print_entries(d, b, add, nadd, '+');
	}
out:
	rules_entries_free(va, na);
	rules_entries_free(vb, nb);
	free(rem);
	free(add);
}

/* Sets: removed (and those that changed kind) and changed in OLD's order,
 * then added in NEW's. */
static void diff_sets(struct differ *d, const struct rule_pack *a, const struct rule_pack *b)
{
	for (size_t i = 0; i < a->nsets; i++) {
		const struct rule_set *s = a->sets[i], *t;

		if (!s->name)
			continue;
		t = find_set(b, s->name);
		if (!t || t->kind != s->kind)
			set_whole(d, s, '-');
		else
			set_changed(d, s, t);
	}
	for (size_t i = 0; i < b->nsets; i++) {
		const struct rule_set *t = b->sets[i], *s;

		if (!t->name)
			continue;
		s = find_set(a, t->name);
		if (!s || t->kind != s->kind)
			set_whole(d, t, '+');
	}
}

/*
 * Of the rules both packs have, the ones that keep their relative order:
 * a longest increasing run of OLD positions taken in NEW's order
 * (patience sorting, n log n). keep[j] for the j-th common rule of NEW.
 */
static int longest_kept(const size_t *pos, size_t n, bool *keep)
{
	size_t *tail = malloc((n ? n : 1) * sizeof(*tail)),
	       *prev = malloc((n ? n : 1) * sizeof(*prev));
	size_t len = 0;

	if (!tail || !prev) {
		free(tail);
		free(prev);
		return -1;
	}
	for (size_t j = 0; j < n; j++) {
		size_t lo = 0, hi = len;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (pos[tail[mid]] < pos[j])
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[j] = lo ? tail[lo - 1] : (size_t)-1;
		tail[lo] = j;
		if (lo == len)
			len++;
	}
	for (size_t j = 0; j < n; j++)
		keep[j] = false;
	for (size_t j = len ? tail[len - 1] : (size_t)-1; j != (size_t)-1; j = prev[j])
		keep[j] = true;
	free(tail);
	free(prev);
	return 0;
}

static void rule_line(struct differ *d, const struct rule *r, char sign)
{
	char *t = rules_rule_text(r);

	if (!t) {
		d->nomem = true;
		return;
	}
	fprintf(d->out, "%c %s\n", sign, t);
	free(t);
}

/* The rule before NEW's rule j, to say where a rule now is. */
static void say_place(struct differ *d, const struct rule_pack *pk, size_t j)
{
	if (j == 0)
		fputs("first", d->out);
	else
		fprintf(d->out, "after %s", pk->rules[j - 1].id);
}

static void diff_rules(struct differ *d, const struct rule_pack *a, const struct rule_pack *b)
{
	size_t n = 0, *pos = malloc((b->nrules ? b->nrules : 1) * sizeof(*pos));
	size_t *at = malloc((b->nrules ? b->nrules : 1) * sizeof(*at));
	bool *keep = malloc((b->nrules ? b->nrules : 1) * sizeof(*keep));
	bool moved_said = false;

	if (!pos || !keep || !at) {
		d->nomem = d->differ = true;
		goto out;
	}
	for (size_t i = 0; i < a->nrules; i++)
		if (!find_rule(b, d->new_rules, &a->rules[i], NULL)) {
			d->differ = true;
			fprintf(d->out, "rule %s removed:\n", a->rules[i].id);
			rule_line(d, &a->rules[i], '-');
		}
	for (size_t j = 0; j < b->nrules; j++) {
		const struct rule *r = &b->rules[j], *o = find_rule(a, d->old_rules, r, &pos[n]);
		char *ta, *tb;

		if (!o) {
			d->differ = true;
			fprintf(d->out, "rule %s added (", r->id);
			say_place(d, b, j);
			fputs("):\n", d->out);
			rule_line(d, r, '+');
			continue;
		}
		at[n++] = j;
		ta = rules_rule_text(o);
		tb = rules_rule_text(r);
		if (!ta || !tb)
			d->nomem = true;
		else if (strcmp(ta, tb)) {
			d->differ = true;
			fprintf(d->out, "rule %s changed:\n- %s\n+ %s\n", r->id, ta, tb);
		}
		free(ta);
		free(tb);
	}
	if (longest_kept(pos, n, keep) < 0) {
		d->nomem = d->differ = true;
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		if (keep[k])
			continue;
		if (!moved_said)
			fputs("rules moved (the first matching rule wins: a move can change "
			      "verdicts):\n",
			      d->out);
		moved_said = d->differ = true;
		fprintf(d->out, "rule %s moved: now ", b->rules[at[k]].id);
		say_place(d, b, at[k]);
		fputs(", was ", d->out);
		say_place(d, a, pos[k]);
		fputc('\n', d->out);
	}
out:
	free(pos);
	free(at);
	free(keep);
}

int rules_diff_cmd(int argc, char **argv)
{
	struct ruleset old = { 0 }, new = { 0 };
	struct differ d = { .out = stdout };
	struct rules_error err;
	int rc = 2;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("usage: dpix rules diff OLD NEW\n");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: dpix rules diff OLD NEW\n");
		return EXIT_USAGE;
	}
	if (rules_load(&old, argv[1], &err) < 0 || rules_load(&new, argv[2], &err) < 0) {
		fprintf(stderr, "dpix: %s\n", err.msg);
		goto out;
	}
	d.old_rules = by_id(old.packs[0]);
	d.new_rules = by_id(new.packs[0]);
	if (!d.old_rules || !d.new_rules) {
		fprintf(stderr, "dpix rules diff: out of memory\n");
		goto out;
	}
	diff_header(&d, old.packs[0], new.packs[0]);
	diff_sets(&d, old.packs[0], new.packs[0]);
	diff_rules(&d, old.packs[0], new.packs[0]);
	if (fflush(stdout) != 0 || ferror(stdout) || d.nomem) {
		fprintf(stderr, "dpix rules diff: %s\n",
			d.nomem ? "out of memory" : "cannot write the output");
		goto out;
	}
	rc = d.differ ? 1 : 0;
out:
	free(d.old_rules);
	free(d.new_rules);
	ruleset_free(&old);
	ruleset_free(&new);
	return rc;
}
