/*
 * pipeline.c: runs one packet through decode, the flow table, the stream,
 * the dissectors and the rules, and decides each flow exactly once.
 *
 * A flow is undecided until a dissector matches, every dissector has said
 * not-mine, its packet budget runs out, or it ends. While undecided it owns
 * a flow_inspect (streams and facts); the verdict frees it, so a decided
 * flow costs only its table slot. The sink hears each verdict once.
 */
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "dissect/dissect.h"
#include "flow/flow.h"
#include "pipeline/pipeline.h"
#include "rules/rules.h"
#include "stream/stream.h"

struct flow_inspect {
	struct stream_dir dir[2];
	uint32_t candidates; /* dissectors still in play */
	uint16_t payload_pkts;
	struct dpix_facts facts;
};

void pipeline_config_defaults(struct pipeline_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_flows = PIPELINE_DEFAULT_FLOWS;
	cfg->stream_window = STREAM_DEFAULT_WINDOW;
	cfg->stream_memcap = STREAM_DEFAULT_MEMCAP;
	cfg->max_packets = PIPELINE_DEFAULT_PACKETS;
	cfg->timeouts = flow_default_timeouts;
}

int pipeline_init(struct pipeline *p, const struct pipeline_config *cfg,
		  const struct ruleset *rules, verdict_sink_fn sink, void *sink_arg)
{
	memset(p, 0, sizeof(*p));
	stream_config_init(&p->stream, cfg->stream_window, cfg->stream_memcap);
	p->flows = flow_table_new(cfg->max_flows, &cfg->timeouts, cfg->hash_key);
	p->scratch = malloc(p->stream.window);
	if (!p->flows || !p->scratch) {
		pipeline_fini(p);
		return -1;
	}
	p->rules = rules;
	p->max_packets = cfg->max_packets ? cfg->max_packets : PIPELINE_DEFAULT_PACKETS;
	p->sink = sink;
	p->sink_arg = sink_arg;
	return 0;
}

static void inspect_free(struct pipeline *p, struct flow *f)
{
	if (!f->insp)
		return;
	stream_free(&f->insp->dir[0], &p->stream);
	stream_free(&f->insp->dir[1], &p->stream);
	free(f->insp);
	f->insp = NULL;
}

/* A flow's endpoints as rules see them: IPv4 as ::ffff:a.b.c.d. */
static void rules_input_of(const struct flow *f, const struct dpix_facts *facts,
			   struct rules_input *in)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	for (int d = 0; d < 2; d++) {
		uint8_t *a = in->addr[d];

		if (f->key.family == 4) {
			memcpy(a, mapped, 12);
			memcpy(a + 12, f->key.addr[d], 4);
		} else {
			memcpy(a, f->key.addr[d], 16);
		}
	}
	in->facts = facts;
	in->proto = f->key.proto;
	in->src = in->addr[0];
	in->dst = in->addr[1];
	in->sport = f->key.port[0];
	in->dport = f->key.port[1];
}

static void decide(struct pipeline *p, struct flow *f, enum verdict_reason why, uint64_t ts)
{
	static const struct dpix_facts none;
	const struct dpix_facts *facts = f->insp ? &f->insp->facts : &none;
	struct rules_input in;
	struct verdict v;

	/* A flow a dissector recognized is classified, whenever the wait for
	 * more of its facts ended (budget, flow end, eviction). */
	if (facts->app != APP_UNKNOWN && why != REASON_NO_MEMORY)
		why = REASON_CLASSIFIED;
	rules_input_of(f, facts, &in);
	rules_eval(p->rules, &in, &v);
	v.reason = (uint8_t)why;
	f->action = v.action;
	f->decided = 1;
	p->stats.verdicts[v.action]++;
	p->stats.reasons[why]++;
	p->stats.app[facts->app < APP_MAX ? facts->app : APP_UNKNOWN]++;
	if (p->sink) {
		struct verdict_event ev = { f, facts, &v, ts };

		p->sink(&ev, p->sink_arg);
	}
	inspect_free(p, f);
}

static void on_release(struct flow *f, enum flow_end why, void *arg)
{
	struct pipeline *p = arg;
	static const enum verdict_reason reason_of[] = {
		[FLOW_END_TIMEOUT] = REASON_FLOW_END,
		[FLOW_END_EVICTED] = REASON_EVICTED,
		[FLOW_END_FLUSH] = REASON_CAPTURE_END,
		[FLOW_END_REUSED] = REASON_FLOW_END,
	};

	if (!f->decided)
		decide(p, f, reason_of[why], f->last_us);
	inspect_free(p, f);
}

static struct flow_inspect *inspect_new(const struct packet *pkt)
{
	struct flow_inspect *in = calloc(1, sizeof(*in));

	if (in)
		in->candidates =
		    dissect_candidates(pkt->proto == IPPROTO_TCP_ ? DPIX_TCP : DPIX_UDP);
	return in;
}

/* Feed the packet's payload to the flow's streams; true if new bytes arrived. */
static bool feed_tcp(struct pipeline *p, struct flow_inspect *in, const struct packet *pkt,
		     enum flow_dir dir)
{
	struct stream_dir *sd = &in->dir[dir];
	uint32_t seq = pkt->seq;
	bool grew = false;

	if (pkt->tcp_flags & TH_SYN_) {
		stream_syn(sd, pkt->seq);
		seq++; /* data on a SYN (TCP Fast Open) starts after it */
	}
	if (pkt->payload_len)
		grew = stream_add(sd, &p->stream, seq, pkt->payload, pkt->payload_len);
	if (pkt->tcp_flags & (TH_FIN_ | TH_RST_))
		stream_fin(sd);
	return grew;
}

static void classify(struct pipeline *p, struct flow *f, const struct packet *pkt,
		     enum flow_dir dir)
{
	struct flow_inspect *in = f->insp;
	struct dpix_input di = {
		.client_port = f->key.port[0],
		.server_port = f->key.port[1],
		.scratch = p->scratch,
		.scratch_len = p->stream.window,
	};
	enum dpix_answer a;
	bool fresh;

	if (pkt->proto == IPPROTO_TCP_) {
		fresh = feed_tcp(p, in, pkt, dir);
		di.transport = DPIX_TCP;
		di.dir = (uint8_t)dir;
		di.midstream = (f->flags & FLOW_F_MIDSTREAM) != 0;
		for (int d = 0; d < 2; d++) {
			di.data[d] = stream_data(&in->dir[d], &di.len[d]);
			di.closed[d] =
			    (in->dir[d].flags & (STREAM_STOPPED | STREAM_FIN | STREAM_FULL)) != 0;
		}
	} else {
		fresh = pkt->payload_len > 0;
		di.transport = DPIX_UDP;
		di.dir = (uint8_t)dir;
		di.data[dir] = pkt->payload;
		di.len[dir] = pkt->payload_len;
	}
	if (pkt->payload_len)
		in->payload_pkts++;
	/* Dissectors look at the client's bytes first; a closed client side
	 * also settles the question. */
	if (fresh || di.closed[0]) {
		a = dissect_run(&in->candidates, &di, in->dir[0].segs, &in->facts);
		if (a == DPIX_MATCH) {
			decide(p, f, REASON_CLASSIFIED, pkt->ts_us);
			return;
		}
		if (a == DPIX_NOT_MINE) {
			decide(p, f, REASON_UNRECOGNIZED, pkt->ts_us);
			return;
		}
	}
	/* Out of budget: a flow already recognized keeps what it learned. */
	if (in->payload_pkts >= p->max_packets)
		decide(p, f, REASON_BUDGET, pkt->ts_us);
}

enum rule_action pipeline_frame(struct pipeline *p, enum link_type link, const uint8_t *frame,
				size_t caplen, uint64_t ts_us)
{
	struct packet pkt;
	enum decode_reason r;
	enum flow_dir dir;
	struct flow *f;

	p->stats.frames++;
	r = decode_frame(link, frame, caplen, &pkt);
	p->stats.decode[r]++;
	if (r != DEC_OK)
		return ACTION_NONE;
	pkt.ts_us = ts_us;
	/* Expire at most once per second of packet time. */
	if (ts_us >= p->last_expire_us + 1000000u) {
		flow_expire(p->flows, ts_us, on_release, p);
		p->last_expire_us = ts_us;
	}
	f = flow_track(p->flows, &pkt, &dir, on_release, p);
	if (f->decided)
		return (enum rule_action)f->action;
	if (!f->insp && !(f->insp = inspect_new(&pkt))) {
		decide(p, f, REASON_NO_MEMORY, ts_us);
		return (enum rule_action)f->action;
	}
	classify(p, f, &pkt, dir);
	return f->decided ? (enum rule_action)f->action : ACTION_NONE;
}

void pipeline_flush(struct pipeline *p)
{
	if (p->flows)
		flow_flush(p->flows, on_release, p);
	p->last_expire_us = 0;
}

void pipeline_fini(struct pipeline *p)
{
	pipeline_flush(p);
	flow_table_free(p->flows);
	free(p->scratch);
	p->flows = NULL;
	p->scratch = NULL;
}
