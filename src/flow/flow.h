#ifndef DPIX_FLOW_H
#define DPIX_FLOW_H

#include <stdbool.h>

#include "decode/decode-t.h"
#include "flow/flow-t.h"

/* Why a flow leaves the table: handed to the release callback. */
enum flow_end { FLOW_END_TIMEOUT, FLOW_END_EVICTED, FLOW_END_FLUSH, FLOW_END_REUSED };

typedef void (*flow_release_fn)(struct flow *f, enum flow_end why, void *arg);

extern const struct flow_timeouts flow_default_timeouts;

/* A table of at most capacity flows, all memory taken now. hash_key may be
 * NULL for a fixed key (replay: same input, same output). Returns NULL on
 * allocation failure or a capacity of 0 or above FLOW_MAX_CAPACITY. */
struct flow_table *flow_table_new(uint32_t capacity, const struct flow_timeouts *to,
				  const uint8_t hash_key[16]);
void flow_table_free(struct flow_table *t);

/*
 * The flow this packet belongs to, created if new (evicting the least
 * valuable flow when full, after release() has been told). *dir is set to
 * the packet's direction. Updates counters, state and LRU position.
 */
struct flow *flow_track(struct flow_table *t, const struct packet *pkt, enum flow_dir *dir,
			flow_release_fn release, void *arg);

/* Remove flows idle past their state's timeout at time now_us. */
void flow_expire(struct flow_table *t, uint64_t now_us, flow_release_fn release, void *arg);

/* Remove every flow, oldest first (end of a capture, shutdown). */
void flow_flush(struct flow_table *t, flow_release_fn release, void *arg);

/* Bytes of table memory per flow slot (flow + bucket), for the docs. */
size_t flow_slot_bytes(void);

const char *flow_state_name(enum flow_state s);

#endif
