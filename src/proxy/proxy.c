/*
 * proxy.c: the CONNECT forwarder's event loop: one thread, non-blocking
 * sockets under epoll, one explicit state machine per client connection.
 *
 *   REQUEST -> CHECK -> RESOLVING -> CONNECTING -> ESTABLISHED -> closed
 *                  \________________________________\-> FAILED -> closed
 *
 * REQUEST reads the head (proxy_head.c, PROXY_HEAD_TIMEOUT_MS). CHECK asks
 * the rules, as the NFQUEUE workers would for the same CONNECT: a bypass
 * verdict is a whitelisted tunnel the forwarder opens itself; anything else
 * goes to the parent proxy (--proxy-parent) or gets a 403. RESOLVING runs
 * getaddrinfo on the resolver threads; the addresses pass the rebinding
 * guard (proxy_guard.c) unless a pack's address set lists them.
 * CONNECTING tries each address in turn. ESTABLISHED answers 200 (or
 * relays the parent's answer), keeps the client's first bytes until they
 * show whether they are a TLS ClientHello naming another host (domain
 * fronting: closed), then splices bytes both ways through a pipe per
 * direction, half-closing each side after the other's EOF. FAILED writes
 * the error answer and closes. Every connection ends with one EVE line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dissect/dissect.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"
#include "rules/rules.h"

#define LOOP_TICK_MS 200 /* timeouts and a new ruleset are looked at this often */
#define PIPE_CAP 65536
#define FAIL_LINGER_MS 2000 /* reading what a refused client still sends */
#define EVENTS_MAX 256

enum conn_state { ST_REQUEST, ST_CHECK, ST_RESOLVING, ST_CONNECTING, ST_ESTABLISHED, ST_FAILED };

static const char *const state_names[] = { "request",	 "check",	"resolving",
					   "connecting", "established", "failed" };

/* What an epoll event points at. */
struct tag {
	struct conn *conn; /* NULL: a listener or the resolver pipe */
	int side;	   /* 0 client, 1 upstream; listener index; -1 resolver */
};

/* Bytes on their way from one side to the other: a user-space buffer to
 * send first (an answer, a request for the parent, bytes read while
 * peeking), then a pipe spliced through. */
struct dir {
	int pipe[2];
	size_t inpipe, cap; /* bytes in the pipe, and what it holds */
	bool full;	    /* the pipe refused more before cap (its slots
			     * hold small segments): read again once it moves */
	uint8_t *buf;
	size_t len, off;
	size_t own; /* bytes at the front of buf that are the forwarder's own
		     * (its 200, its request to the parent): not counted */
	bool eof, shut;
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
	uint64_t start_ms, deadline_ms, last_ms;
	uint8_t *head; /* PROXY_HEAD_MAX bytes while in REQUEST */
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
	bool parent_seen; /* the parent's status line was looked at */
	uint8_t *peek;
	size_t peeklen;
	struct dir d[2]; /* 0: client to upstream, 1: upstream to client */
};

struct proxy {
	struct proxy_config cfg;
	pthread_t thread;
	int ep, eve_fd, done_r, done_w;
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
	struct proxy_stats st;
};

static void plog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void plog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("dpixd: proxy: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool trace; /* DPIXD_PROXY_TRACE set: every transition to stderr */

/* Every state change goes through here, with its deadline. */
static void go(struct conn *c, enum conn_state st, uint64_t timeout_ms)
{
	if (trace)
		plog("conn fd %d: %s -> %s", c->fd[0], state_names[c->st], state_names[st]);
	c->st = st;
	c->deadline_ms = timeout_ms ? mono_ms() + timeout_ms : 0;
}

/* Register the events a side needs now; none: out of the set, so a
 * finished socket's HUP does not wake the loop. */
static void want(struct conn *c, int side, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = &c->tag[side] };

	if (c->fd[side] < 0 || c->ev[side] == ev)
		return;
	if (!ev)
		epoll_ctl(c->px->ep, EPOLL_CTL_DEL, c->fd[side], NULL);
	else
		epoll_ctl(c->px->ep, c->ev[side] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd[side], &e);
	c->ev[side] = ev;
}

/* ---- events ---------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t size, len;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len = b->len + (size_t)n < b->size ? b->len + (size_t)n : b->size - 1;
}

/* A JSON string; bytes outside printable ASCII become \u00XX. */
static void put_str(struct sbuf *b, const char *s, size_t n)
{
	put(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			put(b, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			put(b, "\\u%04x", ch);
		else
			put(b, "%c", ch);
	}
	put(b, "\"");
}

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t n, unsigned *port)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	*port = 0;
	snprintf(buf, n, "-");
	if (ss->ss_family == AF_INET) {
		memcpy(&in, ss, sizeof(in));
		inet_ntop(AF_INET, &in.sin_addr, buf, (socklen_t)n);
		*port = ntohs(in.sin_port);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(&in6, ss, sizeof(in6));
		inet_ntop(AF_INET6, &in6.sin6_addr, buf, (socklen_t)n);
		*port = ntohs(in6.sin6_port);
	}
}

/* One line per connection at its close, one write(2) to the O_APPEND file. */
static void eve_close(struct conn *c)
{
	char line[4096], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], t[32];
	struct sbuf b = { line, sizeof(line) - 1, 0 };
	const struct dpix_facts *x = &c->facts;
	uint64_t us = wall_us();
	time_t sec = (time_t)(us / 1000000u);
	unsigned sport, dport;
	struct tm tm;

	if (c->px->eve_fd < 0)
		return;
	gmtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	addr_text(&c->peer, src, sizeof(src), &sport);
	addr_text(&c->up, dst, sizeof(dst), &dport);
	put(&b, "{\"timestamp\":\"%s.%06u+0000\",\"event_type\":\"flow\"", t,
	    (unsigned)(us % 1000000u));
	put(&b, ",\"src_ip\":\"%s\",\"src_port\":%u", src, sport);
	if (c->uplen)
		put(&b, ",\"dest_ip\":\"%s\",\"dest_port\":%u", dst, dport);
	put(&b, ",\"proto\":\"TCP\",\"app_proto\":\"%s\"", x->app == APP_HTTP ? "http" : "connect");
	if (x->sni_len) {
		put(&b, ",\"tls\":{\"sni\":");
		put_str(&b, x->sni, x->sni_len);
		put(&b, "}");
	}
	put(&b, ",\"connect\":{\"host\":");
	if (x->connect_host_len) {
		put_str(&b, x->connect_host, x->connect_host_len);
		put(&b, ",\"port\":%u", x->connect_port);
	} else if (x->http_host_len) {
		put_str(&b, x->http_host, x->http_host_len);
	} else {
		put(&b, "null");
	}
	if (c->status)
		put(&b, ",\"status\":%u", c->status);
	if (x->flags & FACT_FRONTING)
		put(&b, ",\"fronting\":true");
	put(&b, "}");
	put(&b, ",\"proxy\":{\"decision\":\"%s\",\"close\":\"%s\"",
	    c->decision ? c->decision : "none", c->close_reason ? c->close_reason : "closed");
	put(&b,
	    ",\"bytes_toserver\":%" PRIu64 ",\"bytes_toclient\":%" PRIu64
	    ",\"duration_ms\":%" PRIu64 "}",
	    c->d[0].bytes, c->d[1].bytes, mono_ms() - c->start_ms);
	put(&b, ",\"verdict\":{\"action\":\"%s\"", rule_action_name(c->action));
	if (c->rule[0]) {
		put(&b, ",\"rule\":");
		put_str(&b, c->rule, strlen(c->rule));
		put(&b, ",\"pack\":");
		put_str(&b, c->pack, strlen(c->pack));
	}
	put(&b, "}}\n");
	if (write(c->px->eve_fd, line, b.len) != (ssize_t)b.len)
		plog("event not written: %s", strerror(errno));
}

/* ---- connection life --------------------------------------------------- */

static void conn_close(struct conn *c, const char *reason)
{
	struct proxy *px = c->px;

	if (c->dead)
		return;
	if (!c->close_reason)
		c->close_reason = reason;
	eve_close(c);
	c->dead = true;
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] >= 0)
			close(c->fd[i]); /* leaves the epoll set with it */
		c->fd[i] = -1;
		for (int k = 0; k < 2; k++)
			if (c->d[i].pipe[k] >= 0)
				close(c->d[i].pipe[k]);
	}
	if (c->job)
		c->job->conn = NULL; /* freed when the resolver is done with it */
	if (c->ai)
		freeaddrinfo(c->ai);
	/* Unlinked now, freed after this batch of events. */
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = px->dead;
	px->dead = c;
	px->nconns--;
}

static void conn_free(struct conn *c)
{
	free(c->head);
	free(c->peek);
	free(c->d[0].buf);
	free(c->d[1].buf);
	free(c);
}

static const char *status_text(unsigned s)
{
	switch (s) {
	case 200:
		return "Connection established";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Error";
}

/* Append bytes to a direction's user-space buffer. */
static int dir_append(struct dir *d, const void *p, size_t n)
{
	uint8_t *b = realloc(d->buf, d->len + n);

	if (!b)
		return -1;
	memcpy(b + d->len, p, n);
	d->buf = b;
	d->len += n;
	return 0;
}

static void conn_flush(struct conn *c);

/* Refuse: the answer with a one-line reason, then close. */
static void fail(struct conn *c, unsigned status, const char *why, const char *reason)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s\n",
			 status, status_text(status), strlen(why) + 1, why);

	c->status = (uint16_t)status;
	c->close_reason = reason;
	if (c->fd[1] >= 0) {
		want(c, 1, 0);
		close(c->fd[1]);
		c->fd[1] = -1;
	}
	go(c, ST_FAILED, FAIL_LINGER_MS);
	if (n < 0 || dir_append(&c->d[1], msg, (size_t)n < sizeof(msg) ? (size_t)n : 0) < 0) {
		conn_close(c, "no memory");
		return;
	}
	conn_flush(c);
}

/* ---- CHECK: the rules ---------------------------------------------------- */

static void eval(const struct proxy *px, const struct dpix_facts *f, const struct conn *c,
		 struct verdict *v)
{
	struct rules_input in = { .facts = f, .proto = IPPROTO_TCP };
	uint8_t a[16];
	uint8_t plen, fam;
	const char *why;

	memset(in.addr, 0, sizeof(in.addr));
	if (c->peer.ss_family == AF_INET) {
		struct sockaddr_in s;

		memcpy(&s, &c->peer, sizeof(s));
		in.addr[0][10] = in.addr[0][11] = 0xff;
		memcpy(&in.addr[0][12], &s.sin_addr, 4);
		in.sport = ntohs(s.sin_port);
	} else {
		struct sockaddr_in6 s;

		memcpy(&s, &c->peer, sizeof(s));
		memcpy(in.addr[0], &s.sin6_addr, 16);
		in.sport = ntohs(s.sin6_port);
	}
	/* The server is the target when it is an address already. */
	if (f->connect_host_len && addr_parse(f->connect_host, a, &plen, &fam, &why) == 0)
		memcpy(in.addr[1], a, 16);
	in.src = in.addr[0];
	in.dst = in.addr[1];
	in.dport = f->connect_port;
	rules_eval(px->rs, &in, v);
}

/* May the tunnel go to this resolved address? Public ones may; others
 * only when a pack lists the address itself (CONNECT to the literal would
 * be bypassed). */
static bool addr_allowed(struct conn *c, const struct sockaddr *sa)
{
	enum proxy_addr_kind k = proxy_addr_class(sa, &c->px->cfg);
	struct dpix_facts f = c->facts;
	struct sockaddr_storage ss;
	char text[INET6_ADDRSTRLEN];
	unsigned port;
	struct verdict v;

	if (k == ADDR_PUBLIC)
		return true;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa,
	       sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	addr_text(&ss, text, sizeof(text), &port);
	if (!facts_set_host(f.connect_host, &f.connect_host_len, (const uint8_t *)text,
			    strlen(text)))
		return false;
	eval(c->px, &f, c, &v);
	/* Only a rule naming the address in a set counts, not one that
	 * bypasses every target on a port. */
	if (v.action == ACTION_BYPASS && v.rule && k != ADDR_LISTENER &&
	    (v.rule->conds & COND_CONNECT) && v.rule->connect->kind == SET_ADDRESSES)
		return true;
	plog("%.*s resolves to %s (%s): refused", c->facts.connect_host_len, c->facts.connect_host,
	     text, proxy_addr_kind_name(k));
	return false;
}

static void resolve(struct conn *c, const char *host, const char *port)
{
	struct resolve_job *j = calloc(1, sizeof(*j));

	if (!j) {
		fail(c, 503, "out of memory", "no memory");
		return;
	}
	snprintf(j->host, sizeof(j->host), "%s", host);
	snprintf(j->port, sizeof(j->port), "%s", port);
	j->conn = c;
	if (resolver_submit(c->px->res, j) < 0) {
		free(j);
		c->px->st.over_limit++;
		fail(c, 503, "too many names being resolved", "over limit");
		return;
	}
	c->job = j;
	go(c, ST_RESOLVING, PROXY_RESOLVE_TIMEOUT_MS);
}

static void check(struct conn *c)
{
	struct proxy *px = c->px;
	struct verdict v = { 0 };
	char host[HOST_MAX + 1], port[6];

	go(c, ST_CHECK, 0);
	c->facts = c->req.req;
	if (c->req.method == PROXY_CONNECT) {
		eval(px, &c->facts, c, &v);
		c->action = v.action;
		if (v.rule) {
			snprintf(c->rule, sizeof(c->rule), "%s", v.rule->id);
			snprintf(c->pack, sizeof(c->pack), "%s", v.rule->pack->name);
		}
	} else {
		c->action = ACTION_INSPECT; /* plain requests are never bypassed */
	}
	if (c->req.method == PROXY_CONNECT && v.action == ACTION_BYPASS) {
		c->decision = "tunnel";
		memcpy(host, c->facts.connect_host, c->facts.connect_host_len);
		host[c->facts.connect_host_len] = '\0';
		snprintf(port, sizeof(port), "%u", c->facts.connect_port);
		resolve(c, host, port);
		return;
	}
	if (px->cfg.has_parent) {
		c->decision = "parent";
		c->via_parent = true;
		px->st.parent++;
		resolve(c, px->cfg.parent_host, px->cfg.parent_port);
		return;
	}
	c->decision = "refused";
	px->st.refused++;
	if (c->req.method != PROXY_CONNECT)
		fail(c, 403, "plain proxy requests are not served here", "refused");
	else if (v.action == ACTION_DROP && v.rule)
		fail(c, 403, "target refused by a rule", "refused");
	else
		fail(c, 403, "target not whitelisted", "refused");
}

/* ---- CONNECTING ------------------------------------------------------------ */

static void try_connect(struct conn *c)
{
	struct proxy *px = c->px;
	int last_err = 0;

	go(c, ST_CONNECTING, PROXY_CONNECT_TIMEOUT_MS);
	while (c->ai_next) {
		struct addrinfo *a = c->ai_next;
		int fd;

		c->ai_next = a->ai_next;
		if (a->ai_addrlen > sizeof(c->up))
			continue;
		if (!c->via_parent && !addr_allowed(c, a->ai_addr)) {
			px->st.addr_refused++;
			last_err = -1;
			continue;
		}
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last_err = errno;
			continue;
		}
		memcpy(&c->up, a->ai_addr, a->ai_addrlen);
		c->uplen = a->ai_addrlen;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last_err = errno;
			close(fd);
			continue;
		}
		c->fd[1] = fd;
		want(c, 1, EPOLLOUT);
		return;
	}
	c->uplen = 0;
	if (last_err == -1) {
		fail(c, 403, "destination address not allowed", "address refused");
	} else {
		char why[128];

		px->st.connect_fail++;
		snprintf(why, sizeof(why), "cannot connect: %s",
			 last_err ? strerror(last_err) : "no address");
		fail(c, 502, why, "connect failed");
	}
}

static void resolved(struct resolve_job *j)
{
	struct conn *c = j->conn;

	if (!c) {
		if (j->res)
			freeaddrinfo(j->res);
		free(j);
		return;
	}
	c->job = NULL;
	if (j->err || !j->res) {
		char why[300];

		c->px->st.resolve_fail++;
		snprintf(why, sizeof(why), "cannot resolve %s: %s", j->host, gai_strerror(j->err));
		free(j);
		fail(c, 502, why, "resolve failed");
		return;
	}
	c->ai = c->ai_next = j->res;
	free(j);
	try_connect(c);
}

/* ---- ESTABLISHED --------------------------------------------------------- */

static int make_pipes(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		if (c->d[i].pipe[0] >= 0)
			continue;
		int sz;

		if (pipe2(c->d[i].pipe, O_NONBLOCK | O_CLOEXEC) < 0)
			return -1;
		sz = fcntl(c->d[i].pipe[1], F_GETPIPE_SZ);
		c->d[i].cap = sz > 0 && sz < PIPE_CAP ? (size_t)sz : PIPE_CAP;
	}
	return 0;
}

static void established(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	const uint8_t *rest = c->head + c->req.head_len;
	size_t nrest = c->headlen - c->req.head_len;

	if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		want(c, 1, 0);
		close(c->fd[1]);
		c->fd[1] = -1;
		if (!c->ai_next) {
			char why[128];

			c->px->st.connect_fail++;
			snprintf(why, sizeof(why), "cannot connect: %s", strerror(err ? err : EIO));
			fail(c, 502, why, "connect failed");
			return;
		}
		try_connect(c);
		return;
	}
	if (make_pipes(c) < 0) {
		c->px->st.over_limit++;
		fail(c, 503, "out of file descriptors", "over limit");
		return;
	}
	if (c->via_parent && c->req.method == PROXY_CONNECT) {
		char msg[2 * HOST_MAX + 64];
		const char *lb = strchr(c->facts.connect_host, ':') ? "[" : "";
		const char *rb = *lb ? "]" : "";
		int n = snprintf(
		    msg, sizeof(msg), "CONNECT %s%.*s%s:%u HTTP/1.1\r\nHost: %s%.*s%s:%u\r\n", lb,
		    c->facts.connect_host_len, c->facts.connect_host, rb, c->facts.connect_port, lb,
		    c->facts.connect_host_len, c->facts.connect_host, rb, c->facts.connect_port);

		if (n < 0 || dir_append(&c->d[0], msg, (size_t)n) < 0 ||
		    (c->req.auth && (dir_append(&c->d[0], "Proxy-Authorization: ", 21) < 0 ||
				     dir_append(&c->d[0], c->req.auth, c->req.auth_len) < 0 ||
				     dir_append(&c->d[0], "\r\n", 2) < 0)) ||
		    dir_append(&c->d[0], "\r\n", 2) < 0)
			goto nomem;
		c->d[0].own = c->d[0].len;
	} else if (c->via_parent) {
		/* A plain request goes to the parent as it came (the head was
		 * checked strictly above). */
		if (dir_append(&c->d[0], c->head, c->req.head_len) < 0)
			goto nomem;
	} else {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

		if (dir_append(&c->d[1], ok, sizeof(ok) - 1) < 0)
			goto nomem;
		c->d[1].own = sizeof(ok) - 1;
		c->status = 200;
		c->px->st.tunnels++;
		c->peeking = true;
	}
	/* Bytes the client sent after its head travel first. */
	if (c->peeking) {
		if (!(c->peek = malloc(PROXY_PEEK_MAX)))
			goto nomem;
		memcpy(c->peek, rest, nrest);
		c->peeklen = nrest;
	} else if (nrest && dir_append(&c->d[0], rest, nrest) < 0) {
		goto nomem;
	}
	free(c->head);
	c->head = NULL;
	c->headlen = 0;
	/* Holding the client's bytes never outlasts the idle timeout. */
	go(c, ST_ESTABLISHED,
	   !c->peeking ? 0
	   : (uint64_t)c->px->cfg.idle_s * 1000u < PROXY_PEEK_TIMEOUT_MS
	       ? (uint64_t)c->px->cfg.idle_s * 1000u
	       : PROXY_PEEK_TIMEOUT_MS);
	c->last_ms = mono_ms();
	conn_flush(c);
	return;
nomem:
	fail(c, 503, "out of memory", "no memory");
}

/* Names equal but for case and a trailing dot. */
static bool same_name(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen && a[alen - 1] == '.')
		alen--;
	if (blen && b[blen - 1] == '.')
		blen--;
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* The client's first bytes: a ClientHello naming another host than the
 * CONNECT target is domain fronting. Once it is known, the bytes go on. */
static void peek_decide(struct conn *c, bool force)
{
	struct dpix_facts f = { 0 };
	uint8_t scratch[PROXY_PEEK_MAX];
	struct dpix_input in = { .transport = DPIX_TCP,
				 .dir = 0,
				 .server_port = c->facts.connect_port,
				 .data = { c->peek, NULL },
				 .len = { c->peeklen, 0 },
				 .closed = { c->d[0].eof, false },
				 .scratch = scratch,
				 .scratch_len = sizeof(scratch) };
	enum dpix_answer a = c->peeklen ? dissect_tls_client_hello(&in, &f) : DPIX_NEED_MORE;

	/* A hello still arriving (MATCH_MORE): its name may follow. */
	if ((a == DPIX_NEED_MORE || a == DPIX_MATCH_MORE) && !force &&
	    c->peeklen < PROXY_PEEK_MAX && !c->d[0].eof)
		return;
	if ((a == DPIX_MATCH || a == DPIX_MATCH_MORE) && f.sni_len) {
		memcpy(c->facts.sni, f.sni, sizeof(c->facts.sni));
		c->facts.sni_len = f.sni_len;
		if (!same_name(f.sni, f.sni_len, c->facts.connect_host,
			       c->facts.connect_host_len)) {
			c->facts.flags |= FACT_FRONTING;
			c->px->st.fronting++;
			conn_close(c, "fronting");
			return;
		}
	}
	c->peeking = false;
	c->deadline_ms = 0;
	if (c->peeklen && dir_append(&c->d[0], c->peek, c->peeklen) < 0) {
		conn_close(c, "no memory");
		return;
	}
	free(c->peek);
	c->peek = NULL;
}

static void peek_read(struct conn *c)
{
	ssize_t n = recv(c->fd[0], c->peek + c->peeklen, PROXY_PEEK_MAX - c->peeklen, 0);

	if (n > 0) {
		c->peeklen += (size_t)n;
		c->last_ms = mono_ms();
	} else if (n == 0) {
		c->d[0].eof = true;
	} else if (errno != EAGAIN && errno != EINTR) {
		conn_close(c, "reset");
		return;
	} else {
		return;
	}
	peek_decide(c, false);
}

/* The status of the parent's answer, for the event: peeked, not read, so
 * the bytes go to the client untouched. Looked at once, on its first
 * bytes; "HTTP/1.x NNN" or nothing. */
static void parent_status(struct conn *c)
{
	uint8_t b[12];
	ssize_t n = recv(c->fd[1], b, sizeof(b), MSG_PEEK);

	if (n <= 0)
		return; /* nothing yet, or EOF: the splice will tell */
	c->parent_seen = true;
	if (n == (ssize_t)sizeof(b) && memcmp(b, "HTTP/1.", 7) == 0 && b[8] == ' ' && b[9] >= '1' &&
	    b[9] <= '5' && b[10] >= '0' && b[10] <= '9' && b[11] >= '0' && b[11] <= '9')
		c->status = (uint16_t)((b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0'));
}

/* Move what can move in direction i without blocking: 0 or -1 (closed). */
static int pump(struct conn *c, int i)
{
	struct dir *d = &c->d[i];
	int src = c->fd[i], dst = c->fd[!i];

	while (d->off < d->len) {
		ssize_t n = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		size_t mine = d->own < (size_t)n ? d->own : (size_t)n;

		d->off += (size_t)n;
		d->own -= mine;
		d->bytes += (size_t)n - mine;
	}
	if (d->len) {
		free(d->buf);
		d->buf = NULL;
		d->len = d->off = 0;
	}
	if (i == 0 && c->peeking)
		return 0;
	if (i == 1 && c->via_parent && !c->parent_seen)
		parent_status(c);
	for (;;) {
		bool moved = false;
		ssize_t n;

		if (d->inpipe) {
			n = splice(d->pipe[0], NULL, dst, NULL, d->inpipe,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				d->inpipe -= (size_t)n;
				d->bytes += (size_t)n;
				c->last_ms = mono_ms();
				d->full = false;
				moved = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		if (!d->eof && !d->full && d->inpipe < d->cap) {
			n = splice(src, NULL, d->pipe[1], NULL, d->cap - d->inpipe,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				d->inpipe += (size_t)n;
				moved = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				return -1;
			} else if (d->inpipe) {
				/* Either the socket is empty or the pipe is
				 * full: stop reading until the pipe drains
				 * (its bytes wait for EPOLLOUT meanwhile). */
				d->full = true;
			}
		}
		if (d->eof && !d->inpipe && !d->shut) {
			shutdown(dst, SHUT_WR);
			d->shut = true;
		}
		if (!moved)
			return 0;
	}
}

/* After any event: move bytes, then register what each side waits for. */
static void conn_flush(struct conn *c)
{
	uint32_t ev[2] = { 0, 0 };

	if (c->st == ST_FAILED) {
		struct dir *d = &c->d[1];

		while (d->off < d->len) {
			ssize_t n = send(c->fd[0], d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);

			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				want(c, 0, EPOLLOUT);
				return;
			}
			if (n < 0) {
				conn_close(c, c->close_reason);
				return;
			}
			d->off += (size_t)n;
		}
		if (!d->shut) {
			shutdown(c->fd[0], SHUT_WR);
			d->shut = true;
		}
		want(c, 0, EPOLLIN); /* drain until EOF or the linger ends */
		return;
	}
	if (c->st != ST_ESTABLISHED)
		return;
	for (int i = 0; i < 2; i++)
		if (pump(c, i) < 0) {
			conn_close(c, "reset");
			return;
		}
	if (c->d[0].shut && c->d[1].shut) {
		conn_close(c, "closed");
		return;
	}
	/* Read a side while its direction has room; write it while the
	 * other direction has bytes waiting. */
	for (int i = 0; i < 2; i++) {
		const struct dir *d = &c->d[i];

		bool peeking = i == 0 && c->peeking;

		/* Not while user-space bytes wait to go the same way. */
		if (!d->eof && d->off >= d->len &&
		    (peeking ? c->peeklen < PROXY_PEEK_MAX : !d->full && d->inpipe < d->cap))
			ev[i] |= EPOLLIN;
		if (d->off < d->len || d->inpipe)
			ev[!i] |= EPOLLOUT;
	}
	want(c, 0, ev[0]);
	want(c, 1, ev[1]);
}

/* ---- REQUEST ---------------------------------------------------------------- */

static void request_read(struct conn *c)
{
	struct proxy *px = c->px;
	const char *why;
	ssize_t n = recv(c->fd[0], c->head + c->headlen, PROXY_HEAD_MAX - c->headlen, 0);
	int rc;

	if (n == 0) {
		conn_close(c, "client closed");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c, "reset");
		return;
	}
	c->headlen += (size_t)n;
	rc = proxy_head_parse(c->head, c->headlen, &c->req, &why);
	if (rc == PROXY_HEAD_MORE)
		return;
	if (rc != PROXY_HEAD_OK) {
		c->facts = c->req.req;
		if (rc == 431)
			px->st.head_too_big++;
		else
			px->st.bad_request++;
		fail(c, (unsigned)rc, why, "bad request");
		return;
	}
	want(c, 0, 0); /* nothing more is read until the target answers */
	check(c);
}

static void on_conn_event(struct conn *c, int side, uint32_t events)
{
	if (c->dead)
		return;
	switch (c->st) {
	case ST_REQUEST:
		request_read(c);
		break;
	case ST_CONNECTING:
		if (side == 1)
			established(c);
		break;
	case ST_ESTABLISHED:
		if (side == 0 && c->peeking && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			peek_read(c);
		if (!c->dead)
			conn_flush(c);
		break;
	case ST_FAILED:
		if (c->d[1].off < c->d[1].len) {
			conn_flush(c);
		} else {
			uint8_t sink[4096];
			ssize_t n = recv(c->fd[0], sink, sizeof(sink), 0);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				conn_close(c, c->close_reason);
		}
		break;
	default:
		break;
	}
}

static void on_accept(struct proxy *px, int lfd)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				px->st.over_limit++;
			return;
		}
		px->st.accepted++;
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->px = px;
		c->fd[0] = fd;
		c->fd[1] = -1;
		for (int i = 0; i < 2; i++) {
			c->tag[i].conn = c;
			c->tag[i].side = i;
			c->d[i].pipe[0] = c->d[i].pipe[1] = -1;
		}
		c->peer = ss;
		c->peerlen = len;
		c->start_ms = c->last_ms = mono_ms();
		c->next = px->conns;
		if (px->conns)
			px->conns->prev = c;
		px->conns = c;
		px->nconns++;
		if (px->nconns > px->cfg.max_tunnels) {
			px->st.over_limit++;
			c->decision = "refused";
			fail(c, 503, "too many tunnels", "over limit");
			continue;
		}
		if (!(c->head = malloc(PROXY_HEAD_MAX))) {
			conn_close(c, "no memory");
			continue;
		}
		go(c, ST_REQUEST, PROXY_HEAD_TIMEOUT_MS);
		want(c, 0, EPOLLIN);
	}
}

/* Deadlines and idle tunnels, every LOOP_TICK_MS. */
static void sweep(struct proxy *px)
{
	uint64_t now = mono_ms();

	for (struct conn *c = px->conns, *next; c; c = next) {
		next = c->next;
		if (c->st == ST_ESTABLISHED && !c->peeking) {
			if (now - c->last_ms > (uint64_t)px->cfg.idle_s * 1000u) {
				px->st.idle++;
				conn_close(c, "idle");
			}
			continue;
		}
		if (!c->deadline_ms || now < c->deadline_ms)
			continue;
		switch (c->st) {
		case ST_REQUEST:
			px->st.head_timeout++;
			fail(c, 400, "request head not received in time", "head timeout");
			break;
		case ST_RESOLVING:
			px->st.resolve_fail++;
			fail(c, 504, "name resolution timed out", "resolve timeout");
			break;
		case ST_CONNECTING:
			want(c, 1, 0);
			close(c->fd[1]);
			c->fd[1] = -1;
			if (c->ai_next) {
				try_connect(c);
			} else {
				px->st.connect_timeout++;
				fail(c, 504, "upstream connect timed out", "connect timeout");
			}
			break;
		case ST_ESTABLISHED: /* still peeking: go on with what is known */
			peek_decide(c, true);
			if (!c->dead)
				conn_flush(c);
			break;
		default:
			conn_close(c, c->close_reason);
			break;
		}
	}
}

static void *proxy_run(void *arg)
{
	struct proxy *px = arg;
	struct epoll_event evs[EVENTS_MAX];
	uint64_t last_sweep = mono_ms();

	while (!atomic_load(&px->stop)) {
		unsigned gen = atomic_load_explicit(px->live_gen, memory_order_acquire);
		int n;

		/* As the workers do: take the new ruleset, then say so. */
		if (gen != px->gen) {
			px->rs = atomic_load(px->live);
			px->gen = gen;
			atomic_store(&px->seen_gen, gen);
		}
		n = epoll_wait(px->ep, evs, EVENTS_MAX, LOOP_TICK_MS);
		for (int i = 0; i < n; i++) {
			struct tag *t = evs[i].data.ptr;

			if (t->conn) {
				on_conn_event(t->conn, t->side, evs[i].events);
			} else if (t->side < 0) {
				struct resolve_job *j;

				while (read(px->done_r, &j, sizeof(j)) == (ssize_t)sizeof(j))
					resolved(j);
			} else {
				on_accept(px, px->lfd[t->side]);
			}
		}
		if (mono_ms() - last_sweep >= LOOP_TICK_MS) {
			last_sweep = mono_ms();
			sweep(px);
		}
		while (px->dead) {
			struct conn *c = px->dead;

			px->dead = c->next;
			conn_free(c);
		}
	}
	while (px->conns)
		conn_close(px->conns, "shutdown");
	while (px->dead) {
		struct conn *c = px->dead;

		px->dead = c->next;
		conn_free(c);
	}
	return NULL;
}

static int listen_on(const struct proxy_endpoint *e)
{
	int one = 1;
	int fd = socket(e->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (e->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&e->ss, e->len) < 0 || listen(fd, 512) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

struct proxy *proxy_start(const struct proxy_config *c, _Atomic(struct ruleset *) *rules,
			  atomic_uint *gen, int eve_fd)
{
	struct proxy *px = calloc(1, sizeof(*px));
	struct rlimit rl;
	int fds[2];

	if (!px)
		return NULL;
	px->cfg = *c;
	trace = getenv("DPIXD_PROXY_TRACE") != NULL;
	px->eve_fd = eve_fd;
	px->live = rules;
	px->live_gen = gen;
	px->gen = atomic_load(gen);
	px->rs = atomic_load(rules);
	atomic_store(&px->seen_gen, px->gen);
	px->done_r = px->done_w = -1;
	for (size_t i = 0; i < PROXY_MAX_LISTEN; i++)
		px->lfd[i] = -1;
	/* A tunnel holds six descriptors: two sockets, two pipes. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)c->max_tunnels * 6 + 64) {
		/* Past the limit accept() would fail and the listener stay
		 * readable: refuse with 503 before that instead. */
		px->cfg.max_tunnels = rl.rlim_cur > 70 ? (uint32_t)((rl.rlim_cur - 64) / 6) : 1;
		plog("%llu file descriptors: at most %u tunnels", (unsigned long long)rl.rlim_cur,
		     px->cfg.max_tunnels);
	}
	if ((px->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		plog("%s", strerror(errno));
		goto fail;
	}
	px->done_r = fds[0];
	px->done_w = fds[1];
	/* The resolver threads may wait: their end blocks. */
	fcntl(px->done_w, F_SETFL, 0);
	px->ltag[PROXY_MAX_LISTEN].side = -1;
	if (epoll_ctl(px->ep, EPOLL_CTL_ADD, px->done_r,
		      &(struct epoll_event){ .events = EPOLLIN,
					     .data.ptr = &px->ltag[PROXY_MAX_LISTEN] }) < 0)
		goto fail;
	for (size_t i = 0; i < c->nlisten; i++) {
		char text[INET6_ADDRSTRLEN];
		unsigned port;

		addr_text(&c->listen[i].ss, text, sizeof(text), &port);
		if ((px->lfd[i] = listen_on(&c->listen[i])) < 0) {
			plog("cannot listen on %s port %u: %s", text, port, strerror(errno));
			goto fail;
		}
		px->ltag[i].side = (int)i;
		if (epoll_ctl(
			px->ep, EPOLL_CTL_ADD, px->lfd[i],
			&(struct epoll_event){ .events = EPOLLIN, .data.ptr = &px->ltag[i] }) < 0)
			goto fail;
		plog("listening on %s port %u", text, port);
	}
	if (!(px->res = resolver_start(px->done_w))) {
		plog("cannot start the resolver threads");
		goto fail;
	}
	if (pthread_create(&px->thread, NULL, proxy_run, px) != 0) {
		plog("cannot start the forwarder thread");
		resolver_stop(px->res);
		px->res = NULL;
		goto fail;
	}
	return px;
fail:
	for (size_t i = 0; i < PROXY_MAX_LISTEN; i++)
		if (px->lfd[i] >= 0)
			close(px->lfd[i]);
	if (px->ep >= 0)
		close(px->ep);
	if (px->done_r >= 0) {
		close(px->done_r);
		close(px->done_w);
	}
	free(px);
	return NULL;
}

unsigned proxy_seen_gen(struct proxy *p)
{
	return atomic_load(&p->seen_gen);
}

void proxy_report(struct proxy *p)
{
	const struct proxy_stats *s;

	if (!p)
		return;
	s = &p->st;
	plog("accepted %llu, tunnels %llu, to parent %llu, refused %llu, bad requests %llu, "
	     "heads too large %llu, head timeouts %llu, over limit %llu, resolve failures %llu, "
	     "addresses refused %llu, connect failures %llu, connect timeouts %llu, fronting "
	     "%llu, idle %llu",
	     (unsigned long long)s->accepted, (unsigned long long)s->tunnels,
	     (unsigned long long)s->parent, (unsigned long long)s->refused,
	     (unsigned long long)s->bad_request, (unsigned long long)s->head_too_big,
	     (unsigned long long)s->head_timeout, (unsigned long long)s->over_limit,
	     (unsigned long long)s->resolve_fail, (unsigned long long)s->addr_refused,
	     (unsigned long long)s->connect_fail, (unsigned long long)s->connect_timeout,
	     (unsigned long long)s->fronting, (unsigned long long)s->idle);
}

void proxy_stop(struct proxy *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	/* Jobs still out come back to a pipe nobody reads: close it first
	 * so the resolver threads free them. */
	close(p->done_r);
	resolver_stop(p->res);
	close(p->done_w);
	for (size_t i = 0; i < PROXY_MAX_LISTEN; i++)
		if (p->lfd[i] >= 0)
			close(p->lfd[i]);
	close(p->ep);
	free(p);
}
