/* dpixd.h: the gateway daemon's configuration and its parts. */
#ifndef DPIX_DPIXD_H
#define DPIX_DPIXD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline/pipeline.h"
#include "proxy/proxy-t.h"
#include "rules/rules-t.h"

/* Netfilter hooks whose traffic the generated rules queue. */
#define HOOK_FORWARD 0x1 /* routed through the gateway */
#define HOOK_INPUT 0x2	 /* to the gateway itself (a proxy on it) */
#define HOOK_OUTPUT 0x4	 /* from the gateway itself */

#define DPIXD_MAX_PACKS 64
#define DPIXD_MAX_QUEUES 64
#define DPIXD_CONF_STRINGS 8

/* One setting given on the command line: a dpixd.conf(5) key and value. */
struct dpixd_arg {
	const char *key, *value;
};

struct dpixd_config {
	uint16_t queue;		     /* first queue number */
	uint16_t nqueues;	     /* queues queue .. queue + nqueues - 1, a worker each */
	uint32_t copy_range;	     /* bytes of each packet copied to dpixd */
	uint32_t queue_maxlen;	     /* packets the kernel holds per queue */
	uint32_t rcvbuf;	     /* netlink receive buffer per queue, bytes */
	bool fail_closed;	     /* drop, not accept, when dpixd is gone or full */
	uint32_t mark_mask;	     /* the bits of the mark dpix owns */
	uint32_t mark[ACTION_COUNT]; /* each verdict's value inside mark_mask */
	unsigned hooks;		     /* HOOK_* */
	struct pipeline_config pipe;
	const char *packs[DPIXD_MAX_PACKS]; /* --rules; none: every pack of rules_dir */
	char *packs_owned[DPIXD_MAX_PACKS]; /* packs[i] when read from a file, else NULL */
	size_t npacks;
	const char *rules_dir;
	const char *eve_path;	   /* "-": stdout; NULL: no events */
	struct proxy_config proxy; /* the CONNECT forwarder: none without listeners */
	const char *ctl_path;	   /* the control socket; NULL: none */
	const char *metrics_addr;  /* ADDR:PORT of the metrics listener; NULL: none */
	const char *user;	   /* switch to this user once the queues are bound */
	unsigned watchdog;   /* seconds a worker may be silent before it is killed; 0: never */
	bool no_supervise;   /* run the workers in this process, no watchdog */
	bool require_signed; /* load a pack only if its .sig verifies with pubkey */
	const char *pubkey;  /* a public key PEM file, or a directory of them */
	const char *proxy_parent_auth; /* a file: user:password for the parent */
	/* Where the settings come from, read again on reload (dpixd_conf.h). */
	const char *conf_path;
	bool conf_required;
	const struct dpixd_arg *args;
	size_t nargs;
	char *owned[DPIXD_CONF_STRINGS]; /* other strings read from the file */
	size_t nowned;
};

#define DPIXD_DEFAULT_COPY_RANGE 4096u
#define DPIXD_DEFAULT_QUEUE_MAXLEN 4096u
#define DPIXD_DEFAULT_RCVBUF (8u << 20)
#define DPIXD_DEFAULT_WATCHDOG 2u

/* Serve the queues until SIGTERM or SIGINT; the exit status. Reload
 * replaces the pack list of c. */
int dpixd_run(struct dpixd_config *c);

/* Run dpixd_run() in a worker process under a supervisor that restarts it
 * when it dies or its heartbeat stops (dpixd_supervise.c); the exit status. */
int dpixd_supervise(struct dpixd_config *c);
/* Under a supervisor: one heartbeat per worker (dpixd_mono_ms() of its
 * last poll) in memory the supervisor shares; NULL without one. */
extern _Atomic uint64_t *dpixd_heartbeat;
uint64_t dpixd_mono_ms(void);

/* A line on stderr, "dpixd: " first (dpixd.c; the supervisor shares it). */
void dpixd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Keep CAP_NET_ADMIN only and become user (dpixd_privs.c); -1 after saying
 * why on stderr. Call before starting threads: capabilities are per thread. */
int dpixd_drop_privileges(const char *user);

/* Send an sd_notify(3) state ("READY=1") to $NOTIFY_SOCKET, if set. */
void dpixd_notify(const char *state);

/* Load the --print-rules iptables ruleset into the DPIX_* chains,
 * idempotently; check what is installed, one line per problem on stdout.
 * The exit status (dpixd_install.c). */
int dpixd_install_rules(const struct dpixd_config *c);
int dpixd_check_rules(const struct dpixd_config *c);

/* The firewall rules the configuration needs, for iptables (as commands)
 * or nft (as a file for nft -f). */
void dpixd_print_iptables(FILE *out, const struct dpixd_config *c);
void dpixd_print_nft(FILE *out, const struct dpixd_config *c);
/* The conntrack timeout policies and raw-table rules the packs' 'timeout'
 * options need, as nfct and iptables commands. */
void dpixd_print_timeouts(FILE *out, const struct dpixd_config *c, const struct ruleset *rs);

/* The configured packs (or the rules directory's), loaded and indexed;
 * NULL after saying why on stderr. */
struct ruleset *dpixd_load_rules(const struct dpixd_config *c);

#endif
