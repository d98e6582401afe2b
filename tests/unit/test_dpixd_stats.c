/*
 * test_dpixd_stats.c: dpixd's counters rendered as the control socket's
 * JSON and as Prometheus text (dpixd_stats.c), the kernel's queue table
 * parsed, the uninspected estimate, and the per-rule counters summed over
 * workers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpixd/dpixd_stats.h"

/* Render into a string (caller frees). */
static char *render(const struct dpixd_stats *s, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	if (json)
		dpixd_stats_json(m, s);
	else
		dpixd_stats_prometheus(m, s);
	fclose(m);
	return buf;
}

static struct dpixd_qstats q2[2] = {
	{ .queue = 0,
	  .received = 10,
	  .verdicts = 9,
	  .send_fail = 1,
	  .decided = { 0, 2, 3, 1 },
	  .reasons = { 5, 0, 1 },
	  .evicted = 4,
	  .active_flows = 7,
	  .kernel = { true, 1, 2, 3, 15 } },
	{ .queue = 1, .received = 5, .decided = { 0, 1 }, .events_lost = 2 },
};
static struct dpixd_rulestat rules[3] = {
	{ "e2e", "turn-tls", "turn", 2 },
	{ "e2e", "blocked", NULL, 1 },
	{ "e2e", "stun\"x", "turn", 3 },
};
static const struct dpixd_stats stats = { "0.1.0", 4, 2, q2, 3, rules, 6, NULL };

static void test_json(void **state)
{
	char *j = render(&stats, true);

	(void)state;
	assert_string_equal(
	    j,
	    "{\"version\":\"0.1.0\",\"generation\":4,\"control_refused\":6,"
	    "\"total\":{\"packets\":15,\"verdicts_sent\":9,\"refused_batches\":1,"
	    "\"bad_messages\":0,\"overruns\":0,\"flows\":{\"bypass\":3,\"inspect\":3,\"drop\":1},"
	    "\"reasons\":{\"classified\":5,\"unrecognized\":0,\"budget_exhausted\":1,"
	    "\"flow_end\":0,\"evicted\":0,\"capture_end\":0,\"no_memory\":0},"
	    "\"budget_exhausted\":1,\"evictions\":4,\"active_flows\":7,\"events_lost\":2,"
	    "\"kernel\":{\"queue_total\":1,\"queue_dropped\":2,\"user_dropped\":3,"
	    "\"id_sequence\":15,\"uninspected_estimate\":6}},"
	    "\"queues\":[{\"queue\":0,\"packets\":10,\"verdicts_sent\":9,\"refused_batches\":1,"
	    "\"bad_messages\":0,\"overruns\":0,\"flows\":{\"bypass\":2,\"inspect\":3,\"drop\":1},"
	    "\"reasons\":{\"classified\":5,\"unrecognized\":0,\"budget_exhausted\":1,"
	    "\"flow_end\":0,\"evicted\":0,\"capture_end\":0,\"no_memory\":0},"
	    "\"budget_exhausted\":1,\"evictions\":4,\"active_flows\":7,\"events_lost\":0,"
	    "\"kernel\":{\"queue_total\":1,\"queue_dropped\":2,\"user_dropped\":3,"
	    "\"id_sequence\":15,\"uninspected_estimate\":6}},"
	    "{\"queue\":1,\"packets\":5,\"verdicts_sent\":0,\"refused_batches\":0,"
	    "\"bad_messages\":0,\"overruns\":0,\"flows\":{\"bypass\":1,\"inspect\":0,\"drop\":0},"
	    "\"reasons\":{\"classified\":0,\"unrecognized\":0,\"budget_exhausted\":0,"
	    "\"flow_end\":0,\"evicted\":0,\"capture_end\":0,\"no_memory\":0},"
	    "\"budget_exhausted\":0,\"evictions\":0,\"active_flows\":0,\"events_lost\":2,"
	    "\"kernel\":null}],"
	    "\"rules\":{\"e2e/turn-tls\":2,\"e2e/blocked\":1,\"e2e/stun\\\"x\":3},"
	    "\"services\":{\"turn\":5},\"forwarder\":null}\n");
	free(j);
}

/* With a forwarder: its counters in both renderings, every one of them. */
static void test_forwarder(void **state)
{
	struct proxy_counts pc = { .accepted = 10, .tunnels = 7, .fronting = 2, .open = 3 };
	struct dpixd_stats s = stats;
	char *j, *p;

	(void)state;
	s.proxy = &pc;
	j = render(&s, true);
	assert_non_null(strstr(j, ",\"forwarder\":{\"open\":3,\"accepted\":10,\"tunnels\":7,"
				  "\"parent\":0,"));
	assert_non_null(strstr(j,
			       ",\"fronting\":2,\"tunnel_refused\":0,\"idle\":0,\"transparent\":0,"
			       "\"tls\":0,\"tls_fail\":0}}\n"));
	p = render(&s, false);
	assert_non_null(strstr(p, "# TYPE dpix_proxy_open gauge\ndpix_proxy_open 3\n"));
	assert_non_null(strstr(p, "# HELP dpix_proxy_accepted_total Client connections accepted.\n"
				  "# TYPE dpix_proxy_accepted_total counter\n"
				  "dpix_proxy_accepted_total 10\n"));
	assert_non_null(strstr(p, "dpix_proxy_fronting_total 2\n"));
	assert_non_null(strstr(p, "dpix_proxy_connect_timeout_total 0\n"));
	free(j);
	free(p);
	p = render(&stats, false); /* no forwarder: none of its metrics */
	assert_null(strstr(p, "dpix_proxy_"));
	free(p);
}

static void test_prometheus(void **state)
{
	char *p = render(&stats, false);

	(void)state;
	assert_non_null(strstr(p, "# HELP dpix_packets_total Packets received from the queue.\n"
				  "# TYPE dpix_packets_total counter\n"
				  "dpix_packets_total{queue=\"0\"} 10\n"
				  "dpix_packets_total{queue=\"1\"} 5\n"));
	assert_non_null(strstr(p, "dpix_info{version=\"0.1.0\"} 1\n"));
	assert_non_null(strstr(p, "dpix_rules_generation 4\n"));
	assert_non_null(strstr(p, "dpix_control_refused_total 6\n"));
	assert_non_null(strstr(p, "# TYPE dpix_active_flows gauge\n"
				  "dpix_active_flows{queue=\"0\"} 7\n"));
	assert_non_null(strstr(p, "dpix_flows_decided_total{queue=\"0\",action=\"bypass\"} 2\n"));
	assert_non_null(
	    strstr(p, "dpix_flows_reason_total{queue=\"0\",reason=\"budget_exhausted\"} 1\n"));
	assert_non_null(strstr(p, "dpix_uninspected_estimate{queue=\"0\"} 6\n"));
	assert_non_null(strstr(p, "dpix_kernel_id_sequence{queue=\"0\"} 15\n"));
	assert_non_null(strstr(p, "dpix_rule_hits_total{pack=\"e2e\",rule=\"turn-tls\"} 2\n"));
	assert_non_null(strstr(p, "dpix_rule_hits_total{pack=\"e2e\",rule=\"stun\\\"x\"} 3\n"));
	assert_non_null(strstr(p, "dpix_service_hits_total{service=\"turn\"} 5\n"));
	/* Every line is a comment or "name[{labels}] value". */
	for (char *l = p, *nl; *l; l = nl + 1) {
		assert_non_null(nl = strchr(l, '\n'));
		if (*l == '#')
			assert_true(!strncmp(l, "# HELP dpix_", 12) ||
				    !strncmp(l, "# TYPE dpix_", 12));
		else
			assert_int_equal(strncmp(l, "dpix_", 5), 0);
	}
	free(p);
}

static void test_kqueue(void **state)
{
	struct dpixd_kqueue k = { 0 };
	struct dpixd_qstats q = { .received = 100 };

	(void)state;
	assert_false(
	    dpixd_kqueue_parse("    0  12345     0 2  4096     0     0      112  1", 3, &k));
	assert_false(k.known);
	assert_false(dpixd_kqueue_parse("garbage", 0, &k));
	assert_true(
	    dpixd_kqueue_parse("    3  12345     2 2  4096     5     6      112  1", 3, &k));
	assert_true(k.known);
	assert_int_equal(k.queue_total, 2);
	assert_int_equal(k.queue_dropped, 5);
	assert_int_equal(k.user_dropped, 6);
	assert_int_equal(k.id_sequence, 112);
	q.kernel = k;
	/* 112 ids given, 100 received, 2 still waiting; 5 found it full. */
	assert_int_equal(dpixd_uninspected(&q), 15);
	q.received = 120;
	assert_int_equal(dpixd_uninspected(&q), 5);
	q.kernel.known = false;
	assert_int_equal(dpixd_uninspected(&q), 0);
}

static void test_hits(void **state)
{
	struct rule r1[2] = { { .id = "a", .service = "s" }, { .id = "b" } };
	struct rule r2[1] = { { .id = "c", .service = "s" } };
	struct rule_pack p1 = { .name = "one", .rules = r1, .nrules = 2 };
	struct rule_pack p2 = { .name = "two", .rules = r2, .nrules = 1 };
	struct rule_pack *packs[2] = { &p1, &p2 };
	struct ruleset rs = { .packs = packs, .npacks = 2 };
	struct dpixd_hits *h;
	struct dpixd_rulestat *out;
	struct rule stray = { .id = "x", .pack = NULL };

	(void)state;
	r1[0].pack = r1[1].pack = &p1;
	r2[0].pack = &p2;
	assert_non_null(h = dpixd_hits_new(&rs, 2));
	assert_int_equal(h->nrules, 3);
	dpixd_hits_add(h, 0, &r1[1]);
	dpixd_hits_add(h, 1, &r1[1]);
	dpixd_hits_add(h, 1, &r2[0]);
	dpixd_hits_add(h, 0, &stray); /* not of this ruleset: not counted */
	assert_non_null(out = dpixd_hits_read(h));
	assert_string_equal(out[0].pack, "one");
	assert_string_equal(out[0].rule, "a");
	assert_string_equal(out[0].service, "s");
	assert_int_equal(out[0].hits, 0);
	assert_int_equal(out[1].hits, 2);
	assert_string_equal(out[2].pack, "two");
	assert_int_equal(out[2].hits, 1);
	free(out);
	dpixd_hits_free(h);
	dpixd_hits_free(NULL);
}

static void test_pub(void **state)
{
	static struct dpixd_pub p;
	struct dpixd_qstats in = { .received = 1,
				   .verdicts = 2,
				   .decided = { 0, 3 },
				   .reasons = { [REASON_EVICTED] = 4 },
				   .events_lost = 5 };
	struct dpixd_qstats out = { .queue = 9 };

	(void)state;
	dpixd_pub_store(&p, &in);
	dpixd_pub_load(&p, &out);
	assert_int_equal(out.queue, 9);
	assert_int_equal(out.received, 1);
	assert_int_equal(out.verdicts, 2);
	assert_int_equal(out.decided[ACTION_BYPASS], 3);
	assert_int_equal(out.reasons[REASON_EVICTED], 4);
	assert_int_equal(out.events_lost, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),   cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_kqueue), cmocka_unit_test(test_hits),
		cmocka_unit_test(test_pub),    cmocka_unit_test(test_forwarder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
