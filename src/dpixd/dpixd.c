/*
 * dpixd.c: the gateway daemon's inline datapath. The kernel queues the
 * packets of TCP and UDP connections that have no verdict mark yet; each
 * worker thread serves one queue with its own pipeline (its own flow table
 * shard, no locks on the packet path), accepts a flow's packets unmarked
 * while it is undecided, and once it is decided gives every packet the
 * verdict's mark, which a rule in a later hook saves into the connmark:
 * from then on the queue rule no longer matches and the flow stays in the
 * kernel. See dpixd(8) for the rules it needs (--print-rules).
 *
 * Reload (SIGHUP): the packs are loaded anew beside the running ones; if
 * any fails, the error is logged and the running packs stay. Otherwise
 * each worker takes the new ruleset between two batches, and the old one
 * is freed once every worker has moved on. Flows decided before keep their
 * verdict (it lives in the flow table and the connmark).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include "dpixd/dpixd.h"
#include "nfq/nfq.h"
#include "output/output.h"
#include "pipeline/pipeline.h"
#include "proxy/proxy.h"
#include "rules/rules.h"

#ifndef DPIX_RULESDIR
#define DPIX_RULESDIR "/usr/local/share/dpix/rules"
#endif

#define EXIT_USAGE 2
#define MAX_QUEUES 64
#define MAX_PACKS 64
/* How long a worker waits for packets before it looks for a new ruleset. */
#define WORKER_POLL_MS 200

struct worker {
	pthread_t thread;
	unsigned idx;
	struct nfqueue *q;
	struct pipeline pipe;
	unsigned gen; /* the ruleset generation this worker runs */
	atomic_uint seen_gen;
	char *evebuf; /* EVE lines of the current batch */
	size_t evelen, evecap;
	uint64_t eve_lost; /* lines that did not fit or could not be written */
};

static const struct dpixd_config *cfg;
static struct worker workers[MAX_QUEUES];
static _Atomic(struct ruleset *) live_rules;
static atomic_uint live_gen;
static atomic_bool stopping;
static volatile sig_atomic_t got_hup, got_stop, got_usr1;
static int eve_fd = -1;
static struct proxy *forwarder; /* --proxy-listen; one more ruleset reader */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_stop = 1;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("dpixd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct ruleset *dpixd_load_rules(const struct dpixd_config *c)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	struct rules_error err;

	if (!rs) {
		logmsg("out of memory loading the rule packs");
		return NULL;
	}
	for (size_t i = 0; i < c->npacks; i++)
		if (rules_load(rs, c->packs[i], &err) < 0)
			goto fail;
	if (!c->npacks && rules_load_dir(rs, c->rules_dir, &err) < 0)
		goto fail;
	if (ruleset_seal(rs) < 0)
		logmsg("no memory for the rules index: every rule is scanned");
	return rs;
fail:
	logmsg("%s", err.msg);
	ruleset_free(rs);
	free(rs);
	return NULL;
}

/* The verdict sink: one EVE line into the worker's batch buffer. */
static void on_verdict(const struct verdict_event *ev, void *arg)
{
	struct worker *w = arg;
	char line[OUTPUT_LINE_MAX + 1];
	size_t n;

	if (eve_fd < 0)
		return;
	n = output_eve_format(line, sizeof(line) - 1, ev, NULL);
	line[n++] = '\n';
	if (w->evelen + n > w->evecap) {
		w->eve_lost++;
		return;
	}
	memcpy(w->evebuf + w->evelen, line, n);
	w->evelen += n;
}

/* Write the batch's EVE lines: one write(2) to an O_APPEND file, so the
 * lines of several workers never interleave. */
static void eve_flush(struct worker *w)
{
	if (!w->evelen)
		return;
	if (write(eve_fd, w->evebuf, w->evelen) != (ssize_t)w->evelen)
		w->eve_lost++;
	w->evelen = 0;
}

/* The mark a decided packet leaves with: the site's bits kept. */
static uint32_t verdict_mark(uint32_t old, enum rule_action a)
{
	return (old & ~cfg->mark_mask) | cfg->mark[a];
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct nfqueue_packet pkts[NFQ_BATCH];

	while (!atomic_load(&stopping)) {
		unsigned gen = atomic_load_explicit(&live_gen, memory_order_acquire);
		int n;

		if (gen != w->gen) {
			w->pipe.rules = atomic_load(&live_rules);
			w->gen = gen;
			atomic_store(&w->seen_gen, gen);
		}
		n = nfqueue_recv(w->q, pkts, NFQ_BATCH, WORKER_POLL_MS);
		if (n < 0) {
			logmsg("queue %u: receive: %s", cfg->queue + w->idx, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			const struct nfqueue_packet *p = &pkts[i];
			enum rule_action a =
			    pipeline_frame(&w->pipe, LINK_RAW, p->data, p->caplen, now_us());

			if (a == ACTION_DROP)
				nfqueue_verdict(w->q, p->id, NF_DROP, false, 0);
			else if (a == ACTION_NONE)
				nfqueue_verdict(w->q, p->id, NF_ACCEPT, false, 0);
			else
				nfqueue_verdict(w->q, p->id, NF_ACCEPT, true,
						verdict_mark(p->mark, a));
		}
		nfqueue_flush(w->q);
		eve_flush(w);
	}
	/* Undecided flows end with the daemon: their packets already passed. */
	pipeline_flush(&w->pipe);
	eve_flush(w);
	return NULL;
}

/* Counters of every worker, one line each, to stderr. */
static void report(void)
{
	for (unsigned i = 0; i < cfg->nqueues; i++) {
		const struct worker *w = &workers[i];
		const struct nfqueue_counters *c = nfqueue_counters(w->q);
		const struct pipeline_stats *s = &w->pipe.stats;

		logmsg("queue %u: packets %llu, verdicts sent %llu (refused batches %llu), bad "
		       "messages %llu, overruns %llu; flows decided: bypass %llu, inspect %llu, "
		       "drop %llu; budget exhausted %llu, evicted %llu; events lost %llu",
		       cfg->queue + i, (unsigned long long)c->received,
		       (unsigned long long)c->verdicts, (unsigned long long)c->send_fail,
		       (unsigned long long)c->bad_msgs, (unsigned long long)c->overruns,
		       (unsigned long long)s->verdicts[ACTION_BYPASS],
		       (unsigned long long)s->verdicts[ACTION_INSPECT],
		       (unsigned long long)s->verdicts[ACTION_DROP],
		       (unsigned long long)s->reasons[REASON_BUDGET],
		       (unsigned long long)s->reasons[REASON_EVICTED],
		       (unsigned long long)w->eve_lost);
	}
	proxy_report(forwarder);
}

/* SIGHUP: new packs beside the old; swap only if all of them load. */
static void reload(void)
{
	struct ruleset *rs = dpixd_load_rules(cfg), *old;
	unsigned gen;

	if (!rs) {
		logmsg("reload refused: the running rule packs stay in place");
		return;
	}
	old = atomic_exchange(&live_rules, rs);
	gen = atomic_fetch_add_explicit(&live_gen, 1, memory_order_release) + 1;
	/* Every worker looks at least every WORKER_POLL_MS. */
	for (unsigned i = 0; i < cfg->nqueues; i++)
		while (atomic_load(&workers[i].seen_gen) != gen)
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	while (forwarder && proxy_seen_gen(forwarder) != gen)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	ruleset_free(old);
	free(old);
	logmsg("reloaded the rule packs (generation %u)", gen);
}

int dpixd_run(const struct dpixd_config *c)
{
	static const int sigs[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waitmask;
	struct ruleset *rs;
	unsigned started = 0;
	int rc = 1;

	cfg = c;
	if (c->eve_path) {
		eve_fd = strcmp(c->eve_path, "-")
			     ? open(c->eve_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)
			     : STDOUT_FILENO;
		if (eve_fd < 0) {
			logmsg("%s: %s", c->eve_path, strerror(errno));
			return 1;
		}
	}
	if (!(rs = dpixd_load_rules(c)))
		return 1;
	atomic_store(&live_rules, rs);
	for (unsigned i = 0; i < c->nqueues; i++) {
		struct worker *w = &workers[i];
		struct nfqueue_config qc = { .queue = (uint16_t)(c->queue + i),
					     .copy_range = c->copy_range,
					     .maxlen = c->queue_maxlen,
					     .fail_open = !c->fail_closed,
					     .rcvbuf = c->rcvbuf };
		char err[256];

		w->idx = i;
		w->evecap = (size_t)NFQ_BATCH * (OUTPUT_LINE_MAX + 1);
		if (!(w->evebuf = malloc(w->evecap)) ||
		    pipeline_init(&w->pipe, &c->pipe, rs, on_verdict, w) < 0) {
			logmsg("queue %u: out of memory for %u flows", qc.queue, c->pipe.max_flows);
			goto out;
		}
		if (!(w->q = nfqueue_open(&qc, err, sizeof(err)))) {
			logmsg("%s", err);
			pipeline_fini(&w->pipe);
			goto out;
		}
		started++;
	}
	/* Signals reach the main thread only, and only inside sigsuspend():
	 * the workers inherit the blocked mask. */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	pthread_sigmask(SIG_BLOCK, &block, &waitmask);
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; i < started; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]) != 0) {
			logmsg("cannot start worker %u", i);
			atomic_store(&stopping, true);
			for (unsigned k = 0; k < i; k++)
				pthread_join(workers[k].thread, NULL);
			goto out;
		}
	if (c->proxy.nlisten &&
	    !(forwarder = proxy_start(&c->proxy, &live_rules, &live_gen, eve_fd))) {
		atomic_store(&stopping, true);
		for (unsigned k = 0; k < started; k++)
			pthread_join(workers[k].thread, NULL);
		goto out;
	}
	if (c->nqueues)
		logmsg("serving queues %u to %u, %s, %zu rule pack(s)", c->queue,
		       c->queue + c->nqueues - 1, c->fail_closed ? "fail-closed" : "fail-open",
		       rs->npacks);
	while (!got_stop) {
		sigsuspend(&waitmask);
		if (got_hup) {
			got_hup = 0;
			reload();
		}
		if (got_usr1) {
			got_usr1 = 0;
			report();
		}
	}
	atomic_store(&stopping, true);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	report();
	proxy_stop(forwarder);
	forwarder = NULL;
	rc = 0;
out:
	for (unsigned i = 0; i < started; i++) {
		nfqueue_close(workers[i].q);
		pipeline_fini(&workers[i].pipe);
	}
	for (unsigned i = 0; i < c->nqueues; i++)
		free(workers[i].evebuf);
	rs = atomic_load(&live_rules);
	ruleset_free(rs);
	free(rs);
	if (eve_fd > STDERR_FILENO)
		close(eve_fd);
	return rc;
}
