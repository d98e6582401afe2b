/*
 * dissect_stun.c: STUN and TURN (RFC 8489, RFC 8656, RFC 6062), classic
 * STUN (RFC 3489) and STUN over RFC 4571 framing.
 *
 *   message      type[2] length[2] cookie[4]=0x2112A442 txid[12] attributes[length]
 *     type       00MM MMMC MMMC MMMM   (M: method bits, C: class bits)
 *     length     a multiple of 4, the attributes only
 *   attribute    type[2] length[2] value[length] padding[to 4]
 *     FINGERPRINT (0x8028), length 4, last if present:
 *                CRC-32(message up to the attribute) ^ 0x5354554e
 *   ChannelData  channel[2]=0x4000..0x4FFF length[2] data[length]
 *                (padded to 4 on TCP)
 *   RFC 4571     length[2] message[length]     (TCP, every message framed)
 *   classic      type[2] length[2] txid[16] attributes[length]  (no cookie)
 *
 * UDP: the first datagram must be exactly one message: a STUN message
 * with 20 + length == the datagram, or a ChannelData message with 4 +
 * length <= the datagram <= that rounded up to 4. A ChannelData message
 * (nothing before it was STUN, or we would have matched already) counts
 * only with a port hint (3478, 3479, 5349, 19302 on either side); a
 * classic message only with a hint of 3478 or 3479. A datagram is whole,
 * so a short one is not mine; only an empty one asks for more.
 *
 * After that match the datagrams that follow, within the flow's budget,
 * are read as RFC 7983 demultiplexes them, for what the flow carries: a
 * DTLS datagram (first byte 20..63) makes the flow DTLS (WebRTC media
 * after ICE); DTLS inside ChannelData or the DATA of a Send or Data
 * indication sets FACT_TURN_DTLS (media relayed by TURN); either ends the
 * question, as does anything else that is not STUN (RTP, 128..191).
 *
 * TCP: the client's stream from its first byte, bare messages back to back
 * or each framed by RFC 4571; the framing is told from where the cookie
 * sits in the first message (offset 4 bare, 6 framed; never both), and a
 * frame, like a STUN type, must start with a byte whose top bits are 00
 * (frames under 16 KiB; STUN messages are far smaller). A prefix that
 * still fits either framing needs more; the first complete message
 * decides. Whole messages after it (STUN, or ChannelData padded
 * to 4) are checked as well and a malformed one is not mine; a partial
 * tail is checked as far as it goes.
 *
 * Any method counts once the cookie and the attribute walk agree (Google's
 * GOOG-PING and WhatsApp's private methods are STUN too); the first
 * message's method goes to stun_method and a TURN method or ChannelData
 * sets FACT_TURN. Real clients bend the padding rule: MS-TURN (Teams,
 * Skype) never pads attributes and WhatsApp leaves the last one unpadded,
 * so over UDP a length need not be a multiple of 4 as long as the walk,
 * padded or not, ends exactly at the message's end. Any length that
 * disagrees with its container, an attribute running past the message, a
 * FINGERPRINT that is not last, not 4 bytes or wrong, a wrong cookie, a
 * first byte whose top bits are not 00 (01 for ChannelData on UDP): not
 * mine.
 */
#include <string.h>

#include "dissect/dissect.h"
#include "util/cursor.h"

#define STUN_HDR 20
#define STUN_FP_XOR 0x5354554eu
#define ATTR_DATA 0x0013
#define ATTR_FINGERPRINT 0x8028
#define CHAN_HDR 4

#define M_ALLOCATE 0x003
#define M_SEND 0x006
#define M_DATA 0x007
#define M_CONNECTION_ATTEMPT 0x00c
#define CLASS_INDICATION 0x0010

enum { HDR_OK = -1 }; /* header_prefix(): the whole header is there */

/* The magic cookie 0x2112A442, in wire order. */
static const uint8_t cookie_bytes[4] = { 0x21, 0x12, 0xa4, 0x42 };

/* CRC-32 (IEEE 802.3, reflected, as zlib crc32), four bits at a time. */
static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static uint32_t crc32_ieee(struct cursor c)
{
	uint32_t crc = 0xffffffffu;
	uint8_t b;

	while (cur_u8(&c, &b) == 0) {
		crc ^= b;
		crc = crc_nibble[crc & 0x0f] ^ (crc >> 4);
		crc = crc_nibble[crc & 0x0f] ^ (crc >> 4);
	}
	return crc ^ 0xffffffffu;
}

static uint16_t stun_method(uint16_t type)
{
	return (uint16_t)((type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2));
}

static bool turn_method(uint16_t m)
{
	/* Allocate, Refresh, Send, Data, CreatePermission, ChannelBind,
	 * Connect, ConnectionBind, ConnectionAttempt (0x005 is unassigned). */
	return m >= M_ALLOCATE && m <= M_CONNECTION_ATTEMPT && m != 0x005;
}

static bool port_is(uint16_t port, bool turn_too)
{
	return port == 3478 || port == 3479 || (turn_too && (port == 5349 || port == 19302));
}

static bool port_hint(const struct dpix_input *in, bool turn_too)
{
	return port_is(in->client_port, turn_too) || port_is(in->server_port, turn_too);
}

/*
 * As much of a STUN header as c holds: NOT_MINE on the first byte that
 * cannot be one (top bits, length not a multiple of 4 unless any_len, or
 * not total - 20 when a container gives the total, cookie), NEED_MORE if
 * it runs out first, else HDR_OK with the message's whole size in
 * *msg_len.
 */
static int header_prefix(struct cursor c, size_t total, bool any_len, size_t *msg_len)
{
	uint16_t type, len;
	uint8_t b;

	if (cur_peek_u8(&c, 0, &b) < 0)
		return DPIX_NEED_MORE;
	if (b & 0xc0)
		return DPIX_NOT_MINE;
	if (cur_u16be(&c, &type) < 0 || cur_u16be(&c, &len) < 0)
		return DPIX_NEED_MORE;
	if ((len % 4 && !any_len) || (total && total != STUN_HDR + (size_t)len))
		return DPIX_NOT_MINE;
	for (size_t i = 0; i < sizeof(cookie_bytes); i++) {
		if (cur_u8(&c, &b) < 0)
			return DPIX_NEED_MORE;
		if (b != cookie_bytes[i])
			return DPIX_NOT_MINE;
	}
	*msg_len = STUN_HDR + (size_t)len;
	return HDR_OK;
}

/*
 * The attributes of a message, m exactly the whole message (header
 * included): bounds, FINGERPRINT last and right. True if sound. Each
 * value is followed by its padding to 4 if padded (the last one's may be
 * missing), by the next attribute at once if not.
 */
static bool attributes_walk(struct cursor m, bool padded)
{
	struct cursor attrs = m, value;
	uint16_t atype, alen;
	uint32_t fp;

	if (cur_skip(&attrs, STUN_HDR) < 0)
		return false;
	while (cur_left(&attrs)) {
		size_t before = cur_left(&m) - cur_left(&attrs);

		size_t pad;

		if (cur_u16be(&attrs, &atype) < 0 || cur_u16be(&attrs, &alen) < 0 ||
		    cur_sub(&attrs, alen, &value) < 0)
			return false;
		pad = padded ? (4 - alen % 4) % 4 : 0;
		cur_skip(&attrs, pad < cur_left(&attrs) ? pad : cur_left(&attrs));
		if (atype != ATTR_FINGERPRINT)
			continue;
		if (alen != 4 || cur_left(&attrs) != 0 || cur_u32be(&value, &fp) < 0)
			return false;
		return fp == (crc32_ieee(cur_make(cur_ptr(&m), before)) ^ STUN_FP_XOR);
	}
	return true;
}

static bool attributes_ok(struct cursor m)
{
	return attributes_walk(m, true) || attributes_walk(m, false);
}

/*
 * One whole STUN message (m holds exactly it, header already checked by
 * header_prefix). first: this message decides and names the method.
 */
static enum dpix_answer stun_message(struct cursor m, bool first, struct dpix_facts *facts)
{
	struct cursor h = m;
	uint16_t type, method;

	if (cur_u16be(&h, &type) < 0 || !attributes_ok(m))
		return DPIX_NOT_MINE;
	method = stun_method(type);
	if (first)
		facts->stun_method = method;
	facts->flags |= FACT_STUN;
	if (turn_method(method))
		facts->flags |= FACT_TURN;
	return DPIX_MATCH;
}

/* RFC 7983 5: a first byte of 20..63 is DTLS. */
static bool dtls_byte(uint8_t b)
{
	return b >= 20 && b <= 63;
}

/* Relayed data (ChannelData's, or a Send/Data indication's DATA): DTLS? */
static bool relays_dtls(struct cursor data, bool from_client, struct dpix_facts *facts)
{
	struct dpix_facts inner = { 0 };
	uint8_t b;

	if (cur_peek_u8(&data, 0, &b) < 0 || !dtls_byte(b) ||
	    dissect_dtls_datagram(cur_ptr(&data), cur_left(&data), from_client, &inner) !=
		DPIX_MATCH)
		return false;
	facts->flags |= FACT_TURN_DTLS;
	if (inner.sni_len)
		facts_set_host(facts->sni, &facts->sni_len, (const uint8_t *)inner.sni,
			       inner.sni_len);
	return true;
}

/* The DATA attribute of a whole Send or Data indication, if any. */
static bool indication_data(struct cursor m, struct cursor *data)
{
	uint16_t type, atype, alen;

	if (cur_u16be(&m, &type) < 0 || !(type & CLASS_INDICATION) || (type & 0x0100) ||
	    (stun_method(type) != M_SEND && stun_method(type) != M_DATA) ||
	    cur_skip(&m, STUN_HDR - 2) < 0)
		return false;
	while (cur_u16be(&m, &atype) == 0 && cur_u16be(&m, &alen) == 0) {
		if (cur_sub(&m, alen, data) < 0)
			return false;
		if (atype == ATTR_DATA)
			return true;
		cur_skip(&m, (4 - alen % 4) % 4);
	}
	return false;
}

/* A ChannelData header: channel and length, or false. */
static bool channel_header(struct cursor *c, uint16_t *len)
{
	uint16_t chan;

	if (cur_u16be(c, &chan) < 0 || chan < 0x4000 || chan > 0x4fff)
		return false;
	return cur_u16be(c, len) == 0;
}

/* Classic STUN (RFC 3489): Binding or Shared Secret, request/response/error. */
static enum dpix_answer classic_message(struct cursor d, struct dpix_facts *facts)
{
	struct cursor attrs;
	uint16_t type, len, atype, alen;

	if (cur_u16be(&d, &type) < 0 || cur_u16be(&d, &len) < 0 || cur_skip(&d, 16) < 0)
		return DPIX_NOT_MINE;
	if (type != 0x0001 && type != 0x0101 && type != 0x0111 && type != 0x0002 &&
	    type != 0x0102 && type != 0x0112)
		return DPIX_NOT_MINE;
	if (len % 4 || len != cur_left(&d) || cur_sub(&d, len, &attrs) < 0)
		return DPIX_NOT_MINE;
	while (cur_left(&attrs))
		if (cur_u16be(&attrs, &atype) < 0 || cur_u16be(&attrs, &alen) < 0 || alen % 4 ||
		    cur_skip(&attrs, alen) < 0)
			return DPIX_NOT_MINE;
	facts->stun_method = stun_method(type);
	return DPIX_MATCH;
}

/* A whole ChannelData datagram: data, then at most the padding to 4. */
static bool channel_datagram(struct cursor d, struct cursor *data)
{
	uint16_t clen;

	if (!channel_header(&d, &clen) || cur_left(&d) < clen ||
	    cur_left(&d) > ((size_t)clen + 3) / 4 * 4)
		return false;
	return cur_sub(&d, clen, data) == 0;
}

/* A datagram after the first match (see the top): what the flow carries. */
static enum dpix_answer udp_later(const struct dpix_input *in, struct cursor d,
				  struct dpix_facts *facts)
{
	struct dpix_facts found = *facts;
	struct cursor data;
	size_t msg_len;
	uint8_t b;

	if (cur_peek_u8(&d, 0, &b) < 0)
		return DPIX_MATCH_MORE;
	if (dtls_byte(b)) {
		if (dissect_dtls_datagram(cur_ptr(&d), cur_left(&d), in->dir == 0, &found) !=
		    DPIX_MATCH)
			return DPIX_MATCH;
		*facts = found;
		facts->app = APP_DTLS;
		return DPIX_MATCH;
	}
	if ((b & 0xc0) == 0x40) {
		if (!channel_datagram(d, &data))
			return DPIX_MATCH;
		facts->flags |= FACT_TURN;
		return relays_dtls(data, in->dir == 0, facts) ? DPIX_MATCH : DPIX_MATCH_MORE;
	}
	if (b & 0xc0 || header_prefix(d, cur_left(&d), true, &msg_len) != HDR_OK ||
	    stun_message(d, false, facts) != DPIX_MATCH)
		return DPIX_MATCH;
	if (indication_data(d, &data) && relays_dtls(data, in->dir == 0, facts))
		return DPIX_MATCH;
	return DPIX_MATCH_MORE;
}

static enum dpix_answer udp_probe(const struct dpix_input *in, struct dpix_facts *facts)
{
	struct cursor d = cur_make(in->data[in->dir], in->len[in->dir]), data;
	size_t n = cur_left(&d), msg_len = 0;
	enum dpix_answer a;
	uint8_t b;

	if (facts->flags & FACT_STUN)
		return udp_later(in, d, facts);
	if (cur_peek_u8(&d, 0, &b) < 0)
		return DPIX_NEED_MORE;
	if ((b & 0xc0) == 0x40) {
		if (!port_hint(in, true) || !channel_datagram(d, &data))
			return DPIX_NOT_MINE;
		facts->stun_method = 0;
		facts->flags |= FACT_STUN | FACT_TURN;
		return relays_dtls(data, in->dir == 0, facts) ? DPIX_MATCH : DPIX_MATCH_MORE;
	}
	switch (header_prefix(d, n, true, &msg_len)) {
	case HDR_OK:
		a = stun_message(d, true, facts);
		if (a == DPIX_MATCH)
			a = indication_data(d, &data) && relays_dtls(data, in->dir == 0, facts)
				? DPIX_MATCH
				: DPIX_MATCH_MORE;
		return a;
	case DPIX_NEED_MORE:
		return DPIX_NOT_MINE; /* a datagram does not grow */
	default:
		/* No cookie: classic STUN, where a port says so. */
		if (b & 0xc0 || !port_hint(in, false))
			return DPIX_NOT_MINE;
		if (classic_message(d, facts) != DPIX_MATCH)
			return DPIX_NOT_MINE;
		facts->flags |= FACT_STUN;
		return DPIX_MATCH_MORE;
	}
}

/*
 * The messages after the first, framed the same way: whole ones must be
 * sound; a partial one must be a sound prefix.
 */
static enum dpix_answer tcp_rest(struct cursor c, bool framed, struct dpix_facts *facts)
{
	struct cursor h, m;
	uint16_t flen = 0, clen;
	size_t msg_len = 0, pad;
	bool whole = true; /* framed: the whole frame is there */
	uint8_t b;

	while (cur_left(&c)) {
		h = c;
		if (framed) {
			if (cur_u16be(&h, &flen) < 0)
				return DPIX_MATCH;
			if (flen == 0 || flen >= 0x4000)
				return DPIX_NOT_MINE;
			whole = flen <= cur_left(&h);
			if (whole)
				h = cur_make(cur_ptr(&h), flen);
		}
		if (cur_peek_u8(&h, 0, &b) < 0)
			return DPIX_MATCH;
		if ((b & 0xc0) == 0x40) {
			/* ChannelData: data padded to 4, or exact in a frame. */
			if (b > 0x4f)
				return DPIX_NOT_MINE; /* not a channel number */
			if (!channel_header(&h, &clen))
				return framed && whole ? DPIX_NOT_MINE : DPIX_MATCH;
			pad = ((size_t)clen + 3) / 4 * 4;
			if (framed) {
				if (!whole)
					return DPIX_MATCH;
				if (cur_left(&h) < clen || cur_left(&h) > pad)
					return DPIX_NOT_MINE;
				cur_skip(&c, 2 + (size_t)flen);
			} else if (cur_skip(&c, CHAN_HDR + pad) < 0) {
				return DPIX_MATCH;
			}
			facts->flags |= FACT_TURN;
			continue;
		}
		switch (header_prefix(h, framed && whole ? flen : 0, false, &msg_len)) {
		case HDR_OK:
			break;
		case DPIX_NEED_MORE:
			return framed && whole ? DPIX_NOT_MINE : DPIX_MATCH;
		default:
			return DPIX_NOT_MINE;
		}
		if (framed) {
			if (!whole)
				return DPIX_MATCH;
			m = h; /* header_prefix saw flen == msg_len */
			cur_skip(&c, 2 + (size_t)flen);
		} else if (cur_sub(&c, msg_len, &m) < 0) {
			return DPIX_MATCH;
		}
		if (stun_message(m, false, facts) != DPIX_MATCH)
			return DPIX_NOT_MINE;
	}
	return DPIX_MATCH;
}

static enum dpix_answer tcp_probe(const struct dpix_input *in, struct dpix_facts *facts)
{
	struct cursor c = cur_make(in->data[0], in->len[0]), f = c, m;
	size_t bare_len = 0, framed_len = 0;
	uint16_t flen = 0;
	uint8_t b;
	int bare, framed;
	bool use_framed;

	/* Both framings begin with a byte whose top bits are 00: a STUN type,
	 * or a frame length below 16 KiB (STUN messages are far smaller). */
	if (cur_peek_u8(&c, 0, &b) < 0)
		return DPIX_NEED_MORE;
	if (b & 0xc0)
		return DPIX_NOT_MINE;
	bare = header_prefix(c, 0, false, &bare_len);
	if (cur_u16be(&f, &flen) < 0)
		framed = DPIX_NEED_MORE;
	else if (flen < STUN_HDR)
		framed = DPIX_NOT_MINE;
	else
		framed = header_prefix(f, flen, false, &framed_len);
	if (bare == DPIX_NOT_MINE && framed == DPIX_NOT_MINE)
		return DPIX_NOT_MINE;
	if (bare != HDR_OK && framed != HDR_OK)
		return DPIX_NEED_MORE;
	/* Once one header is whole the other has failed on the cookie. */
	use_framed = framed == HDR_OK;
	if (use_framed)
		c = f;
	if (cur_sub(&c, use_framed ? framed_len : bare_len, &m) < 0)
		return DPIX_NEED_MORE;
	if (stun_message(m, true, facts) != DPIX_MATCH)
		return DPIX_NOT_MINE;
	return tcp_rest(c, use_framed, facts);
}

static enum dpix_answer stun_probe(const struct dpix_input *in, struct dpix_facts *facts)
{
	if (in->transport == DPIX_UDP)
		return udp_probe(in, facts);
	return tcp_probe(in, facts);
}

const struct dissector dissect_stun = {
	.name = "stun",
	.app = APP_STUN,
	.transports = DPIX_TCP | DPIX_UDP,
	.max_segs = 4,
	.max_bytes = 2048,
	.probe = stun_probe,
};
