/*
 * test_rules_cover.c: rule_mismatch against rule_matches, cond_name, and
 * the containment that `dpix rules check` decides shadowing with
 * (rules_cover.c): for each kind of set, a case that is covered and one
 * that only nearly is. Packs are written to a mkstemp file and loaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/rules.h"

/* --- sets ------------------------------------------------------------- */

static struct domain_set *dom(const char *a, const char *b, const char *c)
{
	const char *v[3] = { a, b, c }, *why;
	struct domain_set *s = domain_set_new("t");
	size_t col;

	assert_non_null(s);
	for (int i = 0; i < 3; i++)
		if (v[i] && domain_set_add(s, v[i], &col, &why) < 0)
			fail_msg("'%s': %s", v[i], why);
	return s;
}

static bool dom_covers(const char *a, const char *b)
{
	struct domain_set *x = dom(a, NULL, NULL), *y = dom(b, NULL, NULL);
	bool r = domain_set_covers(x, y);

	domain_set_free(x);
	domain_set_free(y);
	return r;
}

static void test_domains(void **state)
{
	struct domain_set *x, *y;

	(void)state;
	/* '*.a.com' is strictly below a.com: it covers names and wildcards
	 * under it, not a.com itself. */
	assert_true(dom_covers("*.a.com", "www.a.com"));
	assert_true(dom_covers("*.a.com", "*.b.a.com"));
	assert_true(dom_covers("*.a.com", "*.a.com"));
	assert_true(dom_covers("*.a.com", "turn-*.a.com"));
	assert_true(dom_covers("*.com", "turn-*.a.com"));
	assert_false(dom_covers("*.a.com", "a.com"));
	assert_false(dom_covers("a.com", "*.a.com"));
	assert_false(dom_covers("www.a.com", "*.a.com"));
	assert_false(dom_covers("*.b.a.com", "*.a.com"));
	assert_false(dom_covers("*.a.com", "*.ba.com"));
	/* Globs: an exact name under one is covered; another glob only when
	 * written the same. */
	assert_true(dom_covers("turn-*.a.com", "turn-1.a.com"));
	assert_true(dom_covers("turn-*.a.com", "turn-*.a.com"));
	assert_false(dom_covers("turn*.a.com", "turn-*.a.com")); /* true, not certain */
	assert_false(dom_covers("turn-*.a.com", "x.turn-1.a.com"));
	assert_false(dom_covers("turn-*.a.com", "*.a.com"));
	/* Case and trailing dots do not matter. */
	assert_true(dom_covers("WWW.A.com.", "www.a.COM"));
	/* Every entry must be covered. */
	x = dom("a.com", "*.a.com", NULL);
	y = dom("a.com", "x.a.com", "b.com");
	assert_false(domain_set_covers(x, y));
	domain_set_free(y);
	y = dom("a.com", "x.a.com", "*.y.a.com");
	assert_true(domain_set_covers(x, y));
	domain_set_free(x);
	domain_set_free(y);
}

static struct addr_set *addrs(const char *a, const char *b)
{
	const char *v[2] = { a, b }, *why;
	struct addr_set *s = addr_set_new();
	uint8_t addr[16], plen, fam;

	assert_non_null(s);
	for (int i = 0; i < 2; i++) {
		if (!v[i])
			continue;
		if (addr_parse(v[i], addr, &plen, &fam, &why) < 0)
			fail_msg("'%s': %s", v[i], why);
		assert_int_equal(addr_set_add(s, addr, plen), 0);
	}
	assert_int_equal(addr_set_seal(s), 0);
	return s;
}

static bool addr_covers(const char *a1, const char *a2, const char *b1, const char *b2)
{
	struct addr_set *x = addrs(a1, a2), *y = addrs(b1, b2);
	bool r = addr_set_covers(x, y);

	addr_set_free(x);
	addr_set_free(y);
	return r;
}

static void test_addresses(void **state)
{
	(void)state;
	assert_true(addr_covers("10.1.0.0/16", NULL, "10.1.2.0/24", NULL));
	assert_true(addr_covers("10.1.0.0/16", NULL, "10.1.0.0/16", NULL));
	assert_true(addr_covers("10.1.0.0/16", NULL, "10.1.255.255", NULL));
	assert_false(addr_covers("10.1.0.0/16", NULL, "10.0.0.0/15", NULL));
	assert_false(addr_covers("10.1.0.0/16", NULL, "10.2.0.1", NULL));
	assert_false(addr_covers("10.1.0.0/16", NULL, "10.1.2.0/24", "10.3.0.1"));
	/* Sealed ranges: two adjacent /24 cover the /23 they make. */
	assert_true(addr_covers("10.0.0.0/24", "10.0.1.0/24", "10.0.0.0/23", NULL));
	assert_false(addr_covers("10.0.0.0/24", "10.0.2.0/24", "10.0.0.0/23", NULL));
	/* IPv4 is ::ffff:0:0/96; IPv6 is apart from it. */
	assert_true(addr_covers("::ffff:10.0.0.0/104", NULL, "10.9.0.0/16", NULL));
	assert_true(addr_covers("2001:db8::/32", NULL, "2001:db8:1::/48", NULL));
	assert_false(addr_covers("2001:db8::/32", NULL, "10.0.0.1", NULL));
	assert_false(addr_covers("0.0.0.0/0", NULL, "2001:db8::1", NULL));
}

static struct port_set *ports(uint16_t lo1, uint16_t hi1, uint16_t lo2, uint16_t hi2)
{
	struct port_set *s = port_set_new();

	assert_non_null(s);
	assert_int_equal(port_set_add(s, lo1, hi1), 0);
	if (lo2)
		assert_int_equal(port_set_add(s, lo2, hi2), 0);
	assert_int_equal(port_set_seal(s), 0);
	return s;
}

static bool port_covers(struct port_set *a, struct port_set *b)
{
	bool r = port_set_covers(a, b);

	port_set_free(a);
	port_set_free(b);
	return r;
}

static void test_ports(void **state)
{
	(void)state;
	assert_true(port_covers(ports(5228, 5230, 0, 0), ports(5228, 5229, 0, 0)));
	assert_false(port_covers(ports(5228, 5229, 0, 0), ports(5228, 5230, 0, 0)));
	/* 5228-5229 and 5230 merge into one range. */
	assert_true(port_covers(ports(5228, 5229, 5230, 5230), ports(5228, 5230, 0, 0)));
	assert_true(port_covers(ports(443, 443, 80, 80), ports(80, 80, 443, 443)));
	assert_false(port_covers(ports(443, 443, 0, 0), ports(80, 80, 443, 443)));
}

/* --- rules -------------------------------------------------------------- */

static char tmp_path[64];

static void load(struct ruleset *rs, const char *text)
{
	struct rules_error err;
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/dpix-cover-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if (rules_load(rs, tmp_path, &err) < 0)
		fail_msg("%s", err.msg);
	unlink(tmp_path);
	assert_int_equal(ruleset_seal(rs), 0);
}

static const struct rule *rule(const struct ruleset *rs, const char *id)
{
	for (size_t p = 0; p < rs->npacks; p++)
		for (size_t i = 0; i < rs->packs[p]->nrules; i++)
			if (!strcmp(rs->packs[p]->rules[i].id, id))
				return &rs->packs[p]->rules[i];
	fail_msg("no rule %s", id);
	return NULL;
}

static const char pack[] = "pack t\n"
			   "domains a = *.a.com\n"
			   "domains aa = a.com\n"
			   "domains www = www.a.com x.a.com\n"
			   "patterns pa = \"x.*\"\n"
			   "patterns pb = \"x.*\" \"y.*\"\n"
			   "addresses n16 = 10.1.0.0/16\n"
			   "addresses n24 = 10.1.2.0/24\n"
			   "addresses n15 = 10.0.0.0/15\n"
			   "rule wild bypass sni in a\n"
			   "rule under drop sni in www transport tcp\n"
			   "rule apex bypass sni in aa\n"
			   "rule net16 bypass dst in n16 dport 5228-5230\n"
			   "rule net24 bypass dst in n24 dport 5228-5229 transport tcp\n"
			   "rule net15 bypass dst in n15 dport 5228-5229\n"
			   "rule net24-wider bypass dst in n24 dport 5228-5231\n"
			   "rule tcp bypass transport tcp app tls,http\n"
			   "rule tls bypass transport tcp app tls\n"
			   "rule udp bypass transport udp app tls\n"
			   "rule pat bypass sni in pb\n"
			   "rule pat2 bypass sni in pa\n"
			   "rule pat3 bypass sni in pb dport 443\n"
			   "rule ws bypass websocket ja4 t13d,t12d\n"
			   "rule ws2 bypass websocket ja4 t13d\n"
			   "rule ws3 bypass ja4 t13d\n";

static void test_rule_covers(void **state)
{
	struct ruleset rs = { 0 };

	(void)state;
	load(&rs, pack);
	assert_true(rule_covers(rule(&rs, "wild"), rule(&rs, "under")));
	assert_false(rule_covers(rule(&rs, "under"), rule(&rs, "wild")));
	assert_false(rule_covers(rule(&rs, "wild"), rule(&rs, "apex")));
	assert_true(rule_covers(rule(&rs, "net16"), rule(&rs, "net24")));
	assert_false(rule_covers(rule(&rs, "net16"), rule(&rs, "net15")));
	assert_false(rule_covers(rule(&rs, "net16"), rule(&rs, "net24-wider")));
	/* A condition the later rule lacks: not covered. */
	assert_false(rule_covers(rule(&rs, "net24"), rule(&rs, "net16")));
	assert_true(rule_covers(rule(&rs, "tcp"), rule(&rs, "tls")));
	assert_false(rule_covers(rule(&rs, "tls"), rule(&rs, "tcp")));
	assert_false(rule_covers(rule(&rs, "tcp"), rule(&rs, "udp")));
	/* Patterns: only the same sources. */
	assert_true(rule_covers(rule(&rs, "pat"), rule(&rs, "pat2")));
	assert_false(rule_covers(rule(&rs, "pat2"), rule(&rs, "pat")));
	assert_true(rule_covers(rule(&rs, "pat"), rule(&rs, "pat3")));
	assert_false(rule_covers(rule(&rs, "wild"), rule(&rs, "pat2")));
	/* ja4: the later rule's values among the earlier's. */
	assert_true(rule_covers(rule(&rs, "ws"), rule(&rs, "ws2")));
	assert_false(rule_covers(rule(&rs, "ws2"), rule(&rs, "ws")));
	assert_false(rule_covers(rule(&rs, "ws2"), rule(&rs, "ws3")));
	assert_true(rule_covers(rule(&rs, "ws3"), rule(&rs, "ws2")));
	ruleset_free(&rs);
}

static void test_cond_name(void **state)
{
	static const char *const names[] = {
		"transport", "app",	     "sni",	 "connect", "name",
		"http-host", "connect-port", "dst",	 "src",	    "dport",
		"tunnel",    "websocket",    "fronting", "push",    "ja4",
	};

	(void)state;
	for (unsigned i = 0; i < 15; i++)
		assert_string_equal(cond_name(1u << i), names[i]);
	assert_int_equal(COND_JA4, 1u << 14);
	assert_string_equal(cond_name(0), "invalid");
	assert_string_equal(cond_name(COND_SNI | COND_APP), "invalid");
	assert_string_equal(cond_name(1u << 15), "invalid");
}

/* Every condition kind, with sets that a few random values fall in. */
static const char mixed[] = "pack m\n"
			    "domains d = *.a.com b.com t-*.c.com\n"
			    "addresses n = 10.0.0.0/24 2001:db8::/64\n"
			    "rule r1 bypass transport tcp app tls sni in d dport 443,8443\n"
			    "rule r2 drop connect in d connect-port 443 tunnel tls,turn\n"
			    "rule r3 bypass name in d dst in n\n"
			    "rule r4 inspect http-host in d src in n app http,websocket\n"
			    "rule r5 bypass websocket fronting push apns,fcm\n"
			    "rule r6 bypass connect in n ja4 t13d,x\n"
			    "rule r7 bypass transport udp app stun,dtls dport 3478\n"
			    "rule r8 bypass\n";

static const char *pick(const char *const *v, size_t n)
{
	return v[(size_t)rand() % n];
}

static void random_facts(struct dpix_facts *f, struct rules_input *in)
{
	static const char *const names[] = { "",	  "x.a.com",	 "a.com",    "b.com",
					     "t-1.c.com", "x.t-1.c.com", "10.0.0.7", "B.COM." };
	static const char *const hosts[] = { "", "x.a.com", "10.0.0.7", "2001:db8::5", "b.com" };
	static const uint16_t ports_[] = { 0, 443, 8443, 3478, 80 };
	const char *s;

	memset(f, 0, sizeof(*f));
	f->app = (uint8_t)(rand() % APP_COUNT);
	f->tunnel = (uint8_t)(rand() % TUNNEL_COUNT);
	f->push = (uint8_t)(rand() % 3);
	f->flags = (uint8_t)(rand() % 2 ? FACT_FRONTING : 0);
	s = pick(names, 8);
	f->sni_len = (uint8_t)strlen(s);
	memcpy(f->sni, s, f->sni_len + 1);
	s = pick(hosts, 5);
	f->connect_host_len = (uint8_t)strlen(s);
	memcpy(f->connect_host, s, f->connect_host_len + 1);
	f->connect_port = ports_[rand() % 5];
	s = pick(names, 8);
	f->http_host_len = (uint8_t)strlen(s);
	memcpy(f->http_host, s, f->http_host_len + 1);
	s = pick((const char *const[]){ "", "t13d", "x", "y" }, 4);
	memcpy(f->ja4, s, strlen(s) + 1);
	memset(in, 0, sizeof(*in));
	in->facts = f;
	in->proto = rand() % 2 ? IPPROTO_TCP : IPPROTO_UDP;
	in->dport = ports_[rand() % 5];
	for (int d = 0; d < 2; d++) {
		uint8_t *a = in->addr[d];

		if (rand() % 2) {
			a[10] = a[11] = 0xff;
			a[12] = 10, a[15] = (uint8_t)(rand() % 2 ? 7 : 0),
			a[14] = (uint8_t)(rand() % 2);
		} else {
			a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
			a[7] = (uint8_t)(rand() % 2), a[15] = 5;
		}
	}
	in->src = in->addr[0];
	in->dst = in->addr[1];
}

static void test_mismatch_agrees(void **state)
{
	struct ruleset rs = { 0 };
	struct dpix_facts f;
	struct rules_input in;
	unsigned matched = 0, one = 0;

	(void)state;
	load(&rs, mixed);
	srand(42);
	for (int n = 0; n < 20000; n++) {
		random_facts(&f, &in);
		for (size_t i = 0; i < rs.packs[0]->nrules; i++) {
			const struct rule *r = &rs.packs[0]->rules[i];
			uint32_t miss = rule_mismatch(r, &in);

			assert_int_equal(miss == 0, rule_matches(r, &in));
			assert_int_equal(miss & ~r->conds, 0);
			matched += miss == 0 && r->conds;
			one += miss && !(miss & (miss - 1));
		}
	}
	/* The inputs reach both answers, and single failures. */
	assert_true(matched > 100);
	assert_true(one > 100);
	ruleset_free(&rs);
}

/* Rules that cover each other in several ways, over the values that
 * random_facts draws. */
static const char covering[] = "pack c\n"
			       "domains w = *.a.com b.com t-*.c.com\n"
			       "domains x = x.a.com t-1.c.com\n"
			       "domains t = t-*.c.com\n"
			       "addresses n8 = 10.0.0.0/8\n"
			       "addresses n24 = 10.0.0.0/24\n"
			       "rule c1 bypass sni in w\n"
			       "rule c2 bypass sni in x transport tcp\n"
			       "rule c3 bypass name in w dst in n8\n"
			       "rule c4 bypass name in t dst in n24 dport 443\n"
			       "rule c5 bypass connect in w connect-port 443,8443\n"
			       "rule c6 bypass connect in x connect-port 443 tunnel tls\n"
			       "rule c7 bypass app tls,http,connect\n"
			       "rule c8 bypass app tls sni in t\n"
			       "rule c9 bypass http-host in w src in n8\n"
			       "rule c10 bypass http-host in x src in n24 websocket\n";

/* Soundness: whenever a rule said to cover another matches less, fail. */
static void test_covers_sound(void **state)
{
	struct ruleset rs = { 0 };
	const struct rule_pack *pk;
	struct dpix_facts f;
	struct rules_input in;
	unsigned pairs = 0, both = 0;

	(void)state;
	load(&rs, covering);
	pk = rs.packs[0];
	for (size_t a = 0; a < pk->nrules; a++)
		for (size_t b = 0; b < pk->nrules; b++)
			pairs += a != b && rule_covers(&pk->rules[a], &pk->rules[b]);
	assert_true(pairs >= 5);
	srand(7);
	for (int n = 0; n < 20000; n++) {
		random_facts(&f, &in);
		for (size_t a = 0; a < pk->nrules; a++)
			for (size_t b = 0; b < pk->nrules; b++) {
				if (!rule_covers(&pk->rules[a], &pk->rules[b]) ||
				    !rule_matches(&pk->rules[b], &in))
					continue;
				if (!rule_matches(&pk->rules[a], &in))
					fail_msg("%s covers %s, but only %s matches",
						 pk->rules[a].id, pk->rules[b].id, pk->rules[b].id);
				both++;
			}
	}
	assert_true(both > 100);
	ruleset_free(&rs);
}

/* Each condition's failure, one at a time, on a flow that meets r1. */
static void test_mismatch_bits(void **state)
{
	struct ruleset rs = { 0 };
	struct dpix_facts f = { .app = APP_TLS, .sni_len = 7 };
	struct rules_input in = { .facts = &f, .proto = IPPROTO_TCP, .dport = 443 };
	const struct rule *r1;

	(void)state;
	load(&rs, mixed);
	r1 = rule(&rs, "r1");
	memcpy(f.sni, "x.a.com", 8);
	in.src = in.addr[0];
	in.dst = in.addr[1];
	assert_int_equal(rule_mismatch(r1, &in), 0);
	in.dport = 80;
	assert_int_equal(rule_mismatch(r1, &in), COND_DPORT);
	in.proto = IPPROTO_UDP;
	assert_int_equal(rule_mismatch(r1, &in), COND_DPORT | COND_TRANSPORT);
	f.app = APP_HTTP;
	f.sni_len = 0;
	assert_int_equal(rule_mismatch(r1, &in), COND_DPORT | COND_TRANSPORT | COND_APP | COND_SNI);
	assert_int_equal(rule_mismatch(rule(&rs, "r8"), &in), 0);
	ruleset_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domains),	      cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_ports),	      cmocka_unit_test(test_rule_covers),
		cmocka_unit_test(test_cond_name),     cmocka_unit_test(test_mismatch_agrees),
		cmocka_unit_test(test_mismatch_bits), cmocka_unit_test(test_covers_sound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
