/*
 * proxy.c: the CONNECT forwarder's event loop: one thread, non-blocking
 * sockets under epoll, one explicit state machine per client connection.
 *
 *   (HANDSHAKE) -> REQUEST -> CHECK -> RESOLVING -> CONNECTING -> ESTABLISHED -> closed
 *                              \________________________________\-> FAILED -> closed
 *
 * HANDSHAKE is a TLS listener's (proxy_tls.c); from there on that client
 * is read and written through OpenSSL. REQUEST reads the head
 * (proxy_head.c, PROXY_HEAD_TIMEOUT_MS). CHECK asks the rules, as the
 * NFQUEUE workers would for the same CONNECT: a bypass verdict is a
 * whitelisted tunnel the forwarder opens itself; anything else
 * goes to the parent proxy (--proxy-parent) or gets a 403. RESOLVING runs
 * getaddrinfo on the resolver threads; the addresses pass the rebinding
 * guard (proxy_guard.c) unless a pack's address set lists them.
 * CONNECTING tries each address in turn. ESTABLISHED answers 200 (or
 * relays the parent's answer), keeps the client's first bytes until they
 * show whether they are a TLS ClientHello naming another host (domain
 * fronting: closed), then splices bytes both ways through a pipe per
 * direction while bytes wait in it, half-closing each side after the other's EOF. FAILED writes
 * the error answer and closes. Every connection ends with one EVE line.
 *
 * This file: the loop, accepting, the request, the decision and the
 * connect. proxy_relay.c: ESTABLISHED. proxy_eve.c: the event line.
 * proxy_resolve.c: the resolver threads. proxy_head.c: the head parser.
 * proxy_guard.c: the upstream address classes. proxy_tls.c: TLS listeners.
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

#include <openssl/err.h>

#include "dissect/dissect.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"
#include "rules/rules.h"

static const char *const proxy_state_names[] = {
	"sniff", "handshake", "request", "check", "resolving", "connecting", "established", "failed"
};

void proxy_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("dpixd: proxy: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

uint64_t proxy_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool trace; /* DPIXD_PROXY_TRACE set: every transition to stderr */

/* Every state change goes through here, with its deadline. */
static void go(struct conn *c, enum conn_state st, uint64_t timeout_ms)
{
	if (trace)
		proxy_log("conn fd %d: %s -> %s", c->fd[0], proxy_state_names[c->st],
			  proxy_state_names[st]);
	c->st = st;
	c->deadline_ms = timeout_ms ? proxy_now_ms() + timeout_ms : 0;
}

/* Register the events a side needs now; none: out of the set, so a
 * finished socket's HUP does not wake the loop. A TLS client's reading
 * and writing wait for what OpenSSL said (proxy_tls.c); bytes it holds
 * already are read after this batch of events. */
void conn_want(struct conn *c, int side, uint32_t ev)
{
	struct epoll_event e;

	if (side == 0 && c->ssl) {
		if ((ev & EPOLLIN) && !c->pend && SSL_pending(c->ssl) > 0) {
			c->pend = true;
			c->pend_next = c->px->pending;
			c->px->pending = c;
		}
		ev = ((ev & EPOLLIN) ? c->tls_rd : 0) | ((ev & EPOLLOUT) ? c->tls_wr : 0);
	}
	e = (struct epoll_event){ .events = ev, .data.ptr = &c->tag[side] };
	if (c->fd[side] < 0 || c->ev[side] == ev)
		return;
	if (!ev)
		epoll_ctl(c->px->ep, EPOLL_CTL_DEL, c->fd[side], NULL);
	else
		epoll_ctl(c->px->ep, c->ev[side] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd[side], &e);
	c->ev[side] = ev;
}

/* ---- connection life --------------------------------------------------- */

void conn_close(struct conn *c, const char *reason)
{
	struct proxy *px = c->px;

	if (c->dead)
		return;
	if (!c->close_reason)
		c->close_reason = reason;
	proxy_eve_close(c);
	c->dead = true;
	SSL_free(c->ssl);
	c->ssl = NULL;
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] >= 0)
			close(c->fd[i]); /* leaves the epoll set with it */
		c->fd[i] = -1;
		relay_put_pipe(px, &c->d[i]);
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
	atomic_store_explicit(&px->st.open, px->nconns, memory_order_relaxed);
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

/* Refuse: the answer with a one-line reason, then close. A redirected
 * client that did not speak plain HTTP would not understand one, nor a
 * TLS client before its handshake: closed. */
static void fail(struct conn *c, unsigned status, const char *why, const char *reason)
{
	char msg[1024]; /* a reason names at most a host: it fits */
	int n;

	if ((c->transparent && c->sniffed != SNIFF_HTTP) ||
	    (c->tls && (!c->ssl || !SSL_is_init_finished(c->ssl)))) {
		c->close_reason = reason;
		conn_close(c, reason);
		return;
	}
	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s\n",
		     status, status_text(status), strlen(why) + 1, why);
	c->status = (uint16_t)status;
	c->close_reason = reason;
	if (c->fd[1] >= 0) {
		conn_want(c, 1, 0);
		close(c->fd[1]);
		c->fd[1] = -1;
	}
	go(c, ST_FAILED, FAIL_LINGER_MS);
	if (n < 0 || relay_append(&c->d[1], msg, (size_t)n < sizeof(msg) ? (size_t)n : 0) < 0) {
		conn_close(c, "no memory");
		return;
	}
	relay_flush(c);
}

/* The Proxy-Authorization line for the parent: the client's own, else
 * the configured one (proxy-parent-auth), else none. */
static int parent_auth(struct conn *c)
{
	const char *cfg = c->px->cfg.parent_auth;

	if (!c->req.auth && !cfg[0])
		return 0;
	if (relay_append(&c->d[0], "Proxy-Authorization: ", 21) < 0)
		return -1;
	if (c->req.auth ? relay_append(&c->d[0], c->req.auth, c->req.auth_len)
			: relay_append(&c->d[0], cfg, strlen(cfg)))
		return -1;
	return relay_append(&c->d[0], "\r\n", 2);
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

/*
 * A CONNECT is decided before its tunnel carries anything, where the
 * NFQUEUE path sees what it carries (the rules' "tunnel" condition). May
 * it be opened? When the rules bypass it for some content; what it does
 * carry decides again (proxy_recheck). v: the bypass found, else the
 * verdict for a tunnel that carries nothing. A redirected client's bytes
 * were read already: its facts say what they are.
 */
static void eval_request(const struct proxy *px, const struct dpix_facts *f, const struct conn *c,
			 struct verdict *v)
{
	struct dpix_facts k = *f;

	if (c->transparent) {
		eval(px, f, c, v);
		return;
	}
	for (int t = TUNNEL_COUNT - 1; t >= TUNNEL_NONE; t--) {
		k.tunnel = (uint8_t)t;
		eval(px, &k, c, v);
		if (v->action == ACTION_BYPASS)
			return;
	}
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
	proxy_addr_text(&ss, text, sizeof(text), &port);
	if (!facts_set_host(f.connect_host, &f.connect_host_len, (const uint8_t *)text,
			    strlen(text)))
		return false;
	eval_request(c->px, &f, c, &v);
	/* Only a rule naming the address in a set counts, not one that
	 * bypasses every target on a port. */
	if (v.action == ACTION_BYPASS && v.rule && k != ADDR_LISTENER &&
	    (v.rule->conds & COND_CONNECT) && v.rule->connect->kind == SET_ADDRESSES)
		return true;
	proxy_log("%.*s resolves to %s (%s): refused", c->facts.connect_host_len,
		  c->facts.connect_host, text, proxy_addr_kind_name(k));
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

static void connect_orig(struct conn *c);

/* The verdict's rule and its timeout into the connection. */
static void take_verdict(struct conn *c, const struct verdict *v)
{
	c->action = v->action;
	if (v->action == ACTION_BYPASS && v->rule && v->rule->timeout > c->idle_s)
		c->idle_s = v->rule->timeout;
	c->rule[0] = c->pack[0] = '\0';
	if (v->rule) {
		snprintf(c->rule, sizeof(c->rule), "%s", v->rule->id);
		snprintf(c->pack, sizeof(c->pack), "%s", v->rule->pack->name);
	}
}

/*
 * As the NFQUEUE path decides a CONNECT flow on what its tunnel carries
 * (the rules' "tunnel" condition), the forwarder decides again on the
 * tunnel's first bytes. The first decision saw "tunnel none"; a pack that
 * wants a TURN target to carry STUN/TURN or TLS says what happens to the
 * rest. Past the 200 the bytes can no longer go to the parent: a tunnel
 * not bypassed now is closed.
 */
int proxy_recheck(struct conn *c)
{
	struct verdict v = { 0 };

	eval(c->px, &c->facts, c, &v);
	take_verdict(c, &v);
	if (v.action == ACTION_BYPASS)
		return 0;
	c->px->st.tunnel_refused++;
	conn_close(c, v.action == ACTION_DROP ? "dropped by rule" : "not bypassed");
	return -1;
}

static void check(struct conn *c)
{
	struct proxy *px = c->px;
	struct verdict v = { 0 };
	char host[HOST_MAX + 1], port[6];

	go(c, ST_CHECK, 0);
	c->facts = c->req.req;
	if (c->req.method == PROXY_CONNECT) {
		eval_request(px, &c->facts, c, &v);
		take_verdict(c, &v);
	} else {
		c->action = ACTION_INSPECT; /* plain requests are never bypassed */
	}
	if (c->req.method == PROXY_CONNECT && v.action == ACTION_BYPASS) {
		c->decision = "tunnel";
		if (c->transparent) {
			connect_orig(c);
			return;
		}
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

/* One upstream socket, connecting: 0, -1 when the guard refuses the
 * address, else an errno. SO_MARK (proxy-mark) lets the firewall tell the
 * forwarder's own connections from the clients' it redirects. */
static int open_upstream(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	uint32_t mark = c->px->cfg.mark;
	int fd, err;

	if (len > sizeof(c->up))
		return EINVAL;
	if (!c->via_parent && !addr_allowed(c, sa)) {
		c->px->st.addr_refused++;
		return -1;
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	memcpy(&c->up, sa, len);
	c->uplen = len;
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS)
		goto fail;
	c->fd[1] = fd;
	conn_want(c, 1, EPOLLOUT);
	return 0;
fail:
	err = errno;
	close(fd);
	return err;
}

static void connect_failed(struct conn *c, int last_err)
{
	struct proxy *px = c->px;

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

static void try_connect(struct conn *c)
{
	int last_err = 0;

	go(c, ST_CONNECTING, PROXY_CONNECT_TIMEOUT_MS);
	while (c->ai_next) {
		struct addrinfo *a = c->ai_next;

		c->ai_next = a->ai_next;
		if ((last_err = open_upstream(c, a->ai_addr, a->ai_addrlen)) == 0)
			return;
	}
	connect_failed(c, last_err);
}

/* A redirected client's bypass goes where the client was going: it chose
 * the address (its own resolution, maybe pinned or from another resolver
 * than ours), and resolving the name again could pick another server or,
 * with a lying resolver, one the name does not belong to. The address
 * guard still applies. */
static void connect_orig(struct conn *c)
{
	int err;

	go(c, ST_CONNECTING, PROXY_CONNECT_TIMEOUT_MS);
	if ((err = open_upstream(c, (const struct sockaddr *)&c->orig, c->origlen)) != 0)
		connect_failed(c, err);
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

static void established(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	const uint8_t *rest = c->head + c->req.head_len;
	size_t nrest = c->headlen - c->req.head_len;

	if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		conn_want(c, 1, 0);
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
	if (c->via_parent && c->req.method == PROXY_CONNECT) {
		char msg[2 * HOST_MAX + 64];
		const char *lb = strchr(c->facts.connect_host, ':') ? "[" : "";
		const char *rb = *lb ? "]" : "";
		int n = snprintf(
		    msg, sizeof(msg), "CONNECT %s%.*s%s:%u HTTP/1.1\r\nHost: %s%.*s%s:%u\r\n", lb,
		    c->facts.connect_host_len, c->facts.connect_host, rb, c->facts.connect_port, lb,
		    c->facts.connect_host_len, c->facts.connect_host, rb, c->facts.connect_port);

		if (n < 0 || relay_append(&c->d[0], msg, (size_t)n) < 0 || parent_auth(c) < 0 ||
		    relay_append(&c->d[0], "\r\n", 2) < 0)
			goto nomem;
		c->d[0].own = c->d[0].len;
		c->parent_wait = c->transparent;
	} else if (c->via_parent) {
		/* A plain request goes to the parent as it came (the head was
		 * checked strictly above), the credentials added if it had
		 * none (before the blank line that ends it). */
		if (relay_append(&c->d[0], c->head, c->req.head_len - 2) < 0 ||
		    (!c->req.auth && parent_auth(c) < 0) || relay_append(&c->d[0], "\r\n", 2) < 0)
			goto nomem;
	} else if (c->transparent) {
		c->px->st.tunnels++; /* the client thinks it is connected already */
	} else {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

		if (relay_append(&c->d[1], ok, sizeof(ok) - 1) < 0)
			goto nomem;
		c->d[1].own = sizeof(ok) - 1;
		c->status = 200;
		c->px->st.tunnels++;
		c->peeking = true;
	}
	/* Bytes the client sent after its head travel first. */
	if (c->peeking) {
		if (nrest) { /* else relay_peek_read allocates it */
			if (!(c->peek = malloc(PROXY_PEEK_MAX)))
				goto nomem;
			memcpy(c->peek, rest, nrest);
			c->peeklen = nrest;
		}
	} else if (c->parent_wait) {
		/* Replayed once the parent said 200 (relay_parent_answer). */
		c->peek = c->head;
		c->peeklen = c->headlen;
		c->head = NULL;
	} else if (nrest && relay_append(&c->d[0], rest, nrest) < 0) {
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
	c->last_ms = proxy_now_ms();
	relay_flush(c);
	return;
nomem:
	fail(c, 503, "out of memory", "no memory");
}

/* ---- REQUEST ---------------------------------------------------------------- */

/* More of the client's first bytes into c->head, max in all: how many (0 at
 * its EOF), or -1 when there are none yet (the connection closed if the
 * read failed). */
static ssize_t head_read(struct conn *c, size_t max)
{
	ssize_t n = side_recv(c, 0, c->head + c->headlen, max - c->headlen);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c, "reset");
		return -1;
	}
	c->headlen += (size_t)n;
	return n;
}

static void request_read(struct conn *c)
{
	struct proxy *px = c->px;
	const char *why;
	ssize_t n = head_read(c, PROXY_HEAD_MAX);
	int rc;

	if (n < 0)
		return;
	if (n == 0) {
		conn_close(c, "client closed");
		return;
	}
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
	conn_want(c, 0, 0); /* nothing more is read until the target answers */
	check(c);
}

/* ---- SNIFF: a redirected client's first bytes ------------------------------ */

static void sniff_decide(struct conn *c, bool final)
{
	enum proxy_sniffed kind;

	if (proxy_sniff(c->head, c->headlen, final, &c->orig, &c->req, &kind) == PROXY_HEAD_MORE)
		return;
	c->sniffed = (uint8_t)kind;
	c->req.head_len = 0; /* every byte read goes upstream as it came */
	conn_want(c, 0, 0);
	check(c);
}

static void sniff_read(struct conn *c)
{
	ssize_t n = head_read(c, PROXY_PEEK_MAX);

	if (n < 0)
		return;
	if (n == 0 && !c->headlen) {
		conn_close(c, "client closed");
		return;
	}
	sniff_decide(c, n == 0 || c->headlen == PROXY_PEEK_MAX);
}

/* A TLS client's handshake; once done, its head is read within the
 * same deadline (the head timeout counts the handshake in). */
static void handshake(struct conn *c)
{
	uint64_t deadline = c->deadline_ms;
	int rc = tls_handshake(c);

	if (rc < 0) {
		c->px->st.tls_fail++;
		conn_close(c, "handshake failed");
		return;
	}
	if (rc > 0) {
		go(c, ST_REQUEST, 0);
		c->deadline_ms = deadline;
	}
	conn_want(c, 0, EPOLLIN); /* for the head, or what OpenSSL waits for */
}

static void on_conn_event(struct conn *c, int side, uint32_t events)
{
	if (c->dead)
		return;
	switch (c->st) {
	case ST_SNIFF:
		sniff_read(c);
		break;
	case ST_HANDSHAKE:
		handshake(c);
		break;
	case ST_REQUEST:
		request_read(c);
		break;
	case ST_CONNECTING:
		if (side == 1)
			established(c);
		break;
	case ST_ESTABLISHED:
		/* (a TLS client's read may have waited for EPOLLOUT) */
		if (side == 0 && c->peeking &&
		    (c->ssl || (events & (EPOLLIN | EPOLLHUP | EPOLLERR))))
			relay_peek_read(c);
		if (!c->dead)
			relay_flush(c);
		break;
	case ST_FAILED:
		if (c->d[1].off < c->d[1].len || !c->d[1].shut) {
			relay_flush(c);
		} else {
			uint8_t sink[4096];
			ssize_t n;

			while ((n = side_recv(c, 0, sink, sizeof(sink))) > 0)
				;
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				conn_close(c, c->close_reason);
		}
		break;
	default:
		break;
	}
}

/* Where a redirected client was going: the address before REDIRECT
 * (conntrack's SO_ORIGINAL_DST), or, with TPROXY, the socket's own (the
 * kernel handed the listener a connection to the client's target). A
 * connection made to the listener directly (not redirected) has the
 * listener as its target: it would be a loop. On a wildcard listener
 * that is any address on its port, as for the address guard. */
static bool is_loop(const struct sockaddr_storage *orig, const struct proxy_endpoint *listener)
{
	char ta[INET6_ADDRSTRLEN], tl[INET6_ADDRSTRLEN];
	unsigned pa, pl;

	if (orig->ss_family != listener->ss.ss_family)
		return false;
	proxy_addr_text(orig, ta, sizeof(ta), &pa);
	proxy_addr_text(&listener->ss, tl, sizeof(tl), &pl);
	return pa == pl && (!strcmp(ta, tl) || !strcmp(tl, "0.0.0.0") || !strcmp(tl, "::"));
}

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv4.h> */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv6/ip6_tables.h> */
#endif
static int original_dst(struct conn *c, const struct proxy_endpoint *listener)
{
	struct sockaddr_storage self;
	socklen_t slen = sizeof(self);
	int fam;

	c->origlen = sizeof(c->orig);
	if (getsockname(c->fd[0], (struct sockaddr *)&self, &slen) < 0)
		return -1;
	fam = self.ss_family;
	/* Without a conntrack entry (no REDIRECT) the socket's own address
	 * is taken, and found to be the listener's. */
	if (listener->tproxy || getsockopt(c->fd[0], fam == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
					   fam == AF_INET6 ? IP6T_SO_ORIGINAL_DST : SO_ORIGINAL_DST,
					   &c->orig, &c->origlen) < 0) {
		memcpy(&c->orig, &self, slen);
		c->origlen = slen;
	}
	return is_loop(&c->orig, listener) ? -1 : 0;
}

static void on_accept(struct proxy *px, int li)
{
	int lfd = px->lfd[li];
	bool transparent = px->cfg.listen[li].transparent, tls = px->cfg.listen[li].tls;

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
		c->tls = tls;
		c->tls_rd = EPOLLIN;
		c->tls_wr = EPOLLOUT;
		c->fd[0] = fd;
		c->fd[1] = -1;
		for (int i = 0; i < 2; i++) {
			c->tag[i].conn = c;
			c->tag[i].side = i;
			c->d[i].pipe[0] = c->d[i].pipe[1] = -1;
		}
		c->peer = ss;
		c->peerlen = len;
		c->start_ms = c->last_ms = proxy_now_ms();
		c->idle_s = px->cfg.idle_s;
		c->id = ++px->next_id;
		c->next = px->conns;
		if (px->conns)
			px->conns->prev = c;
		px->conns = c;
		px->nconns++;
		atomic_store_explicit(&px->st.open, px->nconns, memory_order_relaxed);
		if (px->nconns > px->cfg.max_tunnels) {
			px->st.over_limit++;
			c->decision = "refused";
			fail(c, 503, "too many tunnels", "over limit");
			continue;
		}
		c->transparent = transparent;
		if (transparent) {
			px->st.transparent++;
			if (original_dst(c, &px->cfg.listen[li]) < 0) {
				conn_close(c, "not redirected");
				continue;
			}
		}
		if (tls) {
			px->st.tls++;
			if (!(c->ssl = SSL_new(px->tls)) || SSL_set_fd(c->ssl, fd) != 1) {
				ERR_clear_error();
				conn_close(c, "no memory");
				continue;
			}
			SSL_set_accept_state(c->ssl);
		}
		if (!(c->head = malloc(transparent ? PROXY_PEEK_MAX : PROXY_HEAD_MAX))) {
			conn_close(c, "no memory");
			continue;
		}
		go(c,
		   transparent ? ST_SNIFF
		   : tls       ? ST_HANDSHAKE
			       : ST_REQUEST,
		   px->cfg.head_s ? (uint64_t)px->cfg.head_s * 1000u : PROXY_HEAD_TIMEOUT_MS);
		conn_want(c, 0, EPOLLIN);
	}
}

/* Deadlines and idle tunnels, every LOOP_TICK_MS. */
static void sweep(struct proxy *px)
{
	uint64_t now = proxy_now_ms();

	for (struct conn *c = px->conns, *next; c; c = next) {
		next = c->next;
		if (c->st == ST_ESTABLISHED && !c->peeking) {
			if (now - c->last_ms > (uint64_t)c->idle_s * 1000u) {
				px->st.idle++;
				conn_close(c, "idle");
			}
			continue;
		}
		if (!c->deadline_ms || now < c->deadline_ms)
			continue;
		switch (c->st) {
		case ST_SNIFF: /* go on with what came, maybe nothing */
			sniff_decide(c, true);
			break;
		case ST_HANDSHAKE: /* no answer can reach it yet */
			px->st.head_timeout++;
			conn_close(c, "handshake timeout");
			break;
		case ST_REQUEST:
			px->st.head_timeout++;
			fail(c, 400, "request head not received in time", "head timeout");
			break;
		case ST_RESOLVING:
			px->st.resolve_fail++;
			fail(c, 504, "name resolution timed out", "resolve timeout");
			break;
		case ST_CONNECTING:
			conn_want(c, 1, 0);
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
			relay_peek_decide(c, true);
			if (!c->dead)
				relay_flush(c);
			break;
		default:
			conn_close(c, c->close_reason);
			break;
		}
	}
}

/* Past the open files limit accept() would fail and the listener stay
 * readable: the tunnel bound is lowered to fit, so that a client over it
 * is answered 503 instead. */
static void fit_tunnels(struct proxy_config *c)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)c->max_tunnels * 2 + FD_RESERVE) {
		c->max_tunnels =
		    rl.rlim_cur > FD_RESERVE + 2 ? (uint32_t)((rl.rlim_cur - FD_RESERVE) / 2) : 1;
		proxy_log("%llu file descriptors: at most %u tunnels",
			  (unsigned long long)rl.rlim_cur, c->max_tunnels);
	}
}

void proxy_settings(struct proxy *p, const struct proxy_config *c)
{
	if (!p)
		return;
	p->next = p->cfg;
	p->next.has_parent = c->has_parent;
	memcpy(p->next.parent_host, c->parent_host, sizeof(c->parent_host));
	memcpy(p->next.parent_port, c->parent_port, sizeof(c->parent_port));
	memcpy(p->next.parent_auth, c->parent_auth, sizeof(c->parent_auth));
	p->next.max_tunnels = c->max_tunnels;
	p->next.idle_s = c->idle_s;
	p->next.head_s = c->head_s;
	p->next.fronting_log = c->fronting_log;
	p->next.mark = c->mark;
	fit_tunnels(&p->next);
	p->has_next = true;
}

static void *proxy_run(void *arg)
{
	struct proxy *px = arg;
	struct epoll_event evs[EVENTS_MAX];
	uint64_t last_sweep = proxy_now_ms();

	while (!atomic_load(&px->stop)) {
		unsigned gen = atomic_load_explicit(px->live_gen, memory_order_acquire);
		int n;

		/* As the workers do: take the new ruleset, then say so. */
		if (gen != px->gen) {
			px->rs = atomic_load(px->live);
			/* Settings for connections from now on; open ones
			 * keep the timeouts they were given. */
			if (px->has_next) {
				px->cfg = px->next;
				px->has_next = false;
			}
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
				on_accept(px, t->side);
			}
		}
		if (proxy_now_ms() - last_sweep >= LOOP_TICK_MS) {
			last_sweep = proxy_now_ms();
			sweep(px);
		}
		/* Each call reads what OpenSSL holds, or stops wanting to. */
		while (px->pending) {
			struct conn *c = px->pending;

			px->pending = c->pend_next;
			c->pend = false;
			on_conn_event(c, 0, EPOLLIN);
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

/* A listening socket; NULL *what, or what failed ("IP_TRANSPARENT"). A
 * TPROXY listener is transparent: the kernel gives it connections to
 * addresses that are not its own (which needs CAP_NET_ADMIN, kept by
 * --user), and their accepted sockets carry the client's target as
 * their local address. */
static int listen_on(const struct proxy_endpoint *e, const char **what)
{
	int one = 1;
	int fd = socket(e->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool v6 = e->ss.ss_family == AF_INET6;

	*what = NULL;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (e->tproxy && setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
				    v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one, sizeof(one)) < 0)
		*what = v6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT";
	if (*what || bind(fd, (const struct sockaddr *)&e->ss, e->len) < 0 || listen(fd, 512) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

struct proxy *proxy_open(const struct proxy_config *c, _Atomic(struct ruleset *) *rules,
			 atomic_uint *gen)
{
	struct proxy *px = calloc(1, sizeof(*px));
	struct rlimit rl;
	int fds[2];

	if (!px)
		return NULL;
	px->cfg = *c;
	trace = getenv("DPIXD_PROXY_TRACE") != NULL;
	px->live = rules;
	px->live_gen = gen;
	px->gen = atomic_load(gen);
	px->rs = atomic_load(rules);
	atomic_store(&px->seen_gen, px->gen);
	px->done_r = px->done_w = -1;
	for (size_t i = 0; i < PROXY_MAX_LISTEN; i++)
		px->lfd[i] = -1;
	/* A tunnel holds two descriptors, its sockets, and a pipe per
	 * direction only while bytes wait in it; the spare pipes and a few
	 * of dpixd's own come on top. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fit_tunnels(&px->cfg);
	if ((px->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		proxy_log("%s", strerror(errno));
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
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].tls && !px->tls && !(px->tls = proxy_tls_ctx(c)))
			goto fail;
	for (size_t i = 0; i < c->nlisten; i++) {
		char text[INET6_ADDRSTRLEN];
		unsigned port;
		const char *what;

		proxy_addr_text(&c->listen[i].ss, text, sizeof(text), &port);
		if ((px->lfd[i] = listen_on(&c->listen[i], &what)) < 0) {
			if (what)
				proxy_log("proxy-tproxy %s port %u: cannot set %s: %s%s", text,
					  port, what, strerror(errno),
					  errno == EPERM ? " (needs CAP_NET_ADMIN)" : "");
			else
				proxy_log("cannot listen on %s port %u: %s", text, port,
					  strerror(errno));
			goto fail;
		}
		px->ltag[i].side = (int)i;
		if (epoll_ctl(
			px->ep, EPOLL_CTL_ADD, px->lfd[i],
			&(struct epoll_event){ .events = EPOLLIN, .data.ptr = &px->ltag[i] }) < 0)
			goto fail;
		proxy_log("listening on %s port %u%s", text, port,
			  c->listen[i].tproxy	     ? " (transparent, TPROXY)"
			  : c->listen[i].transparent ? " (transparent)"
			  : c->listen[i].tls	     ? " (TLS)"
						     : "");
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
	SSL_CTX_free(px->tls);
	free(px);
	return NULL;
}

int proxy_go(struct proxy *px)
{
	if (!(px->res = resolver_start(px->done_w))) {
		proxy_log("cannot start the resolver threads");
		return -1;
	}
	if (pthread_create(&px->thread, NULL, proxy_run, px) != 0) {
		proxy_log("cannot start the forwarder thread");
		return -1;
	}
	px->running = true;
	return 0;
}

unsigned proxy_seen_gen(struct proxy *p)
{
	return atomic_load(&p->seen_gen);
}

bool proxy_counts(struct proxy *p, struct proxy_counts *out)
{
	*out = (struct proxy_counts){ 0 };
	if (!p)
		return false;
#define PROXY_READ(f, words, help) out->f = atomic_load_explicit(&p->st.f, memory_order_relaxed);
	PROXY_COUNTERS(PROXY_READ)
#undef PROXY_READ
	out->open = atomic_load_explicit(&p->st.open, memory_order_relaxed);
	return true;
}

void proxy_report(struct proxy *p)
{
	struct proxy_counts n;
	char line[1024];
	size_t len = 0;

	if (!proxy_counts(p, &n))
		return;
#define PROXY_WORDS(f, words, help)                                                  \
	if (len < sizeof(line))                                                      \
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %llu", \
					len ? ", " : "", words, (unsigned long long)n.f);
	PROXY_COUNTERS(PROXY_WORDS)
#undef PROXY_WORDS
	proxy_log("%s", line);
}

void proxy_stop(struct proxy *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	if (p->running)
		pthread_join(p->thread, NULL);
	/* Jobs still out come back to a pipe nobody reads: close it first
	 * so the resolver threads free them. */
	close(p->done_r);
	if (p->res)
		resolver_stop(p->res);
	close(p->done_w);
	for (size_t i = 0; i < PROXY_MAX_LISTEN; i++)
		if (p->lfd[i] >= 0)
			close(p->lfd[i]);
	close(p->ep);
	relay_free_spares(p);
	SSL_CTX_free(p->tls);
	free(p);
}
