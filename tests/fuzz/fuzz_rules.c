/*
 * fuzz_rules.c: libFuzzer harness for the rule-pack reader (src/rules/).
 *
 * The input is a pack file. It is written to a memfd (a temporary file when
 * memfd_create is unavailable) and read back through rules_load(), so the
 * file reading is fuzzed along with the parser.
 *
 * On success: every rule points back at its pack and at one of its sets,
 * the same bytes load a second time (no hidden state), and rules_eval gives
 * consistent verdicts for a few fixed facts plus a name taken from the
 * input. On error: nothing was added to the ruleset, and err.msg is a
 * NUL-terminated string that starts with "PATH:", the pack's, or when the
 * pack names other files (include, from) the one the error is in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int pack_fd = -1;
static char pack_path[64];

static _Noreturn void fail(const char *what)
{
	fprintf(stderr, "fuzz_rules: %s\n", what);
	abort();
}

static void remove_temp(void)
{
	unlink(pack_path);
}

/* One file for the whole run, rewritten for each input. */
static void open_pack_file(void)
{
	pack_fd = memfd_create("fuzz.rules", 0);
	if (pack_fd >= 0) {
		snprintf(pack_path, sizeof(pack_path), "/proc/self/fd/%d", pack_fd);
		if (access(pack_path, R_OK) == 0)
			return;
		close(pack_fd);
	}
	snprintf(pack_path, sizeof(pack_path), "/tmp/fuzz_rules.XXXXXX");
	pack_fd = mkstemp(pack_path);
	if (pack_fd < 0)
		fail("cannot create a temporary file");
	atexit(remove_temp);
}

static void write_pack(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(pack_fd, 0) < 0)
		fail("ftruncate");
	while (off < size) {
		ssize_t n = pwrite(pack_fd, data + off, size - off, (off_t)off);

		if (n <= 0)
			fail("pwrite");
		off += (size_t)n;
	}
}

static bool is_name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* The first run of name characters after the last '=' or '{' (or from the
 * start), so that names of the pack itself get looked up. */
static size_t name_from_input(const uint8_t *data, size_t size, char *out, size_t cap)
{
	size_t start = 0, n = 0;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '=' || data[i] == '{')
			start = i + 1;
	while (start < size && !is_name_char(data[start]))
		start++;
	while (start + n < size && n + 1 < cap && is_name_char(data[start + n]))
		n++;
	memcpy(out, data + start, n);
	out[n] = '\0';
	return n;
}

static void set_name(char *dst, uint8_t *len, const char *name)
{
	size_t n = strlen(name);

	if (n > HOST_MAX)
		n = HOST_MAX;
	memcpy(dst, name, n);
	dst[n] = '\0';
	*len = (uint8_t)n;
}

static bool matches(const struct domain_set *s, const char *fmt_a, const char *b, bool upper)
{
	char name[512];
	int n = snprintf(name, sizeof(name), "%s%s", fmt_a, b);

	if (n < 0 || (size_t)n >= sizeof(name) || n > 253)
		return true; /* too long to be a DNS name: nothing to check */
	for (int i = 0; upper && i < n; i++)
		if (name[i] >= 'a' && name[i] <= 'z')
			name[i] = (char)(name[i] - 32);
	return domain_set_match(s, name, (size_t)n);
}

/*
 * Every entry a set holds, as written, is found again by a lookup: an exact
 * name matches itself (in upper case, and with a trailing dot, too), a
 * "*.name" entry matches a name below it, and a "glob.name" entry matches
 * its glob with each '*' taken as "a". The table is at most half full.
 */
static void check_set(const struct domain_set *s)
{
	for (uint32_t i = 0; i < s->count; i++) {
		const char *w = s->written[i], *dot = strchr(w, '.');
		char label[128];
		size_t k = 0;

		if (!strchr(w, '*')) {
			if (!matches(s, "", w, false) || !matches(s, "", w, true))
				fail("an exact name of a set does not match itself");
			if (!matches(s, w, ".", false))
				fail("an exact name of a set does not match with a trailing dot");
			continue;
		}
		if (!dot)
			fail("a wildcard entry has no domain under it");
		if (w[0] == '*' && w[1] == '.') {
			if (!matches(s, "x.", w + 2, false))
				fail("a name below a *.name entry does not match");
			continue;
		}
		for (const char *c = w; c < dot && k + 3 < sizeof(label); c++)
			label[k++] = *c == '*' ? 'a' : *c;
		label[k++] = '.';
		label[k] = '\0';
		if (!matches(s, label, dot + 1, false))
			fail("a name fitting a glob entry does not match");
	}
	if ((uint64_t)s->used * 2 > s->nslots)
		fail("a set's table is over half full");
}

/* A rule's set for a condition: there iff the condition is, and the pack's. */
static void check_rule_set(const struct rule_pack *pk, const struct rule *r, uint32_t cond,
			   const struct rule_set *s)
{
	bool own = false;

	for (size_t k = 0; k < pk->nsets; k++)
		own |= s == pk->sets[k];
	if (!(r->conds & cond) != !s || (s && !own))
		fail("a rule's set does not go with its condition or is not its pack's");
}

static void check_pack(const struct rule_pack *pk)
{
	for (size_t k = 0; k < pk->nsets; k++)
		if (pk->sets[k]->kind == SET_DOMAINS)
			check_set(pk->sets[k]->u.dom);
	if (!pk->name || !pk->path || strcmp(pk->path, pack_path))
		fail("a loaded pack has no name or the wrong path");
	for (size_t i = 0; i < pk->nrules; i++) {
		const struct rule *r = &pk->rules[i];

		if (r->pack != pk || !r->id || !r->file)
			fail("a rule does not point at its pack or file, or has no id");
		check_rule_set(pk, r, COND_SNI, r->sni);
		check_rule_set(pk, r, COND_CONNECT, r->connect);
		check_rule_set(pk, r, COND_NAME, r->name);
		check_rule_set(pk, r, COND_HTTP_HOST, r->http_host);
		check_rule_set(pk, r, COND_DST, r->dst);
		check_rule_set(pk, r, COND_SRC, r->src);
		check_rule_set(pk, r, COND_DPORT, r->dport);
		check_rule_set(pk, r, COND_CONNECT_PORT, r->connect_port);
		if (r->action < ACTION_BYPASS || r->action >= ACTION_COUNT)
			fail("a rule has an action out of range");
	}
}

static void check_eval(const struct ruleset *rs, const struct dpix_facts *facts)
{
	struct rules_input in = { .facts = facts, .proto = 6, .sport = 40000, .dport = 443 };
	struct verdict v;

	in.addr[0][10] = in.addr[0][11] = in.addr[1][10] = in.addr[1][11] = 0xff;
	in.addr[0][12] = 192, in.addr[0][15] = 2;
	in.addr[1][12] = 198, in.addr[1][13] = 51, in.addr[1][14] = 100, in.addr[1][15] = 7;
	in.src = in.addr[0];
	in.dst = in.addr[1];
	memset(&v, 0xa5, sizeof(v));
	rules_eval(rs, &in, &v);
	if (!v.rule) {
		if (v.action != (rs->default_action ? rs->default_action : ACTION_INSPECT))
			fail("no rule matched but the action is not the default");
		return;
	}
	if (v.action != v.rule->action)
		fail("the verdict's action is not its rule's");
	for (size_t p = 0; p < rs->npacks; p++)
		if (v.rule >= rs->packs[p]->rules &&
		    v.rule < rs->packs[p]->rules + rs->packs[p]->nrules)
			return;
	fail("the verdict's rule is not in the ruleset");
}

static void eval_facts(const struct ruleset *rs, const uint8_t *data, size_t size)
{
	static const char *const names[][2] = {
		{ "turn-eu1.openrainbow.com", NULL },
		{ NULL, "openrainbow.io" },
		{ "OpenRainbow.COM.", "example.com" },
		{ "example.com", "a.b.openrainbow.com" },
		{ NULL, NULL },
	};
	struct dpix_facts f;
	char name[HOST_MAX + 1], below[HOST_MAX + 3];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(&f, 0, sizeof(f));
		f.app = names[i][0] ? APP_TLS : APP_CONNECT;
		if (names[i][0])
			set_name(f.sni, &f.sni_len, names[i][0]);
		if (names[i][1])
			set_name(f.connect_host, &f.connect_host_len, names[i][1]);
		check_eval(rs, &f);
	}
	if (name_from_input(data, size, name, sizeof(name)) == 0)
		return;
	snprintf(below, sizeof(below), "x.%s", name);
	memset(&f, 0, sizeof(f));
	set_name(f.sni, &f.sni_len, name);
	check_eval(rs, &f);
	memset(&f, 0, sizeof(f));
	set_name(f.connect_host, &f.connect_host_len, below);
	check_eval(rs, &f);
}

/* Can the pack bring other files in: does it say include or from? */
static bool names_files(const uint8_t *data, size_t size)
{
	return memmem(data, size, "include", 7) || memmem(data, size, "from", 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset rs = { 0 };
	struct rules_error err;
	size_t plen;

	if (pack_fd < 0)
		open_pack_file();
	write_pack(data, size);
	memset(&err, 0xff, sizeof(err));
	if (rules_load(&rs, pack_path, &err) < 0) {
		plen = strlen(pack_path);
		if (!memchr(err.msg, '\0', sizeof(err.msg)))
			fail("err.msg is not NUL-terminated");
		/* An error in a file the pack names (an include, a list read
		 * "from" a file) names that file: the pack's directory here is
		 * /proc/self/fd, where "include 2" is stderr. */
		if ((strncmp(err.msg, pack_path, plen) != 0 || err.msg[plen] != ':') &&
		    !(names_files(data, size) && err.msg[0] != ':' && strchr(err.msg, ':')))
			fail("err.msg does not start with the path");
		if (rs.npacks != 0 || rs.packs != NULL)
			fail("a failed load changed the ruleset");
		return 0;
	}
	if (rs.npacks != 1)
		fail("a successful load did not add exactly one pack");
	check_pack(rs.packs[0]);
	/* The same bytes again: must load again, after the first. */
	if (rules_load(&rs, pack_path, &err) < 0 || rs.npacks != 2)
		fail("the same pack failed to load a second time");
	check_pack(rs.packs[1]);
	eval_facts(&rs, data, size);
	ruleset_free(&rs);
	if (rs.npacks != 0 || rs.packs != NULL)
		fail("ruleset_free left packs behind");
	return 0;
}
