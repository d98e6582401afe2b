/*
 * rules_probe.c: N lookups and nothing else, for counting what one lookup
 * costs under valgrind (bench/notes-rules.md).
 *
 *     rules_probe DIR QUERIES N [eval]
 *
 * loads DIR/domains.rules (QUERIES q-dom-*) or DIR/cidrs.rules (q-v4-*,
 * q-v6-*) as bench/gen_pack.py writes them, then looks up N queries of
 * DIR/QUERIES in turn, through domain_set_match / addr_set_match, or with
 * "eval" through rules_eval. Run it with N and with 0 under
 * `valgrind --tool=cachegrind --cache-sim=yes`: the difference over N is
 * one lookup's instructions and simulated cache misses, load excluded.
 * The queries sit one after the other in one buffer (read_queries, as in
 * rules_bench).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"
#include "rules/rules.h"
#include "rules_input.h"

int main(int argc, char **argv)
{
	struct ruleset rs = { 0 };
	struct rules_error err;
	struct dpix_facts facts = { .app = APP_TLS };
	uint8_t dst[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	struct rules_input in = {
		.facts = &facts, .proto = IPPROTO_TCP, .src = dst, .dst = dst, .dport = 443
	};
	char path[4096], *end;
	struct lines q = { 0 };
	size_t nq;
	uint8_t(*addr)[16] = NULL;
	unsigned long hits = 0;
	const struct rule *r;
	long n;
	bool dom, eval;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "eval"))) {
		fprintf(stderr, "usage: %s DIR QUERIES N [eval]\n", argv[0]);
		return 2;
	}
	n = strtol(argv[3], &end, 10);
	if (*end || n < 0) {
		fprintf(stderr, "%s: not a count\n", argv[3]);
		return 2;
	}
	dom = !strncmp(argv[2], "q-dom", 5);
	eval = argc == 5;
	snprintf(path, sizeof(path), "%s/%s", argv[1], dom ? "domains.rules" : "cidrs.rules");
	if (rules_load(&rs, path, &err) < 0 || ruleset_seal(&rs) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	r = &rs.packs[0]->rules[0];
	if (dom) {
		read_queries(argv[1], argv[2], &q);
		nq = q.n;
	} else {
		addr = read_addrs(argv[1], argv[2], &nq);
	}
	if (!nq) {
		fprintf(stderr, "%s/%s: no queries\n", argv[1], argv[2]);
		return 1;
	}
	for (long i = 0, k = 0; i < n; i++, k = (size_t)k + 1 == nq ? 0 : k + 1) {
		struct verdict v;

		if (!eval) {
			hits += dom ? domain_set_match(r->sni->u.dom, q.v[k], q.len[k])
				    : addr_set_match(r->dst->u.addr, addr[k]);
			continue;
		}
		if (dom) {
			memcpy(facts.sni, q.v[k], q.len[k] + 1);
			facts.sni_len = (uint8_t)q.len[k];
		} else {
			in.dst = addr[k];
		}
		rules_eval(&rs, &in, &v);
		hits += v.rule != NULL;
	}
	printf("%lu of %ld\n", hits, n);
	ruleset_free(&rs);
	if (q.n)
		free(q.v[0]); /* the one buffer */
	free(q.v);
	free(q.len);
	free(addr);
	return 0;
}
