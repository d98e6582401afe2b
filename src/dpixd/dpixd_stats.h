/*
 * dpixd_stats.h: a snapshot of dpixd's counters, and its two renderings:
 * the control socket's JSON object and the Prometheus text format. The
 * snapshot is plain data, so the renderings are tested without a queue.
 */
#ifndef DPIX_DPIXD_STATS_H
#define DPIX_DPIXD_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proxy/proxy-t.h"
#include "rules/rules-t.h"

/* The kernel's view of one queue: /proc/net/netfilter/nfnetlink_queue. */
struct dpixd_kqueue {
	bool known; /* the queue has a line there */
	uint64_t queue_total, queue_dropped, user_dropped, id_sequence;
};

struct dpixd_qstats {
	unsigned queue;
	uint64_t received, verdicts, send_fail, bad_msgs, overruns;
	uint64_t decided[ACTION_COUNT]; /* flows by verdict */
	uint64_t reasons[REASON_COUNT]; /* flows by reason */
	uint64_t evicted, active_flows, events_lost;
	struct dpixd_kqueue kernel;
};

struct dpixd_rulestat {
	const char *pack, *rule, *service; /* service may be NULL */
	uint64_t hits;
};

struct dpixd_stats {
	const char *version;
	unsigned generation; /* rule pack generation: 0 at start, +1 a reload */
	unsigned nqueues;
	struct dpixd_qstats *q;
	size_t nrules;
	struct dpixd_rulestat *rules;	  /* hits since the generation began */
	uint64_t ctl_refused;		  /* control clients closed over a bound */
	const struct proxy_counts *proxy; /* the forwarder's; NULL: none runs */
};

/* One line of the kernel's table into k, for queue; false when the line
 * is not that queue's or does not parse. */
bool dpixd_kqueue_parse(const char *line, unsigned queue, struct dpixd_kqueue *k);

/* Fill k for queue from path (NULL: the /proc file); known stays false if
 * the file or the line is missing. */
void dpixd_kqueue_read(const char *path, unsigned queue, struct dpixd_kqueue *k);

/* Packets the queue rules sent that dpixd never received: id_sequence -
 * received - queue_total (at least 0), plus queue_dropped; 0 when the
 * kernel has no line for the queue. See dpixd(8) for what it misses. */
uint64_t dpixd_uninspected(const struct dpixd_qstats *q);

/*
 * A worker's counters as the control thread reads them: the worker stores
 * them with relaxed atomics at the end of each batch (one writer, no
 * locks); a reader sees each counter whole, the set a batch apart at most.
 */
struct dpixd_pub {
	_Atomic uint64_t received, verdicts, send_fail, bad_msgs, overruns;
	_Atomic uint64_t decided[ACTION_COUNT], reasons[REASON_COUNT];
	_Atomic uint64_t evicted, active_flows, events_lost;
};

/* The worker's side: its counters, written as they are now. */
void dpixd_pub_store(struct dpixd_pub *p, const struct dpixd_qstats *now);
/* The reader's side: into q, kernel view and queue number untouched. */
void dpixd_pub_load(const struct dpixd_pub *p, struct dpixd_qstats *q);

/*
 * Flows decided by each rule, per worker: one counter per rule position
 * (packs in order, rules in order) and worker, so each counter has one
 * writer. Made for one ruleset generation; a reload starts a new one.
 */
struct dpixd_hits {
	const struct ruleset *rs;
	size_t nrules, nworkers;
	size_t *base;	     /* the position of each pack's first rule */
	_Atomic uint64_t *n; /* [worker * nrules + position] */
};

struct dpixd_hits *dpixd_hits_new(const struct ruleset *rs, size_t nworkers);
void dpixd_hits_free(struct dpixd_hits *h);
/* A flow decided by rule r, in worker w (called by that worker only). */
void dpixd_hits_add(struct dpixd_hits *h, size_t w, const struct rule *r);
/* Every rule with its hits summed over workers, into a new array of
 * h->nrules (NULL when out of memory); strings borrowed from h->rs. */
struct dpixd_rulestat *dpixd_hits_read(const struct dpixd_hits *h);

void dpixd_stats_json(FILE *out, const struct dpixd_stats *s);
void dpixd_stats_prometheus(FILE *out, const struct dpixd_stats *s);

#endif
