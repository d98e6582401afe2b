/*
 * dissect_connect.c: an HTTP/1.x CONNECT request line (RFC 9110 9.3.6,
 * RFC 9112 3).
 *
 *   CONNECT SP authority SP HTTP/1.x CRLF      authority = host ":" port
 *                                                        | "[" IPv6 "]" ":" port
 *
 * The request line may arrive over several segments: while the bytes seen
 * are a prefix of a plausible request line the answer is need-more. The
 * method is case-sensitive. A bare LF ends the line too (RFC 9112 2.2).
 * A control byte or non-ASCII byte in the line, another method, or no line
 * end within CONNECT_MAX_LINE bytes: not mine. A CONNECT whose authority is
 * not host:port (say "/" or a port out of range) is still a CONNECT, with no
 * target recorded, so no rule can match a host it does not name.
 */
#include <string.h>

#include "dissect/dissect.h"
#include "util/cursor.h"

#define CONNECT_MAX_LINE 4096

static const char method[] = "CONNECT ";

static bool is_host_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

static bool is_ipv6_char(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
	       ch == ':' || ch == '.';
}

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

/* authority -> facts; false leaves the target unset. */
static bool parse_authority(const uint8_t *a, size_t n, struct flow_facts *facts)
{
	const uint8_t *host = a;
	size_t hlen, i;
	uint16_t port;

	if (n > 0 && a[0] == '[') {
		for (i = 1; i < n && a[i] != ']'; i++)
			if (!is_ipv6_char(a[i]))
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
			if (!is_host_char(a[i]))
				return false;
		if (!parse_port(colon + 1, n - hlen - 1, &port))
			return false;
	}
	if (!facts_set_host(facts->connect_host, &facts->connect_host_len, host, hlen))
		return false;
	facts->connect_port = port;
	return true;
}

static enum dissect_answer connect_probe(const struct dissect_input *in, struct flow_facts *facts)
{
	struct cursor c = cur_make(in->data[0], in->len[0]);
	size_t n = cur_left(&c), mlen = sizeof(method) - 1, end, sp;
	const uint8_t *line = cur_ptr(&c);

	if (n == 0)
		return DISSECT_NEED_MORE; /* the server may speak first */
	if (memcmp(line, method, n < mlen ? n : mlen) != 0)
		return DISSECT_NOT_MINE;
	for (end = 0; end < n && end < CONNECT_MAX_LINE && line[end] != '\n'; end++)
		if ((line[end] < 0x20 && line[end] != '\r') || line[end] >= 0x7f)
			return DISSECT_NOT_MINE;
	if (end == n)
		return n >= CONNECT_MAX_LINE ? DISSECT_NOT_MINE : DISSECT_NEED_MORE;
	if (end == CONNECT_MAX_LINE)
		return DISSECT_NOT_MINE;
	if (end > 0 && line[end - 1] == '\r')
		end--;
	/* "CONNECT " target " HTTP/1.x": the version is the last 8 bytes. */
	if (end < mlen + 1 + 9 || memcmp(line + end - 9, " HTTP/1.", 8) != 0 ||
	    (line[end - 1] != '0' && line[end - 1] != '1'))
		return DISSECT_NOT_MINE;
	sp = end - 9;
	facts->connect_host_len = 0;
	facts->connect_port = 0;
	parse_authority(line + mlen, sp - mlen, facts);
	return DISSECT_MATCH;
}

const struct dissector dissect_connect = {
	.name = "connect",
	.app = APP_CONNECT,
	.transports = DISSECT_TCP,
	.max_segs = 8,
	.max_bytes = CONNECT_MAX_LINE,
	.probe = connect_probe,
};
