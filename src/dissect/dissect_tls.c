/*
 * dissect_tls.c: a TLS ClientHello and its server_name (RFC 8446 4.1.2,
 * RFC 6066 3).
 *
 *   record     type[1]=22 version[2]=3.x length[2] fragment[length]
 *   handshake  type[1]=1 length[3] body[length]   (may span records and
 *                                                  TCP segments)
 *   body       version[2] random[32] session_id<0..32> cipher_suites<2..2^16-2>
 *              compression<1..2^8-1> [extensions<0..2^16-1>]
 *   extension  type[2] length[2] data[length]
 *   SNI (0)    list<1..2^16-1>: name_type[1] name<1..2^16-1>
 *
 * A record header that is not handshake/3.x, a handshake that is not a
 * ClientHello (an SSLv2-style hello included), or any length that disagrees
 * with its container: not mine. A hello cut short: need more. A hello that
 * cannot fit in the stream window (scratch_len) is TLS without an SNI.
 */
#include <string.h>

#include "dissect/dissect.h"
#include "util/cursor.h"

#define TLS_HANDSHAKE 22
#define TLS_CLIENT_HELLO 1
#define TLS_MAX_RECORD (16384 + 2048)
#define TLS_MIN_HELLO 38
#define EXT_SERVER_NAME 0
#define SNI_HOST_NAME 0

/* Record header: 0 ok, else the answer to give. */
static int record_header(struct cursor *c, uint16_t *len, enum dissect_answer *ans)
{
	uint8_t type, major, minor;

	if (cur_u8(c, &type) < 0)
		goto short_;
	if (type != TLS_HANDSHAKE)
		goto not_mine;
	if (cur_u8(c, &major) < 0 || cur_u8(c, &minor) < 0)
		goto short_;
	if (major != 3 || minor > 4)
		goto not_mine;
	if (cur_u16be(c, len) < 0)
		goto short_;
	if (*len == 0 || *len > TLS_MAX_RECORD)
		goto not_mine;
	return 0;
short_:
	*ans = DISSECT_NEED_MORE;
	return -1;
not_mine:
	*ans = DISSECT_NOT_MINE;
	return -1;
}

static bool valid_host(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return false;
	return n > 0;
}

static enum dissect_answer parse_sni(struct cursor ext, struct flow_facts *facts)
{
	struct cursor list, name;
	uint16_t llen, nlen;
	uint8_t type;

	if (cur_u16be(&ext, &llen) < 0 || llen != cur_left(&ext) || cur_sub(&ext, llen, &list) < 0)
		return DISSECT_NOT_MINE;
	while (cur_left(&list)) {
		if (cur_u8(&list, &type) < 0 || cur_u16be(&list, &nlen) < 0 ||
		    cur_sub(&list, nlen, &name) < 0)
			return DISSECT_NOT_MINE;
		if (type == SNI_HOST_NAME && facts->sni_len == 0 &&
		    valid_host(cur_ptr(&name), nlen))
			facts_set_host(facts->sni, &facts->sni_len, cur_ptr(&name), nlen);
	}
	return DISSECT_MATCH;
}

/* The ClientHello body, exactly hlen bytes. */
static enum dissect_answer parse_hello(struct cursor b, struct flow_facts *facts)
{
	struct cursor exts, ext;
	uint8_t major, n8;
	uint16_t n16, type;

	facts->sni_len = 0;
	if (cur_u8(&b, &major) < 0 || major != 3 || cur_skip(&b, 1 + 32) < 0 ||
	    cur_u8(&b, &n8) < 0 || n8 > 32 || cur_skip(&b, n8) < 0 || cur_u16be(&b, &n16) < 0 ||
	    n16 < 2 || (n16 & 1) || cur_skip(&b, n16) < 0 || cur_u8(&b, &n8) < 0 || n8 < 1 ||
	    cur_skip(&b, n8) < 0)
		return DISSECT_NOT_MINE;
	if (cur_left(&b) == 0)
		return DISSECT_MATCH; /* no extensions: legal before TLS 1.2 */
	if (cur_u16be(&b, &n16) < 0 || n16 != cur_left(&b) || cur_sub(&b, n16, &exts) < 0)
		return DISSECT_NOT_MINE;
	while (cur_left(&exts)) {
		if (cur_u16be(&exts, &type) < 0 || cur_u16be(&exts, &n16) < 0 ||
		    cur_sub(&exts, n16, &ext) < 0)
			return DISSECT_NOT_MINE;
		if (type == EXT_SERVER_NAME && parse_sni(ext, facts) != DISSECT_MATCH)
			return DISSECT_NOT_MINE;
	}
	return DISSECT_MATCH;
}

static enum dissect_answer tls_probe(const struct dissect_input *in, struct flow_facts *facts)
{
	struct cursor c = cur_make(in->data[0], in->len[0]), frag, hs;
	enum dissect_answer ans;
	uint16_t rlen;
	uint8_t htype;
	uint32_t hlen;
	size_t need, have = 0;

	if (record_header(&c, &rlen, &ans) < 0)
		return ans;
	/* The handshake header, checked in whatever part of the record we have. */
	frag = cur_make(cur_ptr(&c), cur_left(&c) < rlen ? cur_left(&c) : rlen);
	if (cur_u8(&frag, &htype) < 0)
		return DISSECT_NEED_MORE;
	if (htype != TLS_CLIENT_HELLO)
		return DISSECT_NOT_MINE;
	if (rlen >= 4 && cur_left(&frag) < 3)
		return DISSECT_NEED_MORE;
	if (rlen < 4 || cur_u24be(&frag, &hlen) < 0 || hlen < TLS_MIN_HELLO)
		return DISSECT_NOT_MINE;
	need = 4 + (size_t)hlen;
	/* Records add 5 bytes each; if even the hello alone cannot fit in the
	 * window it will never be complete: it is TLS, without a name. */
	if (5 + need > in->scratch_len) {
		facts->sni_len = 0;
		return DISSECT_MATCH;
	}
	if (need <= rlen) {
		/* The whole hello sits in the first record. */
		if (cur_left(&c) < need)
			return DISSECT_NEED_MORE;
		hs = cur_make(cur_ptr(&c) + 4, hlen);
		return parse_hello(hs, facts);
	}
	/* Spread over records: gather the fragments into the scratch buffer. */
	for (;;) {
		size_t take = rlen < need - have ? rlen : need - have;

		/* A record ending past the window can never arrive whole. */
		if ((size_t)(cur_ptr(&c) - in->data[0]) + rlen > in->scratch_len) {
			facts->sni_len = 0;
			return DISSECT_MATCH;
		}
		if (cur_left(&c) < rlen)
			return DISSECT_NEED_MORE;
		memcpy(in->scratch + have, cur_ptr(&c), take);
		have += take;
		cur_skip(&c, rlen);
		if (have == need)
			break;
		if (record_header(&c, &rlen, &ans) < 0)
			return ans;
	}
	hs = cur_make(in->scratch + 4, hlen);
	return parse_hello(hs, facts);
}

const struct dissector dissect_tls = {
	.name = "tls",
	.app = APP_TLS,
	.transports = DISSECT_TCP,
	.max_segs = 16,
	.max_bytes = 16384 + 5 * 4,
	.probe = tls_probe,
};
