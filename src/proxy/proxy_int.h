/* proxy_int.h: what the forwarder's files share among themselves. */
#ifndef DPIX_PROXY_INT_H
#define DPIX_PROXY_INT_H

#include <netdb.h>

#include "proxy/proxy-t.h"

struct conn;

/* One name to resolve; res and err are the resolver's answer. */
struct resolve_job {
	struct resolve_job *next;
	struct conn *conn; /* NULL once the connection gave up on it */
	char host[HOST_MAX + 1];
	char port[6];
	struct addrinfo *res;
	int err;
};

struct resolver;
/* Finished jobs are written, as pointers, to done_w. NULL: no threads. */
struct resolver *resolver_start(int done_w);
/* 0, or -1 when too many names are waiting. */
int resolver_submit(struct resolver *r, struct resolve_job *j);
void resolver_stop(struct resolver *r);

#endif
