/*
 * dpixd_ctl.h: dpixd's main thread once the workers run: one poll loop
 * over the signals (a signalfd), the control socket and the metrics
 * listener. See dpixd(8), CONTROL SOCKET.
 */
#ifndef DPIX_DPIXD_CTL_H
#define DPIX_DPIXD_CTL_H

#include <signal.h>
#include <stddef.h>

#include "dpixd/dpixd.h"
#include "dpixd/dpixd_stats.h"

#define CTL_MAX_CLIENTS 16
#define CTL_LINE_MAX 256       /* a control request line, newline included */
#define CTL_HTTP_MAX 2048      /* an HTTP request head */
#define CTL_IDLE_MS 10000      /* a client silent this long is closed */
#define CTL_OUT_MAX (1u << 20) /* answers waiting for one client */

/* What the loop asks of the daemon; each called on the main thread. */
struct dpixd_ctl_ops {
	/* SIGHUP or "reload": 0 with what was done, -1 with the error, in msg. */
	int (*reload)(char *msg, size_t len);
	/* The counters now; what s points to stays valid until the next call. */
	void (*snapshot)(struct dpixd_stats *s);
	/* SIGUSR1. */
	void (*report)(void);
};

/* Create the control socket and the metrics listener the configuration
 * asks for; 0, or -1 with the reason in err. */
int dpixd_ctl_open(const struct dpixd_config *c, char *err, size_t errlen);

/* Serve until SIGTERM or SIGINT. sigs are the signals to take, already
 * blocked in every thread. 0, or -1 with errno if signalfd or poll fails. */
int dpixd_ctl_serve(const sigset_t *sigs, const struct dpixd_ctl_ops *ops);

/* Close every socket and remove the control socket's file. */
void dpixd_ctl_close(void);

#endif
