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
 * Reload (SIGHUP, or "reload" on the control socket, dpixd_ctl.c): the
 * configuration file is read again and the packs are loaded anew beside
 * the running ones; if any fails, the error is logged and the running
 * packs stay. Otherwise each worker takes the new ruleset between two
 * batches, and the old one is freed once every worker has moved on. Flows
 * decided before keep their verdict (it lives in the flow table and the
 * connmark). Counters: each worker publishes its own at the end of a
 * batch (dpixd_stats.h), and the control loop reads them.
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
#include "dpixd/eve_out.h"
#include "dpixd/dpixd_conf.h"
#include "dpixd/dpixd_ctl.h"
#include "dpixd/dpixd_stats.h"
#include "nfq/nfq.h"
#include "output/output.h"
#include "pipeline/pipeline.h"
#include "proxy/proxy.h"
#include "rules/rules.h"
#include "rules/rules_sign.h"

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
	uint64_t eve_lost;	 /* lines that did not fit or could not be written */
	struct dpixd_hits *hits; /* this generation's per-rule counters */
	struct dpixd_pub pub;	 /* counters for the control socket */
};

static struct dpixd_config *cfg;
static struct worker workers[MAX_QUEUES];
static _Atomic(struct ruleset *) live_rules;
static _Atomic(struct dpixd_hits *) live_hits;
static atomic_uint live_gen;
static atomic_bool stopping;
static struct proxy *forwarder; /* --proxy-listen; one more ruleset reader */

void dpixd_log(const char *fmt, ...)
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

/* The packs, or NULL with the reason in msg. */
static struct ruleset *load_rules(const struct dpixd_config *c, char *msg, size_t len)
{
	static struct rules_keyring kr; /* 64 keys: not on the stack */
	struct ruleset *rs = calloc(1, sizeof(*rs));
	struct rules_error err;

	if (!rs) {
		snprintf(msg, len, "out of memory loading the rule packs");
		return NULL;
	}
	/* The keys are read again each time: a key removed is no longer trusted. */
	kr.n = 0;
	if (c->require_signed && rules_keyring_add(&kr, c->pubkey, &err) < 0)
		goto fail;
	for (size_t i = 0; i < c->npacks; i++)
		if ((c->require_signed ? rules_load_signed(rs, c->packs[i], &kr, &err)
				       : rules_load(rs, c->packs[i], &err)) < 0)
			goto fail;
	if (!c->npacks && (c->require_signed ? rules_load_dir_signed(rs, c->rules_dir, &kr, &err)
					     : rules_load_dir(rs, c->rules_dir, &err)) < 0)
		goto fail;
	if (ruleset_seal(rs) < 0)
		dpixd_log("no memory for the rules index: every rule is scanned");
	return rs;
fail:
	snprintf(msg, len, "%s", err.msg);
	ruleset_free(rs);
	free(rs);
	return NULL;
}

struct ruleset *dpixd_load_rules(const struct dpixd_config *c)
{
	char msg[sizeof(((struct rules_error *)0)->msg)];
	struct ruleset *rs = load_rules(c, msg, sizeof(msg));

	if (!rs)
		dpixd_log("%s", msg);
	return rs;
}

/* The verdict sink: one EVE line into the worker's batch buffer. */
static void on_verdict(const struct verdict_event *ev, void *arg)
{
	struct worker *w = arg;
	char line[OUTPUT_LINE_MAX + 1];
	size_t n;

	if (ev->verdict->rule && w->hits)
		dpixd_hits_add(w->hits, w->idx, ev->verdict->rule);
	if (!eve_out_enabled())
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

/* Write the batch's EVE lines at once (eve_out.h: lines of several
 * workers never interleave). */
static void eve_flush(struct worker *w)
{
	if (!w->evelen)
		return;
	if (eve_out_write(w->evebuf, w->evelen) < 0)
		w->eve_lost++;
	w->evelen = 0;
}

/* The mark a decided packet leaves with: the site's bits kept. */
static uint32_t verdict_mark(uint32_t old, enum rule_action a)
{
	return (old & ~cfg->mark_mask) | cfg->mark[a];
}

/* The worker's counters, for the control thread: at the end of a batch. */
static void publish(struct worker *w)
{
	const struct nfqueue_counters *c = nfqueue_counters(w->q);
	const struct pipeline_stats *s = &w->pipe.stats;
	struct dpixd_qstats now = {
		.received = c->received,
		.verdicts = c->verdicts,
		.send_fail = c->send_fail,
		.bad_msgs = c->bad_msgs,
		.overruns = c->overruns,
		.evicted = w->pipe.flows->stats.evicted,
		.active_flows = w->pipe.flows->stats.active,
		.events_lost = w->eve_lost,
	};

	memcpy(now.decided, s->verdicts, sizeof(now.decided));
	memcpy(now.reasons, s->reasons, sizeof(now.reasons));
	dpixd_pub_store(&w->pub, &now);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct nfqueue_packet pkts[NFQ_BATCH];

	while (!atomic_load(&stopping)) {
		unsigned gen = atomic_load_explicit(&live_gen, memory_order_acquire);
		uint64_t ts;
		int n;

		if (gen != w->gen) {
			w->pipe.rules = atomic_load(&live_rules);
			w->hits = atomic_load(&live_hits);
			w->gen = gen;
			atomic_store(&w->seen_gen, gen);
		}
		n = nfqueue_recv(w->q, pkts, NFQ_BATCH, WORKER_POLL_MS);
		if (n < 0) {
			dpixd_log("queue %u: receive: %s", cfg->queue + w->idx, strerror(errno));
			break;
		}
		/* One clock reading per batch: its packets were read at once. */
		ts = now_us();
		for (int i = 0; i < n; i++) {
			const struct nfqueue_packet *p = &pkts[i];
			enum rule_action a =
			    pipeline_frame(&w->pipe, LINK_RAW, p->data, p->caplen, ts);

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
		if (dpixd_heartbeat)
			atomic_store(&dpixd_heartbeat[w->idx], dpixd_mono_ms());
		publish(w);
	}
	/* Undecided flows end with the daemon: their packets already passed. */
	pipeline_flush(&w->pipe);
	eve_flush(w);
	publish(w);
	return NULL;
}

/* Counters of every worker, one line each, to stderr. */
static void report(void)
{
	for (unsigned i = 0; i < cfg->nqueues; i++) {
		struct dpixd_qstats q;

		dpixd_pub_load(&workers[i].pub, &q);

		dpixd_log("queue %u: packets %llu, verdicts sent %llu (refused batches %llu), bad "
			  "messages %llu, overruns %llu; flows decided: bypass %llu, inspect %llu, "
			  "drop %llu; budget exhausted %llu, evicted %llu; events lost %llu",
			  cfg->queue + i, (unsigned long long)q.received,
			  (unsigned long long)q.verdicts, (unsigned long long)q.send_fail,
			  (unsigned long long)q.bad_msgs, (unsigned long long)q.overruns,
			  (unsigned long long)q.decided[ACTION_BYPASS],
			  (unsigned long long)q.decided[ACTION_INSPECT],
			  (unsigned long long)q.decided[ACTION_DROP],
			  (unsigned long long)q.reasons[REASON_BUDGET],
			  (unsigned long long)q.reasons[REASON_EVICTED],
			  (unsigned long long)q.events_lost);
	}
	proxy_report(forwarder);
}

/*
 * SIGHUP or "reload": the configuration read again, its packs loaded
 * beside the running ones; swapped in only if all of that works, with the
 * forwarder's settings that are live (dpixd_conf.c's table says which).
 * A change to any other setting is logged and ignored.
 */
static int reload(char *msg, size_t len)
{
	struct dpixd_config nc = { .conf_path = cfg->conf_path,
				   .conf_required = cfg->conf_required,
				   .args = cfg->args,
				   .nargs = cfg->nargs };
	struct ruleset *rs = NULL, *old;
	struct dpixd_hits *hits, *oldh;
	char diff[256];
	unsigned gen;

	if (dpixd_conf_build(&nc, cfg->rules_dir, msg, len) < 0)
		goto refuse;
	dpixd_conf_diff(cfg, &nc, diff, sizeof(diff));
	if (*diff)
		dpixd_log("reload: %s changed in the configuration: needs a restart, ignored",
			  diff);
	/* Whether packs must be signed, and by whom, changes only with a restart. */
	nc.require_signed = cfg->require_signed;
	nc.pubkey = cfg->pubkey;
	if (nc.proxy_parent_auth &&
	    proxy_read_parent_auth(nc.proxy_parent_auth, &nc.proxy, msg, len) < 0)
		goto refuse;
	if (!(rs = load_rules(&nc, msg, len)))
		goto refuse;
	if (!(hits = dpixd_hits_new(rs, cfg->nqueues))) {
		snprintf(msg, len, "out of memory for the rule counters");
		goto refuse;
	}
	proxy_settings(forwarder, &nc.proxy); /* taken with the generation */
	old = atomic_exchange(&live_rules, rs);
	oldh = atomic_exchange(&live_hits, hits);
	gen = atomic_fetch_add_explicit(&live_gen, 1, memory_order_release) + 1;
	/* Every worker looks at least every WORKER_POLL_MS. */
	for (unsigned i = 0; i < cfg->nqueues; i++)
		while (atomic_load(&workers[i].seen_gen) != gen)
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	while (forwarder && proxy_seen_gen(forwarder) != gen)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	ruleset_free(old);
	free(old);
	dpixd_hits_free(oldh);
	/* The pack list running is now the new configuration's. */
	for (size_t i = 0; i < DPIXD_MAX_PACKS; i++)
		free(cfg->packs_owned[i]);
	memcpy(cfg->packs, nc.packs, sizeof(cfg->packs));
	memcpy(cfg->packs_owned, nc.packs_owned, sizeof(cfg->packs_owned));
	memset(nc.packs_owned, 0, sizeof(nc.packs_owned));
	cfg->npacks = nc.npacks;
	dpixd_conf_free(&nc);
	snprintf(msg, len, "generation %u, %zu rule pack(s)%s%s", gen, rs->npacks,
		 *diff ? "; changed but not applied (needs a restart): " : "", diff);
	dpixd_log("reloaded the rule packs (generation %u)", gen);
	return 0;
refuse:
	dpixd_log("reload refused: %s; the running rule packs stay in place", msg);
	if (rs)
		ruleset_free(rs);
	free(rs);
	dpixd_conf_free(&nc);
	return -1;
}

/* The counters for the control socket; valid until the next call. */
static void snapshot(struct dpixd_stats *s)
{
	static struct dpixd_qstats q[MAX_QUEUES];
	static struct dpixd_rulestat *rules;
	static struct proxy_counts px;
	struct dpixd_hits *h = atomic_load(&live_hits);

	free(rules);
	rules = NULL;
	if (!s) /* at exit */
		return;
	for (unsigned i = 0; i < cfg->nqueues; i++) {
		q[i] = (struct dpixd_qstats){ .queue = cfg->queue + i };
		dpixd_pub_load(&workers[i].pub, &q[i]);
		dpixd_kqueue_read(NULL, q[i].queue, &q[i].kernel);
	}
	rules = dpixd_hits_read(h);
	*s = (struct dpixd_stats){ .version = PACKAGE_VERSION,
				   .generation = atomic_load(&live_gen),
				   .nqueues = cfg->nqueues,
				   .q = q,
				   .nrules = rules ? h->nrules : 0,
				   .rules = rules,
				   .proxy = proxy_counts(forwarder, &px) ? &px : NULL };
}

static const struct dpixd_ctl_ops ctl_ops = { reload, snapshot, report };

int dpixd_run(struct dpixd_config *c)
{
	static const int sigs[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	sigset_t block;
	struct ruleset *rs;
	struct dpixd_hits *hits;
	char msg[512];
	unsigned started = 0;
	int rc = 1;

	cfg = c;
	if (c->eve_path && eve_out_open(c->eve_path) < 0) {
		dpixd_log("%s: %s", c->eve_path, strerror(errno));
		return 1;
	}
	if (!(rs = dpixd_load_rules(c)))
		return 1;
	atomic_store(&live_rules, rs);
	if (!(hits = dpixd_hits_new(rs, c->nqueues))) {
		dpixd_log("out of memory for the rule counters");
		goto out;
	}
	atomic_store(&live_hits, hits);
	if (dpixd_ctl_open(c, msg, sizeof(msg)) < 0) {
		dpixd_log("%s", msg);
		goto out;
	}
	for (unsigned i = 0; i < c->nqueues; i++) {
		struct worker *w = &workers[i];
		struct nfqueue_config qc = { .queue = (uint16_t)(c->queue + i),
					     .copy_range = c->copy_range,
					     .maxlen = c->queue_maxlen,
					     .fail_open = !c->fail_closed,
					     .rcvbuf = c->rcvbuf };
		char err[256];

		w->idx = i;
		w->hits = hits;
		w->evecap = (size_t)NFQ_BATCH * (OUTPUT_LINE_MAX + 1);
		if (!(w->evebuf = malloc(w->evecap)) ||
		    pipeline_init(&w->pipe, &c->pipe, rs, on_verdict, w) < 0) {
			dpixd_log("queue %u: out of memory for %u flows", qc.queue,
				  c->pipe.max_flows);
			goto out;
		}
		if (!(w->q = nfqueue_open(&qc, err, sizeof(err)))) {
			dpixd_log("%s", err);
			pipeline_fini(&w->pipe);
			goto out;
		}
		if (!started)
			dpixd_log("this kernel %s set the connmark from a verdict "
				  "(NETLINK_GLUE_CT); the packet mark, saved by the printed rules, "
				  "works either way",
				  nfqueue_ct_glue(w->q) ? "can" : "cannot");
		started++;
	}
	/* The forwarder's files and sockets as root; its threads after. */
	if (c->proxy_parent_auth &&
	    proxy_read_parent_auth(c->proxy_parent_auth, &c->proxy, msg, sizeof(msg)) < 0) {
		dpixd_log("proxy-parent-auth: %s", msg);
		goto out;
	}
	if (c->proxy.nlisten && !(forwarder = proxy_open(&c->proxy, &live_rules, &live_gen)))
		goto out;
	if (c->user && dpixd_drop_privileges(c->user) < 0)
		goto out;
	/* Signals reach the main thread only, through a signalfd
	 * (dpixd_ctl_serve): blocked everywhere, the workers inherit that. */
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; i < started; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]) != 0) {
			dpixd_log("cannot start worker %u", i);
			atomic_store(&stopping, true);
			for (unsigned k = 0; k < i; k++)
				pthread_join(workers[k].thread, NULL);
			goto out;
		}
	if (forwarder && proxy_go(forwarder) < 0) {
		atomic_store(&stopping, true);
		for (unsigned k = 0; k < started; k++)
			pthread_join(workers[k].thread, NULL);
		goto out;
	}
	if (c->nqueues)
		dpixd_log("serving queues %u to %u, %s, %zu rule pack(s)", c->queue,
			  c->queue + c->nqueues - 1, c->fail_closed ? "fail-closed" : "fail-open",
			  rs->npacks);
	dpixd_notify("READY=1");
	if (dpixd_ctl_serve(&block, &ctl_ops) < 0)
		dpixd_log("control loop: %s", strerror(errno));
	else
		rc = 0;
	atomic_store(&stopping, true);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	report();
	proxy_stop(forwarder);
	forwarder = NULL;
out:
	proxy_stop(forwarder); /* if opened and not stopped above */
	forwarder = NULL;
	dpixd_ctl_close();
	snapshot(NULL);
	for (unsigned i = 0; i < started; i++) {
		nfqueue_close(workers[i].q);
		pipeline_fini(&workers[i].pipe);
	}
	for (unsigned i = 0; i < c->nqueues; i++)
		free(workers[i].evebuf);
	rs = atomic_load(&live_rules);
	ruleset_free(rs);
	free(rs);
	dpixd_hits_free(atomic_load(&live_hits));
	eve_out_close();
	return rc;
}
