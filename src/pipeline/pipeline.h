/*
 * pipeline.h: the one classification path, decode -> flow -> stream ->
 * dissect -> rules, shared by every packet source (pcap replay, NFQUEUE).
 * A source hands frames in; the sink it registered hears each verdict once
 * per flow; the return value tells the source what to do with the packet.
 */
#ifndef DPIX_PIPELINE_H
#define DPIX_PIPELINE_H

#include "decode/decode-t.h"
#include "dissect/dissect-t.h"
#include "flow/flow-t.h"
#include "rules/rules-t.h"
#include "stream/stream-t.h"

struct pipeline_config {
	uint32_t max_flows;	/* flow table capacity, default 65536 */
	uint32_t stream_window; /* bytes per direction, default 16 KiB */
	size_t stream_memcap;	/* all stream buffers together, default 64 MiB */
	uint16_t max_packets;	/* payload packets per flow before deciding anyway, default 8 */
	struct flow_timeouts timeouts;
	const uint8_t *hash_key; /* 16 bytes, NULL for a fixed key */
};

#define PIPELINE_DEFAULT_FLOWS 65536u
#define PIPELINE_DEFAULT_PACKETS 8u

/* One verdict, as the sink sees it: all borrowed for the call. */
struct verdict_event {
	const struct flow *flow;
	const struct dpix_facts *facts;
	const struct verdict *verdict;
	uint64_t ts_us;
};

typedef void (*verdict_sink_fn)(const struct verdict_event *ev, void *arg);

struct pipeline_stats {
	uint64_t frames;
	uint64_t decode[DEC_REASON_COUNT]; /* decode[DEC_OK] = TCP/UDP packets */
	uint64_t verdicts[ACTION_COUNT];
	uint64_t reasons[REASON_COUNT];
	uint64_t app[APP_MAX]; /* by app id, plugin protocols included */
};

struct pipeline {
	struct flow_table *flows;
	struct stream_config stream;
	const struct ruleset *rules;
	uint16_t max_packets;
	verdict_sink_fn sink;
	void *sink_arg;
	uint8_t *scratch; /* stream_window bytes, for the dissectors */
	uint64_t last_expire_us;
	struct pipeline_stats stats;
};

int pipeline_init(struct pipeline *p, const struct pipeline_config *cfg,
		  const struct ruleset *rules, verdict_sink_fn sink, void *sink_arg);

/* Classify one frame. Returns the flow's action, or ACTION_NONE while it is
 * undecided (and for frames that are not TCP/UDP). */
enum rule_action pipeline_frame(struct pipeline *p, enum link_type link, const uint8_t *frame,
				size_t caplen, uint64_t ts_us);

/* End of input: decide every flow still open (reason capture_end). */
void pipeline_flush(struct pipeline *p);

void pipeline_fini(struct pipeline *p);

void pipeline_config_defaults(struct pipeline_config *cfg);

#endif
