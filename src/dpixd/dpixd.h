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
	const char **packs; /* --rules; none: every pack of rules_dir */
	size_t npacks;
	const char *rules_dir;
	const char *eve_path;	   /* "-": stdout; NULL: no events */
	struct proxy_config proxy; /* the CONNECT forwarder: none without listeners */
};

#define DPIXD_DEFAULT_COPY_RANGE 4096u
#define DPIXD_DEFAULT_QUEUE_MAXLEN 4096u
#define DPIXD_DEFAULT_RCVBUF (8u << 20)

/* Serve the queues until SIGTERM or SIGINT; the exit status. */
int dpixd_run(const struct dpixd_config *c);

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
