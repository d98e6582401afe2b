/*
 * sip.c: a dpix plugin recognizing SIP (RFC 3261), in clear over UDP and
 * TCP, and over TLS to port 5061: the Rainbow Hub SIP desk phones talk SIP
 * over TLS TCP/5061 to the Rainbow Cloud PBX (seed 001, section 4.7).
 *
 *   request line  Method SP Request-URI SP "SIP/2.0" CRLF     (RFC 3261 7.1)
 *                 Method: a method token this file knows (below)
 *                 Request-URI: "sip:" / "sips:" (any case) then printable
 *                 non-space bytes, [userinfo "@"] host [":" port] [;params]
 *   status line   "SIP/2.0" SP 3DIGIT SP                      (RFC 3261 7.2)
 *                 first digit 1 to 6; the reason phrase is not read
 *   over TLS      TCP, server port 5061, the client's first bytes a TLS
 *                 ClientHello, parsed by the host (host->tls_client_hello):
 *                 the SNI, ALPN and JA4 are kept as for any TLS flow
 *
 * The start line is all that is read. Over TCP (the client's stream) a
 * valid prefix of it is need-more; over UDP each datagram is a whole
 * message, so a start line cut short is not SIP. Any byte that cannot
 * continue a start line is not-mine at once; a Request-URI longer than
 * SIP_URI_MAX is not-mine (no one sends a 64 KiB one); a ClientHello to another port than 5061 is left to the
 * TLS dissector. On a request, the Request-URI's host (IPv6 literals
 * without brackets) goes to the host's set_host (events say
 * "sip":{"host":...}); one that is not a plain name is left out.
 *
 * Reads go through a cursor local to this file: plugins are built against
 * include/dpix/plugin.h alone, so dpix's src/util/cursor.h is not theirs.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dpix/plugin.h"

#define SIP_TLS_PORT 5061
#define SIP_URI_MAX 2048 /* longest Request-URI we wait for */
#define TLS_HANDSHAKE 0x16

static const struct dpix_host *host;

/* --- a bounds-checked reader over untrusted bytes ------------------------ */

struct rd {
	const uint8_t *p;
	size_t len;
};

static bool rd_byte(struct rd *r, uint8_t *b)
{
	if (r->len == 0)
		return false;
	*b = r->p[0];
	r->p++;
	r->len--;
	return true;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 'a' - 'A') : c;
}

/*
 * Match the literal s at r: 1 when it is all there (r moves past it), 0 when
 * the bytes run out on a prefix of it (r at its end), -1 on a byte that
 * differs. fold: compare without case.
 */
static int rd_lit(struct rd *r, const char *s, bool fold)
{
	for (; *s; s++) {
		uint8_t b;

		if (!rd_byte(r, &b))
			return 0;
		if ((fold ? lower(b) : b) != (uint8_t)*s)
			return -1;
	}
	return 1;
}

/* --- the start line ------------------------------------------------------ */

/* Methods of RFC 3261 and the extensions phones send (3262, 3265, 3311,
 * 3428, 3515, 3903, 6086). */
static const char *const methods[] = {
	"INVITE",    "ACK",    "BYE",	  "CANCEL", "REGISTER", "OPTIONS", "PRACK",
	"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO",   "REFER",	"MESSAGE", "UPDATE",
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))
#define TOKEN_MAX 9 /* "SUBSCRIBE" */

/* What a short input means: a TCP stream may still grow, a datagram not. */
static enum dpix_answer short_answer(const struct dpix_input *in)
{
	return in->transport == DPIX_TCP && !in->closed[0] ? DPIX_NEED_MORE : DPIX_NOT_MINE;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* "SIP/2.0" and its SP have been read: 3DIGIT SP. */
static enum dpix_answer status_line(const struct dpix_input *in, struct rd r)
{
	uint8_t b;

	for (int i = 0; i < 4; i++) {
		if (!rd_byte(&r, &b))
			return short_answer(in);
		if (i == 3 ? b != ' ' : !is_digit(b) || (i == 0 && (b < '1' || b > '6')))
			return DPIX_NOT_MINE;
	}
	return DPIX_MATCH;
}

/* The host part of a SIP URI (RFC 3261 19.1.1), after "sip:"/"sips:" and
 * before the SP that ends the Request-URI. */
static void uri_host(struct dpix_facts *facts, const uint8_t *u, size_t n)
{
	size_t start = 0, end;

	for (size_t i = 0; i < n && u[i] != ';' && u[i] != '?'; i++)
		if (u[i] == '@')
			start = i + 1;
	u += start;
	n -= start;
	if (n > 0 && u[0] == '[') {
		for (end = 1; end < n && u[end] != ']'; end++)
			;
		if (end < n)
			host->set_host(facts, (const char *)u + 1, end - 1);
		return;
	}
	for (end = 0; end < n && u[end] != ':' && u[end] != ';' && u[end] != '?'; end++)
		;
	host->set_host(facts, (const char *)u, end);
}

/* A method and its SP have been read: Request-URI SP "SIP/2.0" CRLF. */
static enum dpix_answer request_line(const struct dpix_input *in, struct rd r,
				     struct dpix_facts *facts)
{
	const uint8_t *uri;
	size_t ulen = 0;
	uint8_t b;
	int m;

	m = rd_lit(&r, "sip", true);
	if (m <= 0)
		return m < 0 ? DPIX_NOT_MINE : short_answer(in);
	if (!rd_byte(&r, &b))
		return short_answer(in);
	if (lower(b) == 's' && !rd_byte(&r, &b))
		return short_answer(in);
	if (b != ':')
		return DPIX_NOT_MINE;
	uri = r.p;
	for (;;) {
		if (!rd_byte(&r, &b))
			return short_answer(in);
		if (b == ' ')
			break;
		if (b < 0x21 || b > 0x7e || ++ulen > SIP_URI_MAX)
			return DPIX_NOT_MINE;
	}
	if (ulen == 0)
		return DPIX_NOT_MINE;
	m = rd_lit(&r, "SIP/2.0\r\n", false);
	if (m <= 0)
		return m < 0 ? DPIX_NOT_MINE : short_answer(in);
	uri_host(facts, uri, ulen);
	return DPIX_MATCH;
}

/* Method or "SIP/2.0" up to the first SP. */
static enum dpix_answer start_line(const struct dpix_input *in, const uint8_t *p, size_t n,
				   struct dpix_facts *facts)
{
	struct rd r = { p, n };
	char tok[TOKEN_MAX + 1];
	size_t len = 0;
	uint8_t b;

	for (;;) {
		if (!rd_byte(&r, &b)) {
			/* Cut inside the first word: a prefix of one we know? */
			for (size_t i = 0; i < NMETHODS; i++)
				if (!strncmp(methods[i], tok, len))
					return short_answer(in);
			return !strncmp("SIP/2.0", tok, len) ? short_answer(in) : DPIX_NOT_MINE;
		}
		if (b == ' ')
			break;
		if (len == TOKEN_MAX ||
		    !((b >= 'A' && b <= 'Z') || b == '/' || b == '.' || is_digit(b)))
			return DPIX_NOT_MINE;
		tok[len++] = (char)b;
	}
	tok[len] = '\0';
	if (!strcmp(tok, "SIP/2.0"))
		return status_line(in, r);
	for (size_t i = 0; i < NMETHODS; i++)
		if (!strcmp(methods[i], tok))
			return request_line(in, r, facts);
	return DPIX_NOT_MINE;
}

static enum dpix_answer sip_probe(const struct dpix_input *in, struct dpix_facts *facts)
{
	/* UDP: the newest datagram, either way; TCP: the client's stream. */
	uint8_t d = in->transport == DPIX_UDP ? in->dir : 0;
	const uint8_t *p = in->data[d];
	size_t n = in->len[d];

	if (n == 0)
		return short_answer(in);
	if (p[0] == TLS_HANDSHAKE) {
		if (in->transport != DPIX_TCP || in->server_port != SIP_TLS_PORT)
			return DPIX_NOT_MINE;
		return host->tls_client_hello(in, facts);
	}
	return start_line(in, p, n, facts);
}

/* --- the plugin ---------------------------------------------------------- */

static const struct dpix_dissector sip_dissector = {
	.size = sizeof(struct dpix_dissector),
	.name = "sip",
	.app = "sip",
	.transports = DPIX_TCP | DPIX_UDP,
	.max_segs = 16,
	.max_bytes = 16384 + 5 * 4, /* a ClientHello as big as one record, in records */
	.probe = sip_probe,
};

static int sip_init(const struct dpix_host *h)
{
	if (!DPIX_HOST_HAS(h, tls_client_hello) || !DPIX_HOST_HAS(h, set_host)) {
		if (DPIX_HOST_HAS(h, log))
			h->log(DPIX_LOG_ERR, "this dpix lacks the TLS parser or set_host");
		return -1;
	}
	host = h;
	return h->register_dissector(&sip_dissector);
}

static const struct dpix_plugin sip_plugin = {
	DPIX_PLUGIN_INIT_HEADER,
	.name = "sip",
	.version = "1.0",
	.init = sip_init,
};

const struct dpix_plugin *dpix_plugin_register(void)
{
	return &sip_plugin;
}
