/*
 * dissect_http.c: an HTTP/1.x request header (RFC 9112 2-5), and the
 * WebSocket opening handshake that may ride on it (RFC 6455 4.1, 4.2).
 *
 *   client:  method SP request-target SP "HTTP/1." ("0" | "1") CRLF
 *            *( field-name ":" OWS field-value OWS CRLF )
 *            CRLF
 *   method = GET | HEAD | POST | PUT | DELETE | OPTIONS | PATCH | TRACE
 *
 *   server (WebSocket only):
 *            "HTTP/1.1 101" [ SP reason ] CRLF  *( field-line CRLF )  CRLF
 *
 * A bare LF ends a line too (RFC 9112 2.2). While the client bytes seen are
 * a prefix of a plausible request header the answer is need-more. Not mine:
 * another method (CONNECT has its own dissector), a control or non-ASCII
 * byte in the request line, a field line without a colon, whitespace before
 * the colon or a field name that is not a token, a control byte other than
 * HT in a field value, an obs-fold (a line starting with SP or HT), more
 * than HTTP_MAX_FIELDS field lines, no end of header within HTTP_MAX_HEAD
 * bytes, and two Host fields (a smuggling attempt: two parsers may each
 * trust a different one).
 *
 * Facts: http_host is the Host value without its port; for an absolute-form
 * target (http://host[:port]/..., a proxy request) it is that authority
 * instead, with FACT_PROXY_GET. A host that is not a plain name or a
 * bracketed IPv6 literal, or an authority with userinfo, is not recorded:
 * no rule can match a host the request does not clearly name.
 *
 * A GET over HTTP/1.1 with Upgrade: websocket, Connection: upgrade, one
 * Sec-WebSocket-Version: 13 and one Sec-WebSocket-Key that decodes to 16
 * bytes is a WebSocket handshake: app websocket, match-more until the
 * server's response header is complete (or the server side closes). A 101
 * with Upgrade: websocket, Connection: upgrade and one Sec-WebSocket-Accept
 * equal to base64(SHA-1(key GUID)) sets FACT_WS_ACCEPT_OK; any other
 * response, a malformed one or one longer than HTTP_MAX_HEAD, is a match
 * without it. Any other Upgrade (h2c) is plain HTTP.
 */
#include <string.h>

#include <openssl/sha.h>

#include "dissect/dissect.h"
#include "util/cursor.h"

#define HTTP_MAX_HEAD 8192 /* request line + fields + empty line */
#define HTTP_MAX_FIELDS 100

#define WS_KEY_B64_LEN 24 /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28  /* base64 of a 20-byte SHA-1 */

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum method { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_OPTIONS, M_PATCH, M_TRACE, M_COUNT };

static const char *const methods[M_COUNT] = {
	"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ",
};

static const char connect_method[] = "CONNECT ";

/* What a header says, as far as this dissector cares. */
struct span {
	const uint8_t *p;
	size_t len;
};

struct head {
	unsigned host_count, key_count, version_count, accept_count;
	struct span host, key, version, accept;
	bool upgrade_ws;   /* Upgrade lists the token "websocket" */
	bool conn_upgrade; /* Connection lists the token "upgrade" */
};

enum scan { SCAN_DONE, SCAN_PARTIAL, SCAN_BAD };

/* tchar of RFC 9110 5.6.2. */
static bool is_tchar(uint8_t ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static uint8_t lower(uint8_t ch)
{
	return ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + ('a' - 'A')) : ch;
}

/* ASCII case-insensitive equality of a span and a C string. */
static bool span_ieq(const uint8_t *p, size_t n, const char *s)
{
	size_t slen = strlen(s);

	if (n != slen)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != lower((uint8_t)s[i]))
			return false;
	return true;
}

static bool is_ows(uint8_t ch)
{
	return ch == ' ' || ch == '\t';
}

static struct span trim_ows(const uint8_t *p, size_t n)
{
	struct span s;

	while (n > 0 && is_ows(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_ows(p[n - 1]))
		n--;
	s.p = p;
	s.len = n;
	return s;
}

/* Does a comma list ( #token ) hold tok, compared case-insensitively? */
static bool list_has_token(const uint8_t *p, size_t n, const char *tok)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == ',') {
			struct span t = trim_ows(p + start, i - start);

			if (span_ieq(t.p, t.len, tok))
				return true;
			start = i + 1;
		}
	}
	return false;
}

/*
 * host [":" port] or "[" IPv6 "]" [":" port] -> http_host without the
 * port. Anything else leaves http_host unset.
 */
static void set_host(const uint8_t *a, size_t n, struct dpix_facts *facts)
{
	const uint8_t *host = a;
	size_t hlen, i, port_at;

	if (n > 0 && a[0] == '[') {
		for (i = 1; i < n && a[i] != ']'; i++)
			if (!dissect_is_ipv6_char(a[i]))
				return;
		if (i >= n || i == 1)
			return;
		host = a + 1;
		hlen = i - 1;
		port_at = i + 1;
	} else {
		for (i = 0; i < n && a[i] != ':'; i++)
			if (!dissect_is_host_char(a[i]))
				return;
		hlen = i;
		port_at = i;
	}
	if (port_at < n) {
		if (a[port_at] != ':' || n - port_at - 1 > 5)
			return;
		for (i = port_at + 1; i < n; i++)
			if (a[i] < '0' || a[i] > '9')
				return;
	}
	facts_set_host(facts->http_host, &facts->http_host_len, host, hlen);
}

/* http://authority[/?#...] -> FACT_PROXY_GET and http_host. */
static void absolute_target(const uint8_t *t, size_t n, struct dpix_facts *facts)
{
	static const char scheme[] = "http://";
	size_t slen = sizeof(scheme) - 1, end;

	if (n < slen || !span_ieq(t, slen, scheme))
		return;
	facts->flags |= FACT_PROXY_GET;
	for (end = slen; end < n && t[end] != '/' && t[end] != '?' && t[end] != '#'; end++)
		if (t[end] == '@')
			return; /* userinfo: treated as an error (RFC 9110 4.2.4) */
	set_host(t + slen, end - slen, facts);
}

/*
 * Check a request line, whole (complete) or a prefix of one, without its
 * line end. On a complete valid line *m, *target and *v11 are set.
 */
static enum dpix_answer request_line(const uint8_t *p, size_t n, bool complete, enum method *m,
				     struct span *target, bool *v11)
{
	static const char version[] = "HTTP/1.";
	size_t vlen = sizeof(version) - 1, mlen = 0, i, sp, left;
	int found = -1;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return DPIX_NOT_MINE;
	for (int k = 0; k < M_COUNT && found < 0; k++) {
		size_t l = strlen(methods[k]);

		if (memcmp(p, methods[k], n < l ? n : l) == 0) {
			if (n < l)
				return complete ? DPIX_NOT_MINE : DPIX_NEED_MORE;
			found = k;
			mlen = l;
		}
	}
	if (found < 0)
		return DPIX_NOT_MINE; /* CONNECT included: not this dissector's */
	/* request-target: visible ASCII up to the next SP, never empty. */
	for (sp = mlen; sp < n && p[sp] != ' '; sp++)
		;
	if (sp == n)
		return complete ? DPIX_NOT_MINE : DPIX_NEED_MORE;
	if (sp == mlen)
		return DPIX_NOT_MINE;
	left = n - sp - 1;
	if (left > vlen + 1 || memcmp(p + sp + 1, version, left < vlen ? left : vlen) != 0)
		return DPIX_NOT_MINE;
	if (left == vlen + 1 && p[n - 1] != '0' && p[n - 1] != '1')
		return DPIX_NOT_MINE;
	if (left < vlen + 1)
		return complete ? DPIX_NOT_MINE : DPIX_NEED_MORE;
	*m = (enum method)found;
	target->p = p + mlen;
	target->len = sp - mlen;
	*v11 = p[n - 1] == '1';
	return DPIX_MATCH;
}

/* A field line, whole (complete) or a prefix, without its line end. */
static bool field_line_ok(const uint8_t *p, size_t n, bool complete, size_t *colon)
{
	size_t i;

	if (n > 0 && is_ows(p[0]))
		return false; /* obs-fold, or whitespace before a name */
	for (i = 0; i < n && p[i] != ':'; i++)
		if (!is_tchar(p[i]))
			return false; /* includes whitespace before the colon */
	if (i == n)
		return !complete;
	if (i == 0)
		return false;
	*colon = i;
	for (i++; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return false;
	return true;
}

static void note_field(const uint8_t *name, size_t nlen, struct span v, struct head *h)
{
	if (span_ieq(name, nlen, "host")) {
		h->host_count++;
		h->host = v;
	} else if (span_ieq(name, nlen, "upgrade")) {
		if (list_has_token(v.p, v.len, "websocket"))
			h->upgrade_ws = true;
	} else if (span_ieq(name, nlen, "connection")) {
		if (list_has_token(v.p, v.len, "upgrade"))
			h->conn_upgrade = true;
	} else if (span_ieq(name, nlen, "sec-websocket-key")) {
		h->key_count++;
		h->key = v;
	} else if (span_ieq(name, nlen, "sec-websocket-version")) {
		h->version_count++;
		h->version = v;
	} else if (span_ieq(name, nlen, "sec-websocket-accept")) {
		h->accept_count++;
		h->accept = v;
	}
}

/* Strip the line end (LF, or CRLF) off a line cut at its LF. */
static size_t line_body(const uint8_t *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

/*
 * Read the field lines after the start line, up to and including the empty
 * line. c is already cut at HTTP_MAX_HEAD bytes from the start of the
 * message. A bare CR inside a line is a control byte: bad.
 */
static enum scan scan_fields(struct cursor *c, struct head *h)
{
	unsigned fields = 0;

	memset(h, 0, sizeof(*h));
	for (;;) {
		ptrdiff_t pos = cur_find(c, "\n", 1);
		struct cursor line;
		const uint8_t *p;
		size_t n, colon = 0;

		if (pos < 0) {
			/* A partial line: a prefix of a valid field or the end. */
			p = cur_ptr(c);
			n = cur_left(c);
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n == 0)
				return SCAN_PARTIAL;
			if (fields >= HTTP_MAX_FIELDS || !field_line_ok(p, n, false, &colon))
				return SCAN_BAD;
			return SCAN_PARTIAL;
		}
		if (cur_sub(c, (size_t)pos + 1, &line) != 0)
			return SCAN_BAD;
		p = cur_ptr(&line);
		n = line_body(p, cur_left(&line));
		if (n == 0)
			return SCAN_DONE;
		if (++fields > HTTP_MAX_FIELDS || !field_line_ok(p, n, true, &colon))
			return SCAN_BAD;
		note_field(p, colon, trim_ows(p + colon + 1, n - colon - 1), h);
	}
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(uint8_t ch)
{
	const char *hit;

	if (ch == 0)
		return -1;
	hit = strchr(b64_alphabet, ch);
	return hit ? (int)(hit - b64_alphabet) : -1;
}

/*
 * Strict base64 (RFC 4648 4): whole quanta, '=' only as padding at the end.
 * Fails if the result would not fit in cap bytes.
 */
static bool b64_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t o = 0;

	if (n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;

		for (size_t j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[j] = b64_value(in[i + j])) < 0)
				return false;
		}
		uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		size_t take = 3 - pad;

		if (cap - o < take)
			return false;
		out[o++] = (uint8_t)(q >> 16);
		if (take > 1)
			out[o++] = (uint8_t)(q >> 8);
		if (take > 2)
			out[o++] = (uint8_t)q;
	}
	*out_len = o;
	return true;
}

/* base64 with padding; out must hold 4 * ceil(n / 3) bytes. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		size_t take = n - i < 3 ? n - i : 3;
		uint32_t q = (uint32_t)in[i] << 16;

		if (take > 1)
			q |= (uint32_t)in[i + 1] << 8;
		if (take > 2)
			q |= in[i + 2];
		out[o++] = b64_alphabet[q >> 18 & 63];
		out[o++] = b64_alphabet[q >> 12 & 63];
		out[o++] = take > 1 ? b64_alphabet[q >> 6 & 63] : '=';
		out[o++] = take > 2 ? b64_alphabet[q & 63] : '=';
	}
}

static bool ws_request(enum method m, bool v11, const struct head *h)
{
	uint8_t raw[16];
	size_t raw_len;

	if (m != M_GET || !v11 || !h->upgrade_ws || !h->conn_upgrade)
		return false;
	if (h->version_count != 1 || !span_ieq(h->version.p, h->version.len, "13"))
		return false;
	if (h->key_count != 1 || h->key.len != WS_KEY_B64_LEN)
		return false;
	return b64_decode(h->key.p, h->key.len, raw, sizeof(raw), &raw_len) &&
	       raw_len == sizeof(raw);
}

/* Does accept equal base64(SHA-1(key GUID))? key is WS_KEY_B64_LEN long. */
static bool ws_accept_ok(struct span key, struct span accept)
{
	uint8_t buf[WS_KEY_B64_LEN + sizeof(ws_guid) - 1];
	uint8_t md[SHA_DIGEST_LENGTH];
	char want[WS_ACCEPT_LEN];

	if (key.len != WS_KEY_B64_LEN || accept.len != WS_ACCEPT_LEN)
		return false;
	memcpy(buf, key.p, WS_KEY_B64_LEN);
	memcpy(buf + WS_KEY_B64_LEN, ws_guid, sizeof(ws_guid) - 1);
	SHA1(buf, sizeof(buf), md);
	b64_encode(md, sizeof(md), want);
	return memcmp(want, accept.p, WS_ACCEPT_LEN) == 0;
}

/*
 * The server's answer to a WebSocket handshake. Match-more while its header
 * may still complete; otherwise a match, with FACT_WS_ACCEPT_OK if the 101
 * is right.
 */
static enum dpix_answer ws_response(const struct dpix_input *in, struct span key,
				    struct dpix_facts *facts)
{
	static const char status[] = "HTTP/1.1 101";
	size_t slen = sizeof(status) - 1, total = in->len[1], n;
	struct cursor c = cur_make(in->data[1], total < HTTP_MAX_HEAD ? total : HTTP_MAX_HEAD);
	bool can_grow = !in->closed[1] && total < HTTP_MAX_HEAD;
	struct cursor line;
	struct head h;
	ptrdiff_t pos = cur_find(&c, "\n", 1);
	const uint8_t *p;

	if (pos < 0) {
		n = cur_left(&c);
		p = cur_ptr(&c);
		if (can_grow && (n == 0 || memcmp(p, status, n < slen ? n : slen) == 0))
			return DPIX_MATCH_MORE;
		return DPIX_MATCH;
	}
	if (cur_sub(&c, (size_t)pos + 1, &line) != 0)
		return DPIX_MATCH;
	p = cur_ptr(&line);
	n = line_body(p, cur_left(&line));
	if (n < slen || memcmp(p, status, slen) != 0 || (n > slen && p[slen] != ' '))
		return DPIX_MATCH;
	switch (scan_fields(&c, &h)) {
	case SCAN_PARTIAL:
		return can_grow ? DPIX_MATCH_MORE : DPIX_MATCH;
	case SCAN_BAD:
		return DPIX_MATCH;
	case SCAN_DONE:
		break;
	}
	if (h.upgrade_ws && h.conn_upgrade && h.accept_count == 1 && ws_accept_ok(key, h.accept))
		facts->flags |= FACT_WS_ACCEPT_OK;
	return DPIX_MATCH;
}

static enum dpix_answer http_probe(const struct dpix_input *in, struct dpix_facts *facts)
{
	size_t total = in->len[0], n, clen = sizeof(connect_method) - 1;
	struct cursor c = cur_make(in->data[0], total < HTTP_MAX_HEAD ? total : HTTP_MAX_HEAD);
	struct cursor line;
	enum dpix_answer a;
	enum method m = M_GET;
	struct span target = { NULL, 0 };
	bool v11 = false;
	struct head h;
	ptrdiff_t pos;
	const uint8_t *p;

	if (total == 0)
		return DPIX_NEED_MORE; /* the server may speak first */
	p = cur_ptr(&c);
	if (memcmp(p, connect_method, total < clen ? total : clen) == 0)
		return DPIX_NOT_MINE; /* dissect_connect's, even as a prefix */
	pos = cur_find(&c, "\n", 1);
	if (pos < 0) {
		n = cur_left(&c);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		a = request_line(p, n, false, &m, &target, &v11);
		if (a == DPIX_NOT_MINE || total >= HTTP_MAX_HEAD)
			return DPIX_NOT_MINE;
		return DPIX_NEED_MORE;
	}
	if (cur_sub(&c, (size_t)pos + 1, &line) != 0)
		return DPIX_NOT_MINE;
	if (request_line(cur_ptr(&line), line_body(cur_ptr(&line), cur_left(&line)), true, &m,
			 &target, &v11) != DPIX_MATCH)
		return DPIX_NOT_MINE;
	switch (scan_fields(&c, &h)) {
	case SCAN_PARTIAL:
		return total >= HTTP_MAX_HEAD ? DPIX_NOT_MINE : DPIX_NEED_MORE;
	case SCAN_BAD:
		return DPIX_NOT_MINE;
	case SCAN_DONE:
		break;
	}
	if (h.host_count > 1)
		return DPIX_NOT_MINE;

	/* Facts are worked out afresh on every call, from the bytes alone. */
	facts->http_host_len = 0;
	facts->http_host[0] = '\0';
	facts->flags &= (uint8_t) ~(FACT_PROXY_GET | FACT_WS_ACCEPT_OK);
	absolute_target(target.p, target.len, facts);
	if (!(facts->flags & FACT_PROXY_GET) && h.host_count == 1)
		set_host(h.host.p, h.host.len, facts);
	if (!ws_request(m, v11, &h)) {
		facts->app = APP_HTTP;
		return DPIX_MATCH;
	}
	facts->app = APP_WEBSOCKET;
	return ws_response(in, h.key, facts);
}

const struct dissector dissect_http = {
	.name = "http",
	.app = APP_HTTP,
	.transports = DPIX_TCP,
	.max_segs = 8,
	.max_bytes = 8192,
	.probe = http_probe,
};
