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
 *   sig_algs (13)            list<2..2^16-2>: scheme[2]...
 *   ALPN (16)                list<2..2^16-1>: name<1..255>...
 *   supported_versions (43)  list<2..254>: version[2]...
 *   encrypted_client_hello (0xfe0d): only its presence is noted
 *
 * A record header that is not handshake/3.x, a handshake that is not a
 * ClientHello (an SSLv2-style hello included), an extension type seen twice
 * (RFC 8446 4.2), or any length that disagrees with its container: not
 * mine. Fewer bytes than the record and handshake headers: need more.
 * Once those headers are sound the flow is TLS: a hello cut short is a
 * match with more facts to come (its SNI, once whole), so a flow whose
 * hello outlasts its packet budget or loses a segment is still TLS, with
 * no SNI. A hello that cannot fit in the stream window (scratch_len) is
 * TLS without an SNI (nor any other fact).
 *
 * Without the client's hello TLS is still known, without facts:
 *  - by the server's first record, a handshake record starting a
 *    ServerHello, while the client has sent no hello headers (a gateway
 *    with asymmetric routing sees only the server's side);
 *  - on a flow picked up mid-stream (no SYN seen: dpixd started after it,
 *    a capture began late), by records back to back from the first byte
 *    of either direction: type 20..23, version 3.1..3.4, length
 *    1..2^14+2048, at least one whole record and every header sound.
 *
 * Facts: the SNI; the ALPN names as "h2,http/1.1" (names with bytes outside
 * 0x21..0x7e or a comma left out, cut after the last whole name that fits
 * ALPN_MAX); tls_version, the highest supported_versions value, GREASE
 * (RFC 8701) left out, else legacy_version; FACT_ECH; the JA4 fingerprint
 * (dissect_tls_ja4.c).
 */
#include <string.h>

#include "dissect/dissect.h"
#include "dissect/tls_ja4.h"
#include "util/cursor.h"

#define TLS_CHANGE_CIPHER_SPEC 20
#define TLS_APPLICATION_DATA 23
#define TLS_HANDSHAKE 22
#define TLS_CLIENT_HELLO 1
#define TLS_SERVER_HELLO 2
#define TLS_MAX_RECORD (16384 + 2048)
#define TLS_MIN_HELLO 38
#define EXT_SERVER_NAME 0x0000
#define EXT_SIG_ALGS 0x000d
#define EXT_ALPN 0x0010
#define EXT_SUPPORTED_VERSIONS 0x002b
#define EXT_ECH 0xfe0d
#define SNI_HOST_NAME 0

/* Record header: 0 ok, else the answer to give. */
static int record_header(struct cursor *c, uint16_t *len, enum dpix_answer *ans)
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
	*ans = DPIX_NEED_MORE;
	return -1;
not_mine:
	*ans = DPIX_NOT_MINE;
	return -1;
}

/* The server_name extension's data (RFC 6066 3), shared with DTLS. */
bool dissect_server_name(const uint8_t *p, size_t n, struct dpix_facts *facts)
{
	struct cursor ext = cur_make(p, n), list, name;
	uint16_t llen, nlen;
	uint8_t type;

	if (cur_u16be(&ext, &llen) < 0 || llen != cur_left(&ext) || cur_sub(&ext, llen, &list) < 0)
		return false;
	while (cur_left(&list)) {
		if (cur_u8(&list, &type) < 0 || cur_u16be(&list, &nlen) < 0 ||
		    cur_sub(&list, nlen, &name) < 0)
			return false;
		if (type == SNI_HOST_NAME && facts->sni_len == 0 &&
		    dissect_is_sni(cur_ptr(&name), nlen))
			facts_set_host(facts->sni, &facts->sni_len, cur_ptr(&name), nlen);
	}
	return true;
}

/* A name fit for the ALPN string: printable, and no comma to confuse it. */
static bool alpn_printable(struct cursor name)
{
	const uint8_t *p = cur_ptr(&name);

	for (size_t i = 0; i < cur_left(&name); i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == ',')
			return false;
	return true;
}

/* ALPN (RFC 7301 3.1): 0, or -1 when malformed. Keeps the first name for
 * JA4 and writes the printable names, joined by commas, to facts->alpn. */
static int parse_alpn(struct cursor ext, struct tls_hello_view *h, struct dpix_facts *facts)
{
	struct cursor list, name;
	size_t out = 0;
	uint16_t llen;
	uint8_t nlen;
	bool full = false;

	if (cur_u16be(&ext, &llen) < 0 || llen < 2 || llen != cur_left(&ext) ||
	    cur_sub(&ext, llen, &list) < 0)
		return -1;
	while (cur_left(&list)) {
		if (cur_u8(&list, &nlen) < 0 || nlen == 0 || cur_sub(&list, nlen, &name) < 0)
			return -1;
		if (cur_left(&h->alpn) == 0)
			h->alpn = name;
		if (full || !alpn_printable(name))
			continue;
		if (out + (out > 0) + nlen > ALPN_MAX) {
			full = true; /* a truncated list ends at a whole name */
			continue;
		}
		if (out > 0)
			facts->alpn[out++] = ',';
		memcpy(facts->alpn + out, cur_ptr(&name), nlen);
		out += nlen;
	}
	facts->alpn[out] = '\0';
	return 0;
}

/* supported_versions (RFC 8446 4.2.1): 0, or -1 when malformed. */
static int parse_versions(struct cursor ext, uint16_t *best)
{
	uint16_t v;
	uint8_t llen;

	if (cur_u8(&ext, &llen) < 0 || llen < 2 || (llen & 1) || llen != cur_left(&ext))
		return -1;
	while (cur_u16be(&ext, &v) == 0)
		if (!tls_is_grease(v) && v > *best)
			*best = v;
	return 0;
}

/* signature_algorithms (RFC 8446 4.2.3): 0, or -1 when malformed. */
static int parse_sigalgs(struct cursor ext, struct cursor *list)
{
	uint16_t llen;

	if (cur_u16be(&ext, &llen) < 0 || llen < 2 || (llen & 1) || llen != cur_left(&ext))
		return -1;
	return cur_sub(&ext, llen, list);
}

/* One extension; 0, or -1 when malformed. */
static int parse_ext(uint16_t type, struct cursor ext, struct tls_hello_view *h,
		     struct dpix_facts *facts, uint16_t *best)
{
	switch (type) {
	case EXT_SERVER_NAME:
		h->has_sni = true;
		return dissect_server_name(cur_ptr(&ext), cur_left(&ext), facts) ? 0 : -1;
	case EXT_SIG_ALGS:
		return parse_sigalgs(ext, &h->sigalgs);
	case EXT_ALPN:
		return parse_alpn(ext, h, facts);
	case EXT_SUPPORTED_VERSIONS:
		return parse_versions(ext, best);
	case EXT_ECH:
		facts->flags |= FACT_ECH;
		return 0;
	default:
		return 0;
	}
}

/* The ClientHello body, exactly hlen bytes. */
static enum dpix_answer parse_hello(struct cursor b, struct dpix_facts *facts)
{
	static const uint8_t none;
	struct tls_hello_view h = { 0 };
	uint8_t seen[65536 / 8] = { 0 };
	struct cursor exts, ext;
	uint16_t n16, type, legacy, best = 0;
	uint8_t n8;

	h.exts = h.alpn = h.sigalgs = cur_make(&none, 0);
	if (cur_u16be(&b, &legacy) < 0 || (legacy >> 8) != 3 || cur_skip(&b, 32) < 0 ||
	    cur_u8(&b, &n8) < 0 || n8 > 32 || cur_skip(&b, n8) < 0 || cur_u16be(&b, &n16) < 0 ||
	    n16 < 2 || (n16 & 1) || cur_sub(&b, n16, &h.ciphers) < 0 || cur_u8(&b, &n8) < 0 ||
	    n8 < 1 || cur_skip(&b, n8) < 0)
		return DPIX_NOT_MINE;
	if (cur_left(&b) != 0) {
		if (cur_u16be(&b, &n16) < 0 || n16 != cur_left(&b) || cur_sub(&b, n16, &exts) < 0)
			return DPIX_NOT_MINE;
		h.exts = exts;
	} else {
		exts = h.exts; /* no extensions: legal before TLS 1.2 */
	}
	while (cur_left(&exts)) {
		if (cur_u16be(&exts, &type) < 0 || cur_u16be(&exts, &n16) < 0 ||
		    cur_sub(&exts, n16, &ext) < 0)
			return DPIX_NOT_MINE;
		if (seen[type >> 3] & (1u << (type & 7)))
			return DPIX_NOT_MINE;
		seen[type >> 3] |= (uint8_t)(1u << (type & 7));
		if (parse_ext(type, ext, &h, facts, &best) < 0)
			return DPIX_NOT_MINE;
	}
	facts->tls_version = h.version = best ? best : legacy;
	tls_ja4(&h, facts->ja4);
	return DPIX_MATCH;
}

/* What a match says before the hello is read: no TLS facts yet. */
static void tls_facts_clear(struct dpix_facts *facts)
{
	facts->sni_len = 0;
	facts->alpn[0] = '\0';
	facts->ja4[0] = '\0';
	facts->tls_version = 0;
	facts->flags &= (uint8_t)~FACT_ECH;
}

/*
 * Records back to back from the start of c, as a flow picked up mid-stream
 * shows them: MATCH once a whole record is there and every header is
 * sound, NEED_MORE before, NOT_MINE on a header that cannot be TLS.
 */
static enum dpix_answer record_chain(struct cursor c)
{
	enum dpix_answer ans = DPIX_NEED_MORE;
	uint8_t type, major, minor;
	uint16_t len;

	while (cur_left(&c)) {
		if (cur_u8(&c, &type) < 0)
			break;
		if (type < TLS_CHANGE_CIPHER_SPEC || type > TLS_APPLICATION_DATA)
			return DPIX_NOT_MINE;
		if (cur_u8(&c, &major) < 0 || cur_u8(&c, &minor) < 0)
			break;
		if (major != 3 || minor < 1 || minor > 4)
			return DPIX_NOT_MINE;
		if (cur_u16be(&c, &len) < 0)
			break;
		if (len == 0 || len > TLS_MAX_RECORD)
			return DPIX_NOT_MINE;
		if (cur_skip(&c, len) < 0)
			break;
		ans = DPIX_MATCH;
	}
	return ans;
}

/* The server's first record is a handshake record starting a ServerHello. */
static bool server_hello(const struct dpix_input *in)
{
	struct cursor c = cur_make(in->data[1], in->len[1]);
	enum dpix_answer ans;
	uint16_t rlen;
	uint8_t htype;

	return record_header(&c, &rlen, &ans) == 0 && cur_u8(&c, &htype) == 0 &&
	       htype == TLS_SERVER_HELLO;
}

/* A flow picked up mid-stream: either side's records will do, as a
 * capture may start in the middle of a record on one side only. */
static enum dpix_answer midstream(const struct dpix_input *in, struct dpix_facts *facts)
{
	enum dpix_answer a[2];

	for (int d = 0; d < 2; d++)
		a[d] = record_chain(cur_make(in->data[d], in->len[d]));
	if (a[0] == DPIX_MATCH || a[1] == DPIX_MATCH) {
		tls_facts_clear(facts);
		return DPIX_MATCH;
	}
	if (a[0] == DPIX_NEED_MORE || a[1] == DPIX_NEED_MORE)
		return DPIX_NEED_MORE;
	return DPIX_NOT_MINE;
}

static enum dpix_answer client_hello(const struct dpix_input *in, struct dpix_facts *facts)
{
	struct cursor c = cur_make(in->data[0], in->len[0]), frag, hs;
	enum dpix_answer ans;
	uint16_t rlen;
	uint8_t htype;
	uint32_t hlen;
	size_t need, have = 0;

	if (record_header(&c, &rlen, &ans) < 0)
		return ans;
	/* The handshake header, checked in whatever part of the record we have. */
	frag = cur_make(cur_ptr(&c), cur_left(&c) < rlen ? cur_left(&c) : rlen);
	if (cur_u8(&frag, &htype) < 0)
		return DPIX_NEED_MORE;
	if (htype != TLS_CLIENT_HELLO)
		return DPIX_NOT_MINE;
	if (rlen >= 4 && cur_left(&frag) < 3)
		return DPIX_NEED_MORE;
	if (rlen < 4 || cur_u24be(&frag, &hlen) < 0 || hlen < TLS_MIN_HELLO)
		return DPIX_NOT_MINE;
	need = 4 + (size_t)hlen;
	/* Records add 5 bytes each; if even the hello alone cannot fit in the
	 * window it will never be complete: it is TLS, without a name. */
	tls_facts_clear(facts);
	if (5 + need > in->scratch_len)
		return DPIX_MATCH;
	if (need <= rlen) {
		/* The whole hello sits in the first record. */
		if (cur_left(&c) < need)
			return DPIX_MATCH_MORE;
		hs = cur_make(cur_ptr(&c) + 4, hlen);
		return parse_hello(hs, facts);
	}
	/* Spread over records: gather the fragments into the scratch buffer. */
	for (;;) {
		size_t take = rlen < need - have ? rlen : need - have;

		/* A record ending past the window can never arrive whole. */
		if ((size_t)(cur_ptr(&c) - in->data[0]) + rlen > in->scratch_len)
			return DPIX_MATCH;
		if (cur_left(&c) < rlen)
			return DPIX_MATCH_MORE;
		memcpy(in->scratch + have, cur_ptr(&c), take);
		have += take;
		cur_skip(&c, rlen);
		if (have == need)
			break;
		if (record_header(&c, &rlen, &ans) < 0)
			return ans == DPIX_NEED_MORE ? DPIX_MATCH_MORE : ans;
	}
	hs = cur_make(in->scratch + 4, hlen);
	return parse_hello(hs, facts);
}

static enum dpix_answer tls_answer(const struct dpix_input *in, struct dpix_facts *facts)
{
	enum dpix_answer ans = client_hello(in, facts), m;

	if (ans == DPIX_MATCH_MORE && in->closed[0])
		return DPIX_MATCH; /* the rest of the hello will not come */
	if (ans == DPIX_MATCH || ans == DPIX_MATCH_MORE)
		return ans;
	if (ans == DPIX_NEED_MORE && server_hello(in)) {
		tls_facts_clear(facts);
		return DPIX_MATCH;
	}
	if (!in->midstream)
		return ans;
	m = midstream(in, facts);
	return m == DPIX_NOT_MINE ? ans : m;
}

static enum push_service push_port(uint16_t port)
{
	if (port == 5223 || port == 2197)
		return PUSH_APNS;
	if (port >= 5228 && port <= 5230)
		return PUSH_FCM;
	return PUSH_NONE;
}

enum dpix_answer dissect_tls_client_hello(const struct dpix_input *in, struct dpix_facts *facts)
{
	enum dpix_answer ans = tls_answer(in, facts);

	if (ans == DPIX_MATCH || ans == DPIX_MATCH_MORE) {
		/* Mid-stream, the server is a guess: either port may be it. */
		facts->push = (uint8_t)push_port(in->server_port);
		if (!facts->push && in->midstream)
			facts->push = (uint8_t)push_port(in->client_port);
	}
	return ans;
}

const struct dissector dissect_tls = {
	.name = "tls",
	.app = APP_TLS,
	.transports = DPIX_TCP,
	.max_segs = 16,
	.max_bytes = 16384 + 5 * 4,
	.probe = dissect_tls_client_hello,
};
