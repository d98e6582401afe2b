/*
 * dissect_connect.c: an HTTP/1.x CONNECT tunnel (RFC 9110 9.3.6, RFC 9112),
 * from the request to the first bytes it carries.
 *
 *   client  CONNECT SP authority SP HTTP/1.x CRLF   authority = host ":" port
 *           *( header CRLF ) CRLF                            | "[" IPv6 "]" ":" port
 *           tunnel bytes...
 *   proxy   HTTP/1.x SP status SP reason CRLF *( header CRLF ) CRLF
 *           tunnel bytes...
 *
 * The request line may arrive over several segments: while the bytes seen
 * are a prefix of a plausible request line the answer is need-more. The
 * method is case-sensitive. A bare LF ends a line too (RFC 9112 2.2).
 * A control byte or non-ASCII byte in the line, another method, or no line
 * end within CONNECT_MAX_LINE bytes: not mine. A CONNECT whose authority is
 * not host:port (say "/" or a port out of range) is still a CONNECT, with no
 * target recorded, so no rule can match a host it does not name.
 *
 * Once the request line is whole the flow is a CONNECT (match-more) and the
 * rest only adds facts: the proxy's status once its header is complete, and
 * after a 2xx what the client sends first inside the tunnel: a TLS
 * ClientHello (its SNI is kept; "fronting" when it names another host than
 * the CONNECT target), STUN/TURN (the relay of seed 001 section 7.2), or
 * something else. Headers longer than CONNECT_MAX_HEADER, or a proxy that
 * does not answer in HTTP, end the questions with what is known.
 */
#include <string.h>
#include <strings.h>

#include "dissect/dissect.h"
#include "util/cursor.h"

#define CONNECT_MAX_LINE 4096
#define CONNECT_MAX_HEADER 8192

static const char method[] = "CONNECT ";

/* Decimal port 1..65535, digits only. */
static bool parse_port(const uint8_t *p, size_t n, uint16_t *port)
{
	uint32_t v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* authority -> facts; false leaves the target unset. Shared with the
 * forwarder's request parser (proxy_head.c). */
bool dissect_connect_authority(const uint8_t *a, size_t n, struct dpix_facts *facts)
{
	const uint8_t *host = a;
	size_t hlen, i;
	uint16_t port;

	if (n > 0 && a[0] == '[') {
		for (i = 1; i < n && a[i] != ']'; i++)
			if (!dissect_is_ipv6_char(a[i]))
				return false;
		if (i >= n || i == 1 || i + 1 >= n || a[i + 1] != ':')
			return false;
		host = a + 1;
		hlen = i - 1;
		if (!parse_port(a + i + 2, n - i - 2, &port))
			return false;
	} else {
		const uint8_t *colon = NULL;

		for (i = 0; i < n; i++)
			if (a[i] == ':')
				colon = a + i;
		if (!colon)
			return false;
		hlen = (size_t)(colon - a);
		for (i = 0; i < hlen; i++)
			if (!dissect_is_host_char(a[i]))
				return false;
		if (!parse_port(colon + 1, n - hlen - 1, &port))
			return false;
	}
	if (!facts_set_host(facts->connect_host, &facts->connect_host_len, host, hlen))
		return false;
	facts->connect_port = port;
	return true;
}

/* The request line: match once it is whole and names a CONNECT. */
static enum dpix_answer request_line(const struct dpix_input *in, struct dpix_facts *facts)
{
	struct cursor c = cur_make(in->data[0], in->len[0]);
	size_t n = cur_left(&c), mlen = sizeof(method) - 1, end, sp;
	const uint8_t *line = cur_ptr(&c);

	if (n == 0)
		return DPIX_NEED_MORE; /* the server may speak first */
	if (memcmp(line, method, n < mlen ? n : mlen) != 0)
		return DPIX_NOT_MINE;
	for (end = 0; end < n && end < CONNECT_MAX_LINE && line[end] != '\n'; end++)
		if ((line[end] < 0x20 && line[end] != '\r') || line[end] >= 0x7f)
			return DPIX_NOT_MINE;
	if (end == n)
		return n >= CONNECT_MAX_LINE ? DPIX_NOT_MINE : DPIX_NEED_MORE;
	if (end == CONNECT_MAX_LINE)
		return DPIX_NOT_MINE;
	if (end > 0 && line[end - 1] == '\r')
		end--;
	/* "CONNECT " target " HTTP/1.x": the version is the last 8 bytes. */
	if (end < mlen + 1 + 9 || memcmp(line + end - 9, " HTTP/1.", 8) != 0 ||
	    (line[end - 1] != '0' && line[end - 1] != '1'))
		return DPIX_NOT_MINE;
	sp = end - 9;
	facts->connect_host_len = 0;
	facts->connect_port = 0;
	dissect_connect_authority(line + mlen, sp - mlen, facts);
	return DPIX_MATCH;
}

/* Offset just past the blank line ending a header block, or 0 if not yet. */
static size_t header_end(const uint8_t *p, size_t n)
{
	size_t lim = n < CONNECT_MAX_HEADER ? n : CONNECT_MAX_HEADER;

	for (size_t i = 1; i < lim; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

/* The proxy's status line "HTTP/1.x NNN": need-more while it may still be
 * one, not-mine if it cannot be, match with the status set. */
static enum dpix_answer status_line(const uint8_t *p, size_t n, uint16_t *status)
{
	static const char v[] = "HTTP/1.";
	size_t vlen = sizeof(v) - 1;

	if (memcmp(p ? (const char *)p : v, v, n < vlen ? n : vlen) != 0)
		return DPIX_NOT_MINE;
	if (n < 13)
		return DPIX_NEED_MORE;
	if ((p[7] != '0' && p[7] != '1') || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
		return DPIX_NOT_MINE;
	*status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	return DPIX_MATCH;
}

static bool same_host(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen && a[alen - 1] == '.')
		alen--;
	if (blen && b[blen - 1] == '.')
		blen--;
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* Dissectors that may speak inside a tunnel, tried in this order. */
static const struct dissector *const tunnel_probes[] = { &dissect_tls, &dissect_stun,
							 &dissect_http };

/* What the tunnel carries, from each side's first bytes after the headers. */
static enum dpix_answer tunnel(const struct dpix_input *in, size_t req_end, size_t rsp_end,
			       struct dpix_facts *facts)
{
	struct dpix_input sub = *in;
	bool waiting = false;

	sub.data[0] = in->data[0] + req_end;
	sub.len[0] = in->len[0] - req_end;
	sub.data[1] = in->data[1] + rsp_end;
	sub.len[1] = in->len[1] - rsp_end;
	sub.midstream = false; /* the tunnel's first bytes are right there */
	/* The window left after the request header bounds what can arrive. */
	sub.scratch_len = in->scratch_len > req_end ? in->scratch_len - req_end : 0;
	for (size_t i = 0; i < sizeof(tunnel_probes) / sizeof(tunnel_probes[0]); i++) {
		struct dpix_facts inner = { 0 };
		enum dpix_answer a = tunnel_probes[i]->probe(&sub, &inner);

		if (a == DPIX_NEED_MORE)
			waiting = true;
		if (a != DPIX_MATCH && a != DPIX_MATCH_MORE)
			continue;
		if (tunnel_probes[i]->app == APP_TLS) {
			facts->tunnel = TUNNEL_TLS;
			memcpy(facts->sni, inner.sni, sizeof(facts->sni));
			facts->sni_len = inner.sni_len;
			memcpy(facts->alpn, inner.alpn, sizeof(facts->alpn));
			memcpy(facts->ja4, inner.ja4, sizeof(facts->ja4));
			facts->tls_version = inner.tls_version;
			facts->flags |= inner.flags & FACT_ECH;
			if (inner.sni_len &&
			    !same_host(inner.sni, inner.sni_len, facts->connect_host,
				       facts->connect_host_len))
				facts->flags |= FACT_FRONTING;
		} else if (tunnel_probes[i]->app == APP_STUN) {
			facts->tunnel = TUNNEL_TURN;
			facts->stun_method = inner.stun_method;
			facts->flags |= inner.flags & (FACT_STUN | FACT_TURN);
		} else {
			facts->tunnel = inner.app == APP_WEBSOCKET ? TUNNEL_WEBSOCKET : TUNNEL_HTTP;
			memcpy(facts->http_host, inner.http_host, sizeof(facts->http_host));
			facts->http_host_len = inner.http_host_len;
			facts->flags |= inner.flags & FACT_WS_ACCEPT_OK;
		}
		/* A hello still coming: its SNI may follow. */
		return a == DPIX_MATCH_MORE && !sub.closed[0] ? DPIX_MATCH_MORE : DPIX_MATCH;
	}
	if (waiting && !sub.closed[0] && sub.scratch_len > 0)
		return DPIX_MATCH_MORE;
	facts->tunnel = sub.len[0] ? TUNNEL_UNKNOWN : TUNNEL_NONE;
	return DPIX_MATCH;
}

enum dpix_answer dissect_connect_tunnel(const struct dpix_input *in, struct dpix_facts *facts)
{
	static const uint8_t none[1];
	struct dpix_input client = *in;

	/* No bytes may come as a null pointer: offsets are added to it. */
	if (!client.data[0])
		client.data[0] = none, client.len[0] = 0;
	client.data[1] = none; /* the server's bytes tell nothing here */
	client.len[1] = 0;
	return tunnel(&client, 0, 0, facts);
}

static enum dpix_answer connect_probe(const struct dpix_input *in, struct dpix_facts *facts)
{
	enum dpix_answer a = request_line(in, facts);
	size_t req_end, rsp_end;

	if (a != DPIX_MATCH)
		return a;
	facts->connect_status = 0;
	facts->tunnel = TUNNEL_NONE;
	facts->sni_len = 0;
	facts->http_host_len = 0;
	facts->flags &=
	    (uint8_t) ~(FACT_FRONTING | FACT_ECH | FACT_STUN | FACT_TURN | FACT_WS_ACCEPT_OK);
	req_end = header_end(in->data[0], in->len[0]);
	if (!req_end)
		return in->len[0] >= CONNECT_MAX_HEADER || in->closed[0] ? DPIX_MATCH
									 : DPIX_MATCH_MORE;
	a = status_line(in->data[1], in->len[1], &facts->connect_status);
	if (a == DPIX_NOT_MINE)
		return DPIX_MATCH; /* the other side does not speak HTTP */
	if (a == DPIX_NEED_MORE)
		return in->closed[1] ? DPIX_MATCH : DPIX_MATCH_MORE;
	rsp_end = header_end(in->data[1], in->len[1]);
	if (!rsp_end)
		return in->len[1] >= CONNECT_MAX_HEADER || in->closed[1] ? DPIX_MATCH
									 : DPIX_MATCH_MORE;
	if (facts->connect_status < 200 || facts->connect_status > 299)
		return DPIX_MATCH; /* refused: no tunnel */
	return tunnel(in, req_end, rsp_end, facts);
}

const struct dissector dissect_connect = {
	.name = "connect",
	.app = APP_CONNECT,
	.transports = DPIX_TCP,
	.max_segs = 8,
	.max_bytes = CONNECT_MAX_LINE, /* until the request line matches */
	.probe = connect_probe,
};
