/* proxy_int.h: what the forwarder's files share among themselves. */
#ifndef DPIX_PROXY_INT_H
#define DPIX_PROXY_INT_H

#include <netdb.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dissect/dissect-t.h"
#include "proxy/proxy-t.h"
#include "rules/rules-t.h"

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

#define LOOP_TICK_MS 200 /* timeouts and a new ruleset are looked at this often */
#define PIPE_CAP 65536
#define PIPE_SPARE 16 /* empty pipes kept for the next tunnel with bytes */
/* Descriptors kept back from the tunnels' budget: the spares, the
 * listeners, epoll, the resolver's pipe, dpixd's files and sockets. */
#define FD_RESERVE (2 * PIPE_SPARE + 32)
#define COPY_CHUNK 16384    /* bytes copied at a time when no pipe can be had */
#define FAIL_LINGER_MS 2000 /* reading what a refused client still sends */
#define EVENTS_MAX 256

enum conn_state {
	ST_SNIFF,
	ST_HANDSHAKE, /* a TLS listener's client: before its head */
	ST_REQUEST,
	ST_CHECK,
	ST_RESOLVING,
	ST_CONNECTING,
	ST_ESTABLISHED,
	ST_FAILED
};

/* What an epoll event points at. */
struct tag {
	struct conn *conn; /* NULL: a listener or the resolver pipe */
	int side;	   /* 0 client, 1 upstream; listener index; -1 resolver */
};

/* Bytes on their way from one side to the other: a user-space buffer to
 * send first (an answer, a request for the parent, bytes read while
 * peeking, what a copy could not send), then a pipe spliced through. The
 * pipe is held only while bytes are in it: an idle tunnel holds its two
 * sockets and nothing else. */
struct dir {
	int pipe[2];	    /* -1: none now */
	size_t inpipe, cap; /* bytes in the pipe, and what it holds */
	bool full;	    /* the pipe refused more before cap (its slots
			     * hold small segments): read again once it moves */
	uint8_t *buf;
	size_t len, off;
	size_t own; /* bytes at the front of buf that are the forwarder's own
		     * (its 200, its request to the parent): not counted */
	bool eof, shut;
	bool shut_wait; /* the destination's close_notify waits for EPOLLOUT */
	uint64_t bytes;
};

struct conn {
	struct conn *prev, *next;
	struct proxy *px;
	enum conn_state st;
	int fd[2]; /* client, upstream */
	struct tag tag[2];
	uint32_t ev[2]; /* events registered, 0: not in the epoll set */
	struct sockaddr_storage peer, up;
	socklen_t peerlen, uplen;
	uint64_t id; /* flow_id in its event */
	uint64_t start_ms, deadline_ms, last_ms;
	uint32_t idle_s; /* proxy-idle-timeout, or the bypassing rule's longer
			  * timeout (a TURN or WSS tunnel lives for hours) */
	uint8_t *head;	 /* PROXY_HEAD_MAX bytes while in REQUEST */
	size_t headlen;
	struct proxy_request req;
	struct dpix_facts facts;
	uint8_t action; /* the verdict's */
	char rule[64], pack[64];
	const char *decision; /* "tunnel", "parent", "refused" */
	const char *close_reason;
	uint16_t status; /* what the client was answered; 0: the parent's */
	struct resolve_job *job;
	struct addrinfo *ai, *ai_next;
	bool via_parent, peeking, dead;
	bool parent_seen;	      /* the parent's status line was looked at */
	bool transparent;	      /* redirected (proxy-transparent), not asked */
	bool tls;		      /* accepted on a TLS listener (proxy_tls.c) */
	bool parent_wait;	      /* transparent via the parent: its answer to our
			   * CONNECT is read and dropped before the bytes go */
	uint8_t sniffed;	      /* enum proxy_sniffed */
	struct sockaddr_storage orig; /* transparent: the original destination */
	socklen_t origlen;
	uint8_t *peek;
	size_t peeklen;
	struct dir d[2];	 /* 0: client to upstream, 1: upstream to client */
	SSL *ssl;		 /* a TLS listener's client; NULL: plain */
	uint32_t tls_rd, tls_wr; /* the socket event SSL_read, SSL_write wait for */
	const char *tls_error;	 /* OpenSSL's reason for a failure, for the event */
	bool pend;		 /* on px->pending */
	struct conn *pend_next;
};

struct proxy {
	struct proxy_config cfg;
	struct proxy_config next; /* proxy_settings's, taken with the next
				   * ruleset generation */
	bool has_next;
	pthread_t thread;
	bool running; /* the thread was started (proxy_go) */
	int ep, done_r, done_w;
	int lfd[PROXY_MAX_LISTEN];
	struct tag ltag[PROXY_MAX_LISTEN + 1];
	struct resolver *res;
	_Atomic(struct ruleset *) *live;
	atomic_uint *live_gen;
	unsigned gen;
	atomic_uint seen_gen;
	atomic_bool stop;
	const struct ruleset *rs;
	struct conn *conns, *dead;
	uint32_t nconns;
	struct spare_pipe {
		int fd[2];
		size_t cap;
	} spare[PIPE_SPARE];
	size_t nspare;
	uint64_t next_id; /* flow_id of the next connection */
	SSL_CTX *tls;	  /* the TLS listeners' context; NULL: none */
	/* TLS clients with bytes read into OpenSSL but not yet by us: epoll
	 * will not say so, the loop calls them after each batch. */
	struct conn *pending;
	struct proxy_stats st;
};

/* proxy.c */
void proxy_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t proxy_now_ms(void);
/* Register the events a side waits for; 0 takes it out of the set. */
void conn_want(struct conn *c, int side, uint32_t ev);
/* Write the connection's event, close its descriptors, free it after the
 * current batch of events. */
void conn_close(struct conn *c, const char *reason);

/* The rules again once a tunnel's first bytes said what it carries
 * (facts.tunnel): 0 it goes on, -1 closed (not bypassed any more). */
int proxy_recheck(struct conn *c);

/* proxy_eve.c: the one EVE line a connection leaves at its close. */
void proxy_eve_close(const struct conn *c);
void proxy_addr_text(const struct sockaddr_storage *ss, char *buf, size_t n, unsigned *port);

/* proxy_tls.c: TLS listeners. */
/* The context for c's TLS listeners, from its cert and key files; NULL
 * after saying why. */
SSL_CTX *proxy_tls_ctx(const struct proxy_config *c);
/* Go on with c's handshake: 1 done, 0 waiting (c->tls_rd says for what),
 * -1 failed. */
int tls_handshake(struct conn *c);
/* recv(2) and send(2) on a side, through OpenSSL for a TLS client: the
 * same answers, EAGAIN also when OpenSSL waits for the socket (the event
 * in c->tls_rd or c->tls_wr, which conn_want registers instead). */
ssize_t side_recv(struct conn *c, int side, void *buf, size_t len);
ssize_t side_send(struct conn *c, int side, const void *buf, size_t len);
/* No more bytes to this side: close_notify for a TLS client, then
 * shutdown(SHUT_WR). 0, or -1 with EAGAIN (close_notify waits). */
int side_shut_wr(struct conn *c, int side);

/* proxy_relay.c: ESTABLISHED, bytes both ways. */
/* A direction's pipe back to the spares if it is empty, else closed. */
void relay_put_pipe(struct proxy *px, struct dir *d);
void relay_free_spares(struct proxy *px);
/* Append to a direction's user-space bytes (sent before the pipe's). */
int relay_append(struct dir *d, const void *p, size_t n);
/* Read the client's first bytes; decide on them (force: with what is
 * there) whether the tunnel is fronted. */
void relay_peek_read(struct conn *c);
void relay_peek_decide(struct conn *c, bool force);
/* After any event: move what can move, then register what each side
 * waits for (a FAILED connection: send its answer, then drain). */
void relay_flush(struct conn *c);

#endif
