/*
 * dpixd_stats.c: dpixd's counters as JSON (the control socket's "stats")
 * and as Prometheus text exposition format 0.0.4 ("metrics", GET /metrics),
 * and the kernel's view of each queue.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpixd/dpixd_stats.h"
#include "rules/rules.h"

#define PROC_NFQUEUE "/proc/net/netfilter/nfnetlink_queue"

/*
 * A line of the kernel's table, nine numbers (net/netfilter/nfnetlink_queue.c):
 *
 *   queue_number peer_portid queue_total copy_mode copy_range
 *   queue_dropped user_dropped id_sequence 1
 */
bool dpixd_kqueue_parse(const char *line, unsigned queue, struct dpixd_kqueue *k)
{
	unsigned long long v[9];
	int n = 0;

	if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu %llu%n", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &n) != 9 ||
	    v[0] != queue)
		return false;
	k->known = true;
	k->queue_total = v[2];
	k->queue_dropped = v[5];
	k->user_dropped = v[6];
	k->id_sequence = v[7];
	return true;
}

void dpixd_kqueue_read(const char *path, unsigned queue, struct dpixd_kqueue *k)
{
	FILE *f = fopen(path ? path : PROC_NFQUEUE, "r");
	char line[256];

	*k = (struct dpixd_kqueue){ 0 };
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (dpixd_kqueue_parse(line, queue, k))
			break;
	fclose(f);
}

/*
 * How the kernel counts (net/netfilter/nfnetlink_queue.c): a packet that
 * finds the queue full is counted in queue_dropped (fail-closed) or in
 * nothing (fail-open); only then does it get an id; a packet whose
 * message cannot go into our socket keeps its id and counts in
 * user_dropped (fail-closed) or in nothing (fail-open). So ids minus what
 * we received minus what waits (queue_total) is what never reached us
 * through the socket, in either mode.
 */
uint64_t dpixd_uninspected(const struct dpixd_qstats *q)
{
	uint64_t seen = q->received + q->kernel.queue_total;

	if (!q->kernel.known)
		return 0;
	return (q->kernel.id_sequence > seen ? q->kernel.id_sequence - seen : 0) +
	       q->kernel.queue_dropped;
}

#define RELAXED memory_order_relaxed

static void put(_Atomic uint64_t *a, uint64_t v)
{
	atomic_store_explicit(a, v, RELAXED);
}

static uint64_t get(const _Atomic uint64_t *a)
{
	return atomic_load_explicit((_Atomic uint64_t *)a, RELAXED);
}

void dpixd_pub_store(struct dpixd_pub *p, const struct dpixd_qstats *now)
{
	put(&p->received, now->received);
	put(&p->verdicts, now->verdicts);
	put(&p->send_fail, now->send_fail);
	put(&p->bad_msgs, now->bad_msgs);
	put(&p->overruns, now->overruns);
	for (int a = 0; a < ACTION_COUNT; a++)
		put(&p->decided[a], now->decided[a]);
	for (int r = 0; r < REASON_COUNT; r++)
		put(&p->reasons[r], now->reasons[r]);
	put(&p->evicted, now->evicted);
	put(&p->active_flows, now->active_flows);
	put(&p->events_lost, now->events_lost);
}

void dpixd_pub_load(const struct dpixd_pub *p, struct dpixd_qstats *q)
{
	q->received = get(&p->received);
	q->verdicts = get(&p->verdicts);
	q->send_fail = get(&p->send_fail);
	q->bad_msgs = get(&p->bad_msgs);
	q->overruns = get(&p->overruns);
	for (int a = 0; a < ACTION_COUNT; a++)
		q->decided[a] = get(&p->decided[a]);
	for (int r = 0; r < REASON_COUNT; r++)
		q->reasons[r] = get(&p->reasons[r]);
	q->evicted = get(&p->evicted);
	q->active_flows = get(&p->active_flows);
	q->events_lost = get(&p->events_lost);
}

struct dpixd_hits *dpixd_hits_new(const struct ruleset *rs, size_t nworkers)
{
	struct dpixd_hits *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->rs = rs;
	h->nworkers = nworkers;
	if (!(h->base = calloc(rs->npacks + 1, sizeof(*h->base))))
		goto fail;
	for (size_t p = 0; p < rs->npacks; p++) {
		h->base[p] = h->nrules;
		h->nrules += rs->packs[p]->nrules;
	}
	if (!(h->n = calloc(h->nrules * nworkers + 1, sizeof(*h->n))))
		goto fail;
	return h;
fail:
	dpixd_hits_free(h);
	return NULL;
}

void dpixd_hits_free(struct dpixd_hits *h)
{
	if (!h)
		return;
	free(h->base);
	free(h->n);
	free(h);
}

void dpixd_hits_add(struct dpixd_hits *h, size_t w, const struct rule *r)
{
	const struct ruleset *rs = h->rs;

	for (size_t p = 0; p < rs->npacks; p++) {
		const struct rule_pack *pk = rs->packs[p];
		_Atomic uint64_t *c;

		if (r->pack != pk)
			continue;
		/* One writer per counter: a load and a store, no locked add. */
		c = &h->n[w * h->nrules + h->base[p] + (size_t)(r - pk->rules)];
		put(c, get(c) + 1);
		return;
	}
}

struct dpixd_rulestat *dpixd_hits_read(const struct dpixd_hits *h)
{
	struct dpixd_rulestat *out = calloc(h->nrules + 1, sizeof(*out));
	size_t i = 0;

	if (!out)
		return NULL;
	for (size_t p = 0; p < h->rs->npacks; p++) {
		const struct rule_pack *pk = h->rs->packs[p];

		for (size_t k = 0; k < pk->nrules; k++, i++) {
			out[i].pack = pk->name;
			out[i].rule = pk->rules[k].id;
			out[i].service = pk->rules[k].service;
			for (size_t w = 0; w < h->nworkers; w++)
				out[i].hits += get(&h->n[w * h->nrules + i]);
		}
	}
	return out;
}

/* The sum of every queue, kernel counters over the queues that have them. */
static void total(const struct dpixd_stats *s, struct dpixd_qstats *t)
{
	*t = (struct dpixd_qstats){ 0 };
	for (unsigned i = 0; i < s->nqueues; i++) {
		const struct dpixd_qstats *q = &s->q[i];

		t->received += q->received;
		t->verdicts += q->verdicts;
		t->send_fail += q->send_fail;
		t->bad_msgs += q->bad_msgs;
		t->overruns += q->overruns;
		for (int a = 0; a < ACTION_COUNT; a++)
			t->decided[a] += q->decided[a];
		for (int r = 0; r < REASON_COUNT; r++)
			t->reasons[r] += q->reasons[r];
		t->evicted += q->evicted;
		t->active_flows += q->active_flows;
		t->events_lost += q->events_lost;
		if (q->kernel.known) {
			t->kernel.known = true;
			t->kernel.queue_total += q->kernel.queue_total;
			t->kernel.queue_dropped += q->kernel.queue_dropped;
			t->kernel.user_dropped += q->kernel.user_dropped;
			t->kernel.id_sequence += q->kernel.id_sequence;
		}
	}
}

/* A JSON string, or a Prometheus label value (the same escapes suffice:
 * backslash, double quote, newline; other control bytes as \u00XX). */
static void quoted(FILE *out, const char *s, bool json)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", out);
		else if (ch < 0x20)
			fprintf(out, json ? "\\u%04x" : "?", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void json_queue(FILE *out, const struct dpixd_qstats *q, uint64_t uninspected)
{
	fprintf(out,
		"\"packets\":%" PRIu64 ",\"verdicts_sent\":%" PRIu64 ",\"refused_batches\":%" PRIu64
		",\"bad_messages\":%" PRIu64 ",\"overruns\":%" PRIu64 ",\"flows\":{",
		q->received, q->verdicts, q->send_fail, q->bad_msgs, q->overruns);
	for (int a = ACTION_BYPASS; a < ACTION_COUNT; a++)
		fprintf(out, "%s\"%s\":%" PRIu64, a > ACTION_BYPASS ? "," : "",
			rule_action_name((enum rule_action)a), q->decided[a]);
	fputs("},\"reasons\":{", out);
	for (int r = 0; r < REASON_COUNT; r++)
		fprintf(out, "%s\"%s\":%" PRIu64, r ? "," : "",
			verdict_reason_name((enum verdict_reason)r), q->reasons[r]);
	fprintf(out,
		"},\"budget_exhausted\":%" PRIu64 ",\"evictions\":%" PRIu64
		",\"active_flows\":%" PRIu64 ",\"events_lost\":%" PRIu64 ",\"kernel\":",
		q->reasons[REASON_BUDGET], q->evicted, q->active_flows, q->events_lost);
	if (!q->kernel.known) {
		fputs("null", out);
		return;
	}
	fprintf(out,
		"{\"queue_total\":%" PRIu64 ",\"queue_dropped\":%" PRIu64
		",\"user_dropped\":%" PRIu64 ",\"id_sequence\":%" PRIu64
		",\"uninspected_estimate\":%" PRIu64 "}",
		q->kernel.queue_total, q->kernel.queue_dropped, q->kernel.user_dropped,
		q->kernel.id_sequence, uninspected);
}

/* The index of the first rule with r's service, so each service is
 * counted once, in the order it first appears. */
static size_t first_service(const struct dpixd_stats *s, size_t r)
{
	for (size_t i = 0; i < r; i++)
		if (s->rules[i].service && !strcmp(s->rules[i].service, s->rules[r].service))
			return i;
	return r;
}

static uint64_t service_hits(const struct dpixd_stats *s, size_t r)
{
	uint64_t n = 0;

	for (size_t i = r; i < s->nrules; i++)
		if (s->rules[i].service && !strcmp(s->rules[i].service, s->rules[r].service))
			n += s->rules[i].hits;
	return n;
}

void dpixd_stats_json(FILE *out, const struct dpixd_stats *s)
{
	struct dpixd_qstats t;
	uint64_t uninspected = 0;
	bool first = true;

	total(s, &t);
	/* A sum of the queues' estimates: the kernel's numbers of a queue
	 * only make sense against that queue's. */
	for (unsigned i = 0; i < s->nqueues; i++)
		uninspected += dpixd_uninspected(&s->q[i]);
	fputs("{\"version\":", out);
	quoted(out, s->version, true);
	fprintf(out, ",\"generation\":%u,\"control_refused\":%" PRIu64 ",\"total\":{",
		s->generation, s->ctl_refused);
	json_queue(out, &t, uninspected);
	fputs("},\"queues\":[", out);
	for (unsigned i = 0; i < s->nqueues; i++) {
		fprintf(out, "%s{\"queue\":%u,", i ? "," : "", s->q[i].queue);
		json_queue(out, &s->q[i], dpixd_uninspected(&s->q[i]));
		fputc('}', out);
	}
	fputs("],\"rules\":{", out);
	for (size_t i = 0; i < s->nrules; i++) {
		char key[512];

		snprintf(key, sizeof(key), "%s/%s", s->rules[i].pack, s->rules[i].rule);
		fputs(i ? "," : "", out);
		quoted(out, key, true);
		fprintf(out, ":%" PRIu64, s->rules[i].hits);
	}
	fputs("},\"services\":{", out);
	for (size_t i = 0; i < s->nrules; i++) {
		if (!s->rules[i].service || first_service(s, i) != i)
			continue;
		fputs(first ? "" : ",", out);
		quoted(out, s->rules[i].service, true);
		fprintf(out, ":%" PRIu64, service_hits(s, i));
		first = false;
	}
	fputs("},\"forwarder\":", out);
	if (!s->proxy) {
		fputs("null}\n", out);
		return;
	}
	fprintf(out, "{\"open\":%" PRIu64, s->proxy->open);
#define PROXY_JSON(f, words, help) fprintf(out, ",\"" #f "\":%" PRIu64, s->proxy->f);
	PROXY_COUNTERS(PROXY_JSON)
#undef PROXY_JSON
	fputs("}}\n", out);
}

/* A metric's HELP and TYPE lines. */
static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP dpix_%s %s\n# TYPE dpix_%s %s\n", name, help, name, type);
}

/* One counter or gauge per queue, from the field at off in dpixd_qstats. */
static void per_queue(FILE *out, const struct dpixd_stats *s, const char *name, const char *type,
		      const char *help, size_t off)
{
	head(out, name, type, help);
	for (unsigned i = 0; i < s->nqueues; i++) {
		uint64_t v;

		memcpy(&v, (const char *)&s->q[i] + off, sizeof(v));
		fprintf(out, "dpix_%s{queue=\"%u\"} %" PRIu64 "\n", name, s->q[i].queue, v);
	}
}

#define QOFF(f) offsetof(struct dpixd_qstats, f)

void dpixd_stats_prometheus(FILE *out, const struct dpixd_stats *s)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} simple[] = {
		{ "packets_total", "counter", "Packets received from the queue.", QOFF(received) },
		{ "verdicts_sent_total", "counter", "Verdicts sent to the kernel.",
		  QOFF(verdicts) },
		{ "refused_batches_total", "counter", "Verdict batches the kernel refused.",
		  QOFF(send_fail) },
		{ "bad_messages_total", "counter", "Queue messages that could not be parsed.",
		  QOFF(bad_msgs) },
		{ "overruns_total", "counter", "Receive buffer overruns (ENOBUFS).",
		  QOFF(overruns) },
		{ "evictions_total", "counter", "Flows evicted because the flow table was full.",
		  QOFF(evicted) },
		{ "active_flows", "gauge", "Flows in the flow table.", QOFF(active_flows) },
		{ "events_lost_total", "counter", "EVE lines that could not be written.",
		  QOFF(events_lost) },
		{ "kernel_queue_length", "gauge", "Packets waiting in the kernel queue.",
		  QOFF(kernel.queue_total) },
		{ "kernel_queue_dropped_total", "counter",
		  "Packets the kernel did not queue because the queue was full.",
		  QOFF(kernel.queue_dropped) },
		{ "kernel_user_dropped_total", "counter",
		  "Packets the kernel could not send to dpixd's socket.",
		  QOFF(kernel.user_dropped) },
		{ "kernel_id_sequence", "counter", "The kernel's last packet id for the queue.",
		  QOFF(kernel.id_sequence) },
	};
	bool first = true;

	head(out, "info", "gauge", "The running dpixd.");
	fputs("dpix_info{version=", out);
	quoted(out, s->version, false);
	fputs("} 1\n", out);
	head(out, "rules_generation", "gauge",
	     "The rule pack generation: 0 at start, +1 a reload.");
	fprintf(out, "dpix_rules_generation %u\n", s->generation);
	head(out, "control_refused_total", "counter", "Control clients closed over a bound.");
	fprintf(out, "dpix_control_refused_total %" PRIu64 "\n", s->ctl_refused);
	for (size_t m = 0; m < sizeof(simple) / sizeof(simple[0]); m++)
		per_queue(out, s, simple[m].name, simple[m].type, simple[m].help, simple[m].off);
	head(out, "uninspected_estimate", "gauge",
	     "Packets the kernel queued that dpixd never received (see dpixd(8)).");
	for (unsigned i = 0; i < s->nqueues; i++)
		fprintf(out, "dpix_uninspected_estimate{queue=\"%u\"} %" PRIu64 "\n", s->q[i].queue,
			dpixd_uninspected(&s->q[i]));
	head(out, "flows_decided_total", "counter", "Flows decided, by verdict.");
	for (unsigned i = 0; i < s->nqueues; i++)
		for (int a = ACTION_BYPASS; a < ACTION_COUNT; a++)
			fprintf(out,
				"dpix_flows_decided_total{queue=\"%u\",action=\"%s\"} %" PRIu64
				"\n",
				s->q[i].queue, rule_action_name((enum rule_action)a),
				s->q[i].decided[a]);
	head(out, "flows_reason_total", "counter", "Flows decided, by reason.");
	for (unsigned i = 0; i < s->nqueues; i++)
		for (int r = 0; r < REASON_COUNT; r++)
			fprintf(out,
				"dpix_flows_reason_total{queue=\"%u\",reason=\"%s\"} %" PRIu64 "\n",
				s->q[i].queue, verdict_reason_name((enum verdict_reason)r),
				s->q[i].reasons[r]);
	head(out, "rule_hits_total", "counter", "Flows each rule decided in this generation.");
	for (size_t i = 0; i < s->nrules; i++) {
		fputs("dpix_rule_hits_total{pack=", out);
		quoted(out, s->rules[i].pack, false);
		fputs(",rule=", out);
		quoted(out, s->rules[i].rule, false);
		fprintf(out, "} %" PRIu64 "\n", s->rules[i].hits);
	}
	for (size_t i = 0; i < s->nrules; i++) {
		if (!s->rules[i].service || first_service(s, i) != i)
			continue;
		if (first)
			head(out, "service_hits_total", "counter",
			     "Flows decided by the rules of each service in this generation.");
		first = false;
		fputs("dpix_service_hits_total{service=", out);
		quoted(out, s->rules[i].service, false);
		fprintf(out, "} %" PRIu64 "\n", service_hits(s, i));
	}
	if (!s->proxy)
		return;
	head(out, "proxy_open", "gauge", "Client connections the forwarder holds.");
	fprintf(out, "dpix_proxy_open %" PRIu64 "\n", s->proxy->open);
#define PROXY_PROM(f, words, help)                        \
	head(out, "proxy_" #f "_total", "counter", help); \
	fprintf(out, "dpix_proxy_" #f "_total %" PRIu64 "\n", s->proxy->f);
	PROXY_COUNTERS(PROXY_PROM)
#undef PROXY_PROM
}
