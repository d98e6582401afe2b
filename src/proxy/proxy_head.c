/*
 * proxy_head.c: the request head a client sends the forwarder (RFC 9112).
 *
 *   request-line  method SP target SP "HTTP/1." ("0" | "1") CRLF
 *                 target = authority            (CONNECT host:port, [v6]:port)
 *                        | "http://" authority [ "/" ... ]   (other methods)
 *   headers       *( name ":" OWS value OWS CRLF )   at most PROXY_HEADERS_MAX
 *   end           CRLF                               all within PROXY_HEAD_MAX
 *
 * Strict on purpose: a proxy that reads a head differently from the next
 * hop is how requests are smuggled. Refused with 400: a bare LF or CR, a
 * control byte, a line starting with SP/HT (obs-fold), white space before
 * the colon, an empty or non-token name, a second Host or
 * Proxy-Authorization, Content-Length or Transfer-Encoding on a CONNECT,
 * both of them or a second Content-Length on another method, a
 * Transfer-Encoding other than "chunked", a target that is neither
 * host:port nor http://; 505: another HTTP version; 431: more than
 * PROXY_HEADERS_MAX fields or PROXY_HEAD_MAX bytes. While the bytes seen
 * are a valid prefix: PROXY_HEAD_MORE. Everything in *r borrows buf.
 */
#include <string.h>
#include <strings.h>

#include "dissect/dissect.h"
#include "proxy/proxy.h"
#include "util/cursor.h"

static bool is_tchar(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Bytes allowed in a line: visible ASCII, SP, HT, obs-text. */
static bool is_line_byte(uint8_t ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Every byte so far allowed, every LF after a CR, every CR before an LF
 * (the last byte may be a CR still waiting for its LF). */
static bool prefix_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (i == 0 || p[i - 1] != '\r')
				return false;
		} else if (p[i] == '\r') {
			if (i + 1 < n && p[i + 1] != '\n')
				return false;
		} else if (!is_line_byte(p[i])) {
			return false;
		}
	}
	return true;
}

static bool name_is(const uint8_t *n, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp((const char *)n, want, len) == 0;
}

/* "http://" authority [ path ]: the host to r->req.http_host. */
static int absolute_target(const uint8_t *t, size_t n, struct proxy_request *r)
{
	static const char scheme[] = "http://";
	size_t slen = sizeof(scheme) - 1, hlen;
	const uint8_t *host;

	if (n <= slen || strncasecmp((const char *)t, scheme, slen) != 0)
		return -1;
	host = t + slen;
	for (hlen = 0; slen + hlen < n && host[hlen] != '/' && host[hlen] != '?'; hlen++)
		if (!dissect_is_host_char(host[hlen]) && host[hlen] != ':' && host[hlen] != '[' &&
		    host[hlen] != ']')
			return -1;
	if (hlen == 0 || !facts_set_host(r->req.http_host, &r->req.http_host_len, host, hlen))
		return -1;
	r->req.flags |= FACT_PROXY_GET;
	return 0;
}

/* The request line, without its CRLF. */
static int request_line(const uint8_t *p, size_t n, struct proxy_request *r, const char **why)
{
	const uint8_t *sp1 = memchr(p, ' ', n), *sp2, *ver;
	size_t mlen, tlen, vlen;

	if (!sp1 || sp1 == p)
		return *why = "malformed request line", 400;
	mlen = (size_t)(sp1 - p);
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar(p[i]))
			return *why = "malformed method", 400;
	sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
	if (!sp2 || sp2 == sp1 + 1)
		return *why = "malformed request line", 400;
	tlen = (size_t)(sp2 - sp1 - 1);
	ver = sp2 + 1;
	vlen = n - mlen - tlen - 2;
	if (vlen != 8 || memcmp(ver, "HTTP/1.", 7) != 0)
		return vlen >= 5 && memcmp(ver, "HTTP/", 5) == 0
			   ? (*why = "HTTP version not supported", 505)
			   : (*why = "malformed request line", 400);
	if (ver[7] != '0' && ver[7] != '1')
		return *why = "HTTP version not supported", 505;
	r->minor = (uint8_t)(ver[7] - '0');
	if (mlen == 7 && memcmp(p, "CONNECT", 7) == 0) {
		r->method = PROXY_CONNECT;
		r->req.app = APP_CONNECT;
		if (!dissect_connect_authority(sp1 + 1, tlen, &r->req))
			return *why = "CONNECT target is not host:port", 400;
		return 0;
	}
	r->method = PROXY_ABSOLUTE;
	r->req.app = APP_HTTP;
	if (absolute_target(sp1 + 1, tlen, r) < 0)
		return *why = "not a proxy request", 400;
	return 0;
}

/* Trim OWS around a field value. */
static void trim(const uint8_t **v, size_t *n)
{
	while (*n && (**v == ' ' || **v == '\t'))
		(*v)++, (*n)--;
	while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

int proxy_head_parse(const uint8_t *buf, size_t len, struct proxy_request *r, const char **why)
{
	struct cursor c = cur_make(buf, len), line = cur_make(NULL, 0);
	unsigned nfields = 0, nhost = 0, ncl = 0, nte = 0;
	ptrdiff_t end = cur_find(&c, "\r\n\r\n", 4);
	int rc;

	memset(r, 0, sizeof(*r));
	*why = "";
	if (end < 0 || (size_t)end + 4 > PROXY_HEAD_MAX) {
		size_t seen = len < PROXY_HEAD_MAX ? len : PROXY_HEAD_MAX;

		if (!prefix_ok(buf, seen))
			return *why = "malformed request head", 400;
		if (len >= PROXY_HEAD_MAX)
			return *why = "request head too large", 431;
		return PROXY_HEAD_MORE;
	}
	r->head_len = (size_t)end + 4;
	if (!prefix_ok(buf, r->head_len))
		return *why = "malformed request head", 400;
	c = cur_make(buf, (size_t)end + 2); /* every line with its CRLF */
	cur_sub(&c, (size_t)cur_find(&c, "\r\n", 2), &line);
	cur_skip(&c, 2);
	if ((rc = request_line(cur_ptr(&line), cur_left(&line), r, why)) != 0)
		return rc;
	while (cur_left(&c)) {
		const uint8_t *f, *colon, *v;
		size_t flen, nlen, vlen;

		cur_sub(&c, (size_t)cur_find(&c, "\r\n", 2), &line);
		cur_skip(&c, 2);
		f = cur_ptr(&line);
		flen = cur_left(&line);
		if (++nfields > PROXY_HEADERS_MAX)
			return *why = "too many header fields", 431;
		if (f[0] == ' ' || f[0] == '\t')
			return *why = "obsolete line folding", 400;
		colon = memchr(f, ':', flen);
		if (!colon || colon == f)
			return *why = "malformed header field", 400;
		nlen = (size_t)(colon - f);
		for (size_t i = 0; i < nlen; i++)
			if (!is_tchar(f[i]))
				return *why = "malformed header name", 400;
		v = colon + 1;
		vlen = flen - nlen - 1;
		trim(&v, &vlen);
		if (name_is(f, nlen, "host")) {
			if (++nhost > 1)
				return *why = "duplicate Host", 400;
		} else if (name_is(f, nlen, "content-length")) {
			ncl++;
		} else if (name_is(f, nlen, "transfer-encoding")) {
			if (++nte > 1 || !name_is(v, vlen, "chunked"))
				return *why = "unsupported Transfer-Encoding", 400;
		} else if (name_is(f, nlen, "proxy-authorization")) {
			if (r->auth)
				return *why = "duplicate Proxy-Authorization", 400;
			r->auth = v;
			r->auth_len = vlen;
		}
	}
	if (r->method == PROXY_CONNECT && (ncl || nte))
		return *why = "CONNECT with a body", 400;
	if (ncl > 1 || (ncl && nte))
		return *why = "ambiguous message length", 400;
	return PROXY_HEAD_OK;
}
