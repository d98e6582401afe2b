/*
 * test_rules_print.c: the canonical text of packs (rules_print.c): strings
 * quoted so that the parser reads them back as they were, addresses and
 * ports in one canonical form, set entries sorted and each once, a rule
 * on one line. Packs are written to a mkstemp file and loaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/rules.h"

/* What f printed to a memory stream, as a string (freed by the caller). */
static char *printed_string(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(rules_print_string(f, s), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_string_escapes(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "", "\"\"" },
		{ "a \"quoted\" word", "\"a \\\"quoted\\\" word\"" },
		{ "C:\\dir\\", "\"C:\\\\dir\\\\\"" },
		{ "\\\"", "\"\\\\\\\"\"" },
		{ "# not a comment { } =", "\"# not a comment { } =\"" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = printed_string(cases[i].in);

		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

/* Load the pack text from a temporary file; the pack is rs->packs[0]. */
static void load_text(struct ruleset *rs, const char *text)
{
	char path[] = "/tmp/dpix-test-print-XXXXXX";
	struct rules_error err;
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	memset(&err, 0, sizeof(err));
	if (rules_load(rs, path, &err) != 0) {
		unlink(path);
		fail_msg("%s", err.msg);
	}
	unlink(path);
}

/* Strings read back as they were written, whatever they hold. */
static void test_string_round_trip(void **state)
{
	static const char *const msgs[] = { "a \"quoted\" word", "back\\slash", "\\\"", "x\\",
					    "# { } = , tab\there" };
	(void)state;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct ruleset rs = { 0 }, again = { 0 };
		char *s = printed_string(msgs[i]), *text = NULL, *line;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		assert_non_null(f);
		fprintf(f, "pack p\nrule r bypass dport 1 msg %s\n", s);
		assert_int_equal(fclose(f), 0);
		load_text(&rs, text);
		assert_string_equal(rs.packs[0]->rules[0].msg, msgs[i]);
		line = rules_rule_text(&rs.packs[0]->rules[0]);
		assert_non_null(line);
		free(text);
		text = NULL;
		f = open_memstream(&text, &len);
		fprintf(f, "pack p\n%s\n", line);
		assert_int_equal(fclose(f), 0);
		load_text(&again, text);
		assert_string_equal(again.packs[0]->rules[0].msg, msgs[i]);
		free(line);
		free(text);
		free(s);
		ruleset_free(&rs);
		ruleset_free(&again);
	}
}

static void test_address_forms(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ "192.0.2.0/24", "192.0.2.0/24" },
		{ "192.0.2.1/32", "192.0.2.1" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "::ffff:192.0.2.1", "192.0.2.1" },
		{ "::ffff:198.51.100.0/120", "198.51.100.0/24" },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "2001:0db8:0000::/48", "2001:db8::/48" },
		{ "::/0", "::/0" },
		{ "::1", "::1" },
		{ "::/96", "::/96" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t addr[16], plen, family;
		const char *why = NULL;
		char buf[64];

		assert_int_equal(addr_parse(cases[i].in, addr, &plen, &family, &why), 0);
		rules_addr_text(addr, plen, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
}

static void test_port_forms(void **state)
{
	char buf[16];
	uint16_t lo, hi;
	const char *why;
	(void)state;

	rules_port_text(443, 443, buf, sizeof(buf));
	assert_string_equal(buf, "443");
	rules_port_text(5228, 5230, buf, sizeof(buf));
	assert_string_equal(buf, "5228-5230");
	assert_int_equal(port_parse("5228-5230", &lo, &hi, &why), 0);
	rules_port_text(lo, hi, buf, sizeof(buf));
	assert_string_equal(buf, "5228-5230");
	rules_port_text(0, 65535, buf, sizeof(buf));
	assert_string_equal(buf, "0-65535");
}

static void assert_entries(const struct rule_set *s, const char *const *want, size_t n)
{
	size_t got;
	char **v = rules_set_entries(s, &got);

	assert_non_null(v);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i], want[i]);
	rules_entries_free(v, got);
}

/* Sorted by value, each once, whatever the order and case written. */
static void test_set_entries(void **state)
{
	static const char *const dom[] = { "*.example.org", "a.example.com", "b.example.com" };
	static const char *const addr[] = { "10.0.0.0/8", "192.0.2.0/24", "198.51.100.7",
					    "2001:db8::/32" };
	static const char *const port[] = { "80", "443", "5228-5230" };
	struct ruleset rs = { 0 };
	(void)state;

	load_text(&rs, "pack p\n"
		       "domains d = B.Example.COM a.example.com. *.example.org b.example.com\n"
		       "addresses a = 2001:DB8::/32 198.51.100.7 192.0.2.0/24 10.0.0.0/8 "
		       "::ffff:192.0.2.0/120\n"
		       "ports n = 5228-5230 443 80 443\n"
		       "rule r bypass sni in d dst in a dport in n\n"
		       "rule s drop dport 443,80,80 transport udp\n");
	assert_entries(rs.packs[0]->sets[0], dom, 3);
	assert_entries(rs.packs[0]->sets[1], addr, 4);
	assert_entries(rs.packs[0]->sets[2], port, 3);
	ruleset_free(&rs);
}

/* A rule on one line: conditions in one order, then the options. */
static void test_rule_line(void **state)
{
	struct ruleset rs = { 0 };
	char *line;
	(void)state;

	load_text(&rs, "pack p\n"
		       "domains d = example.com\n"
		       "rule r bypass {\n"
		       "  timeout 600s\n  ref \"1.2\"\n  msg m\n  service s\n"
		       "  dport 443,80,80\n  sni in d\n  app tls,stun\n  transport tcp\n"
		       "}\n");
	line = rules_rule_text(&rs.packs[0]->rules[0]);
	assert_non_null(line);
	assert_string_equal(line, "rule r bypass transport tcp app tls,stun sni in d dport 80,443 "
				  "service \"s\" msg \"m\" ref \"1.2\" timeout 10m");
	free(line);
	ruleset_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_escapes), cmocka_unit_test(test_string_round_trip),
		cmocka_unit_test(test_address_forms),  cmocka_unit_test(test_port_forms),
		cmocka_unit_test(test_set_entries),    cmocka_unit_test(test_rule_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
