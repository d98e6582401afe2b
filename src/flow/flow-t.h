/* flow-t.h: a bidirectional flow and the fixed-size table that holds them. */
#ifndef DPIX_FLOW_T_H
#define DPIX_FLOW_T_H

#include <stdint.h>

#define FLOW_NIL UINT32_MAX
#define FLOW_MAX_CAPACITY (1u << 30) /* 2^30 flows is ~120 GiB: beyond any gateway */

/* Direction of a packet relative to the flow: the initiator is the client. */
enum flow_dir { DIR_TO_SERVER = 0, DIR_TO_CLIENT = 1 };

/*
 * Timeout classes. Each has its own LRU list ordered by last activity, so
 * the tail of each list is exactly the next flow of that class to expire.
 * The order is also the eviction preference when the table is full: flows
 * that are finished or have never been answered go first.
 */
enum flow_state {
	FLOW_CLOSED,	  /* TCP RST, or FIN seen both ways */
	FLOW_TCP_NEW,	  /* TCP, only the initiator has spoken */
	FLOW_UDP_NEW,	  /* UDP, one direction so far */
	FLOW_TCP_CLOSING, /* TCP, FIN seen one way */
	FLOW_UDP_EST,	  /* UDP, both directions seen */
	FLOW_TCP_EST,	  /* TCP, both directions seen */
	FLOW_STATE_COUNT
};

/* The initiator's address and port are index 0. */
struct flow_key {
	uint8_t addr[2][16];
	uint16_t port[2];
	uint16_t vlan;
	uint8_t proto;
	uint8_t family;
};

struct flow_inspect; /* classification state, only while undecided */

#define FLOW_F_FIN_CLI 0x01
#define FLOW_F_FIN_SRV 0x02
#define FLOW_F_SYN 0x04	      /* the flow began with a SYN we saw */
#define FLOW_F_MIDSTREAM 0x08 /* TCP, first seen with neither SYN nor SYN-ACK */

struct flow {
	struct flow_key key;
	uint64_t id;
	uint64_t first_us, last_us;
	uint64_t bytes[2]; /* payload bytes per direction */
	uint32_t pkts[2];
	uint32_t hnext;	       /* hash chain, or free list */
	uint32_t lprev, lnext; /* LRU list of the flow's state */
	uint8_t state;	       /* enum flow_state */
	uint8_t flags;	       /* FLOW_F_* */
	uint8_t action;	       /* enum rule_action once decided, else 0 */
	uint8_t decided;
	struct flow_inspect *insp;
};

/* Seconds of inactivity after which a flow of each state expires. */
struct flow_timeouts {
	uint32_t sec[FLOW_STATE_COUNT];
};

struct flow_stats {
	uint64_t created;
	uint64_t expired;
	uint64_t evicted; /* removed early because the table was full */
	uint32_t active;
	uint32_t high_water;
};

struct flow_list {
	uint32_t head, tail; /* head = most recently active */
};

struct flow_table {
	struct flow *flows;
	uint32_t *buckets;
	uint32_t capacity, nbuckets; /* nbuckets is a power of two */
	uint32_t free_head;
	uint64_t next_id;
	uint64_t now_us; /* latest packet time seen: table time never goes back */
	uint32_t last;	 /* the flow of the previous packet, or FLOW_NIL */
	struct flow_list lru[FLOW_STATE_COUNT];
	struct flow_timeouts timeouts;
	struct flow_stats stats;
	uint8_t hash_key[16];
};

#endif
