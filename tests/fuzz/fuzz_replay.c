/*
 * fuzz_replay.c: libFuzzer harness for the whole classification path.
 *
 * The input is a capture file image (pcap or pcapng), read by libpcap from
 * memory (fmemopen + pcap_fopen_offline) and run frame by frame through a
 * small pipeline: decode, flow table, streams, dissectors, rules, and both
 * output formats for every verdict. The rule pack is loaded once, from
 * $DPIX_FUZZ_RULES or else rules/rainbow.rules under the working directory;
 * without it the ruleset is empty.
 *
 * Small limits make the edges reachable with small inputs: 64 flows (the
 * table fills and evicts), a 4 KiB stream window and a 64 KiB stream memcap
 * (windows fill, the memcap refuses buffers).
 *
 * Each frame is handed over in a heap block of exactly its captured length,
 * freed after the call, so a read past the frame or a pointer kept into it
 * is an ASan error here too, not only in fuzz_decode.
 *
 * Checked: each flow gets exactly one verdict, with an action, reason and
 * app in range; a flow no dissector matched carries no name (only a match
 * changes facts, so no rule can act on a half-parsed hello); both output
 * lines are printable ASCII of the length returned; after the flush no flow
 * and no stream memory is left, and the pipeline's counters add up to the
 * frames and verdicts seen.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "replay/replay.h"
#include "flow/flow.h"
#include "output/output.h"
#include "pipeline/pipeline.h"
#include "rules/rules.h"

#define MAX_FRAMES 20000u
#define DEFAULT_RULES "rules/rainbow.rules"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ruleset rules;

struct sink_ctx {
	uint64_t events;
	uint64_t max_id; /* flow ids run from 1 to at most the frames read */
	uint8_t *seen;	 /* one bit per flow id */
	char line[OUTPUT_LINE_MAX];
};

static _Noreturn void fail(const char *what)
{
	fprintf(stderr, "fuzz_replay: %s\n", what);
	abort();
}

static void free_rules(void)
{
	ruleset_free(&rules);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *path = getenv("DPIX_FUZZ_RULES");
	struct rules_error err;

	(void)argc;
	(void)argv;
	if (!path || !*path)
		path = DEFAULT_RULES;
	if (rules_load(&rules, path, &err) < 0)
		fprintf(stderr, "fuzz_replay: %s; fuzzing with an empty ruleset\n", err.msg);
	atexit(free_rules);
	return 0;
}

static void check_line(const char *line, size_t n, const char *what)
{
	if (n >= OUTPUT_LINE_MAX || strlen(line) != n)
		fail(what);
	for (size_t i = 0; i < n; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			fail(what);
}

static void on_verdict(const struct verdict_event *ev, void *arg)
{
	struct sink_ctx *s = arg;
	const struct verdict *v = ev->verdict;
	uint64_t id = ev->flow->id;
	size_t n;

	s->events++;
	if (id == 0 || id > s->max_id)
		fail("verdict for a flow id out of range");
	if (s->seen[id / 8] & (1u << (id % 8)))
		fail("a second verdict for one flow");
	s->seen[id / 8] |= (uint8_t)(1u << (id % 8));
	if (v->action < ACTION_BYPASS || v->action >= ACTION_COUNT || v->reason >= REASON_COUNT ||
	    ev->facts->app >= APP_COUNT)
		fail("verdict action, reason or app out of range");
	if (v->rule && v->rule->action != v->action)
		fail("verdict action differs from its rule's");
	if (ev->facts->app == APP_UNKNOWN && (ev->facts->sni_len || ev->facts->connect_host_len))
		fail("a flow no dissector matched carries a name");
	n = output_eve_format(s->line, sizeof(s->line), ev, "fuzz.pcap");
	check_line(s->line, n, "EVE line is not printable ASCII of the returned length");
	n = output_table_format(s->line, sizeof(s->line), ev);
	check_line(s->line, n, "table line is not printable ASCII of the returned length");
}

static uint64_t sum(const uint64_t *v, size_t from, size_t to)
{
	uint64_t t = 0;

	for (size_t i = from; i < to; i++)
		t += v[i];
	return t;
}

/* After the flush: nothing left, and the counters agree with each other. */
static void check_totals(const struct pipeline *p, const struct sink_ctx *s, uint64_t frames)
{
	const struct pipeline_stats *st = &p->stats;

	if (p->flows->stats.active != 0 || p->stream.used != 0)
		fail("flows or stream memory left after the flush");
	if (s->events != p->flows->stats.created)
		fail("flows created and verdicts given differ");
	if (st->frames != frames || sum(st->decode, 0, DEC_REASON_COUNT) != frames)
		fail("decode counters do not add up to the frames");
	if (sum(st->verdicts, 0, ACTION_COUNT) != s->events ||
	    sum(st->reasons, 0, REASON_COUNT) != s->events ||
	    sum(st->app, 0, APP_COUNT) != s->events)
		fail("verdict counters do not add up to the verdicts");
}

static void replay(pcap_t *pc, enum link_type lt)
{
	struct pipeline_config cfg;
	struct sink_ctx *s = calloc(1, sizeof(*s));
	struct pipeline p;
	struct pcap_pkthdr *h;
	const u_char *frame;
	uint64_t frames = 0;

	if (!s || !(s->seen = calloc(MAX_FRAMES / 8 + 1, 1)))
		fail("out of memory");
	s->max_id = MAX_FRAMES;
	pipeline_config_defaults(&cfg);
	cfg.max_flows = 64;
	cfg.stream_window = 4096;
	cfg.stream_memcap = 64 << 10;
	if (pipeline_init(&p, &cfg, &rules, on_verdict, s) < 0)
		fail("pipeline_init");
	while (frames < MAX_FRAMES && pcap_next_ex(pc, &h, &frame) == 1) {
		/* A block of exactly caplen bytes, freed after the call: a read
		 * past the frame, or a pointer kept into it, is an ASan error. */
		uint8_t *copy = malloc(h->caplen ? h->caplen : 1);

		if (!copy)
			fail("out of memory");
		memcpy(copy, frame, h->caplen);
		frames++;
		pipeline_frame(&p, lt, copy, h->caplen,
			       (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec);
		free(copy);
	}
	pipeline_flush(&p);
	check_totals(&p, s, frames);
	pipeline_fini(&p);
	free(s->seen);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	enum link_type lt;
	pcap_t *pc;
	FILE *f;

	if (size < 4)
		return 0;
	f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	pc = pcap_fopen_offline(f, errbuf);
	if (!pc) {
		fclose(f); /* only a pcap_t that was made owns the FILE */
		return 0;
	}
	if (replay_link_type(pcap_datalink(pc), &lt) == 0)
		replay(pc, lt);
	pcap_close(pc);
	return 0;
}
