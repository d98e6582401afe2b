/*
 * proxy_relay.c: a tunnel once established. The client's first bytes are
 * held until they show whether they are a TLS ClientHello naming another
 * host than the CONNECT target (domain fronting: closed); then bytes move
 * both ways through a pipe per direction with splice(2), no copies. A
 * direction takes a pipe (a spare, or a new one) when it is pumped and
 * gives it back once empty, so an idle tunnel holds two descriptors; with
 * no pipe to be had the bytes are copied through a bounded buffer. Each
 * side is read only while its direction has room, written when the other
 * has bytes waiting (EPOLLOUT), and half-closed after the other's EOF.
 * A TLS client (proxy_tls.c) is read and written through side_recv and
 * side_send: its tunnel is copied both ways, never spliced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dissect/dissect.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

/* Append bytes to a direction's user-space buffer. */
int relay_append(struct dir *d, const void *p, size_t n)
{
	uint8_t *b = realloc(d->buf, d->len + n);

	if (!b)
		return -1;
	memcpy(b + d->len, p, n);
	d->buf = b;
	d->len += n;
	return 0;
}

/* A pipe for direction d: a spare, or a new one. false when none can be
 * had (out of descriptors): the bytes are copied instead. */
static bool get_pipe(struct proxy *px, struct dir *d)
{
	int sz;

	if (d->pipe[0] >= 0)
		return true;
	if (px->nspare) {
		const struct spare_pipe *p = &px->spare[--px->nspare];

		d->pipe[0] = p->fd[0];
		d->pipe[1] = p->fd[1];
		d->cap = p->cap;
		return true;
	}
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		d->pipe[0] = d->pipe[1] = -1;
		return false;
	}
	sz = fcntl(d->pipe[1], F_GETPIPE_SZ);
	d->cap = sz > 0 && sz < PIPE_CAP ? (size_t)sz : PIPE_CAP;
	return true;
}

void relay_put_pipe(struct proxy *px, struct dir *d)
{
	if (d->pipe[0] < 0)
		return;
	if (!d->inpipe && px->nspare < PIPE_SPARE) {
		struct spare_pipe *p = &px->spare[px->nspare++];

		p->fd[0] = d->pipe[0];
		p->fd[1] = d->pipe[1];
		p->cap = d->cap;
	} else {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
	d->inpipe = 0;
	d->full = false;
}

void relay_free_spares(struct proxy *px)
{
	while (px->nspare) {
		const struct spare_pipe *p = &px->spare[--px->nspare];

		close(p->fd[0]);
		close(p->fd[1]);
	}
}

/*
 * The client's first bytes in a tunnel the forwarder opened: what they
 * carry (TLS, STUN/TURN, HTTP, WebSocket, unknown), as the NFQUEUE path
 * reads a CONNECT flow. A ClientHello naming another host than the
 * CONNECT target is domain fronting. Then the rules again with what the
 * tunnel carries (proxy_recheck); once it goes on, the bytes follow.
 */
void relay_peek_decide(struct conn *c, bool force)
{
	struct dpix_facts f = c->facts;
	uint8_t scratch[PROXY_PEEK_MAX];
	struct dpix_input in = { .transport = DPIX_TCP,
				 .dir = 0,
				 .server_port = c->facts.connect_port,
				 .data = { c->peek, NULL },
				 .len = { c->peeklen, 0 },
				 .closed = { c->d[0].eof, false },
				 .scratch = scratch,
				 .scratch_len = sizeof(scratch) };
	enum dpix_answer a = dissect_connect_tunnel(&in, &f);

	/* A hello still arriving (MATCH_MORE): its name may follow. */
	if (a == DPIX_MATCH_MORE && !force && c->peeklen < PROXY_PEEK_MAX && !c->d[0].eof)
		return;
	if (f.tunnel == TUNNEL_NONE && c->peeklen)
		f.tunnel = TUNNEL_UNKNOWN; /* the start of something, then silence */
	c->facts = f;
	if (f.flags & FACT_FRONTING) {
		c->px->st.fronting++;
		if (!c->px->cfg.fronting_log) {
			conn_close(c, "fronting");
			return;
		}
	}
	if (proxy_recheck(c) < 0)
		return;
	c->peeking = false;
	c->deadline_ms = 0;
	if (c->peeklen && relay_append(&c->d[0], c->peek, c->peeklen) < 0) {
		conn_close(c, "no memory");
		return;
	}
	free(c->peek);
	c->peek = NULL;
}

void relay_peek_read(struct conn *c)
{
	ssize_t n;

	/* The buffer comes with the client's first bytes: an idle tunnel
	 * holds none (bench/proxy.sh: about half of its memory). */
	if (!c->peek && !(c->peek = malloc(PROXY_PEEK_MAX))) {
		conn_close(c, "no memory");
		return;
	}
	n = side_recv(c, 0, c->peek + c->peeklen, PROXY_PEEK_MAX - c->peeklen);

	if (n > 0) {
		c->peeklen += (size_t)n;
		c->last_ms = proxy_now_ms();
	} else if (n == 0) {
		c->d[0].eof = true;
	} else if (errno != EAGAIN && errno != EINTR) {
		conn_close(c, "reset");
		return;
	} else {
		return;
	}
	relay_peek_decide(c, false);
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

/*
 * A redirected client's tunnel through the parent: the parent's answer to
 * the forwarder's CONNECT is the forwarder's, not the client's (which
 * never asked). Its head, "HTTP/1.x NNN ..." up to the blank line, at most
 * PROXY_HEAD_MAX bytes, is read and dropped; on 200 the client's first
 * bytes follow. A plain HTTP client gets any other answer as it is; any
 * other client is closed. 0: done or waiting, -1: close.
 */
static int parent_answer(struct conn *c)
{
	uint8_t b[PROXY_HEAD_MAX];
	ssize_t n = recv(c->fd[1], b, sizeof(b), MSG_PEEK);
	const uint8_t *end;
	size_t hlen;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return c->close_reason = "parent closed", -1;
	end = memmem(b, (size_t)n, "\r\n\r\n", 4);
	if (!end) {
		if (n < (ssize_t)sizeof(b))
			return 0;
		return c->close_reason = "parent answer too large", -1;
	}
	hlen = (size_t)(end - b) + 4;
	parent_status(c);
	if (c->status != 200) {
		if (c->sniffed != SNIFF_HTTP)
			return c->close_reason = "parent refused", -1;
		hlen = 0; /* the client reads the parent's refusal */
	}
	if (hlen && recv(c->fd[1], b, hlen, 0) != (ssize_t)hlen)
		return c->close_reason = "reset", -1;
	c->parent_wait = false;
	if (hlen && c->peeklen && relay_append(&c->d[0], c->peek, c->peeklen) < 0)
		return c->close_reason = "no memory", -1;
	free(c->peek);
	c->peek = NULL;
	c->peeklen = 0;
	return 0;
}

/* Direction i's source is done and nothing of it waits: pass the EOF on
 * (a TLS client's close_notify may wait for EPOLLOUT: shut_wait). */
static int half_close(struct conn *c, int i)
{
	struct dir *d = &c->d[i];

	if (d->eof && !d->inpipe && d->off >= d->len && !d->shut) {
		d->shut_wait = side_shut_wr(c, !i) < 0;
		d->shut = !d->shut_wait;
	}
	return 0;
}

/*
 * Direction i without a pipe: read a chunk, send what the other side
 * takes, keep the rest in the direction's buffer (sent first next time;
 * nothing more is read until it is gone, so at most COPY_CHUNK waits).
 * Reading goes on until the source has nothing: a TLS client's bytes
 * already inside OpenSSL would not wake epoll.
 */
static int copy(struct conn *c, int i)
{
	struct dir *d = &c->d[i];
	uint8_t b[COPY_CHUNK];

	while (!d->eof && d->off >= d->len) {
		ssize_t n = side_recv(c, i, b, sizeof(b)), w;

		if (n == 0) {
			d->eof = true;
			break;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->last_ms = proxy_now_ms();
		w = side_send(c, !i, b, (size_t)n);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (w < 0)
			w = 0;
		d->bytes += (size_t)w;
		if (w < n && relay_append(d, b + w, (size_t)(n - w)) < 0)
			return -1;
	}
	return half_close(c, i);
}

/* Move what can move in direction i without blocking: 0 or -1 (closed). */
static int pump(struct conn *c, int i)
{
	struct dir *d = &c->d[i];
	int src = c->fd[i], dst = c->fd[!i];

	while (d->off < d->len) {
		ssize_t n = side_send(c, !i, d->buf + d->off, d->len - d->off);

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
	if (i == 0 && (c->peeking || c->parent_wait))
		return 0;
	if (i == 1 && c->parent_wait) {
		if (parent_answer(c) < 0)
			return -1;
		if (c->parent_wait)
			return 0;
	}
	if (i == 1 && c->via_parent && !c->parent_seen)
		parent_status(c);
	if (!d->inpipe && d->eof)
		return half_close(c, i);
	if (c->ssl || !get_pipe(c->px, d))
		return copy(c, i);
	for (;;) {
		bool moved = false;
		ssize_t n;

		if (d->inpipe) {
			n = splice(d->pipe[0], NULL, dst, NULL, d->inpipe,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				d->inpipe -= (size_t)n;
				d->bytes += (size_t)n;
				c->last_ms = proxy_now_ms();
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
		if (!moved)
			break;
	}
	if (!d->inpipe)
		relay_put_pipe(c->px, d);
	return half_close(c, i);
}

/* After any event: move bytes, then register what each side waits for. */
void relay_flush(struct conn *c)
{
	uint32_t ev[2] = { 0, 0 };

	if (c->st == ST_FAILED) {
		struct dir *d = &c->d[1];

		while (d->off < d->len) {
			ssize_t n = side_send(c, 0, d->buf + d->off, d->len - d->off);

			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				conn_want(c, 0, EPOLLOUT);
				return;
			}
			if (n < 0) {
				conn_close(c, c->close_reason);
				return;
			}
			d->off += (size_t)n;
		}
		if (!d->shut) {
			if (side_shut_wr(c, 0) < 0) {
				conn_want(c, 0, EPOLLOUT);
				return;
			}
			d->shut = true;
		}
		conn_want(c, 0, EPOLLIN); /* drain until EOF or the linger ends */
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
		if (!d->eof && d->off >= d->len && !(i == 0 && c->parent_wait) &&
		    (peeking ? c->peeklen < PROXY_PEEK_MAX
			     : !d->full && (d->pipe[0] < 0 || d->inpipe < d->cap)))
			ev[i] |= EPOLLIN;
		if (d->off < d->len || d->inpipe || d->shut_wait)
			ev[!i] |= EPOLLOUT;
	}
	conn_want(c, 0, ev[0]);
	conn_want(c, 1, ev[1]);
}
