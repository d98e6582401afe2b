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

/* CRC-32 (IEEE 802.3, reflected, as zlib crc32), a byte at a time: entry i
 * is the CRC register after shifting byte i through it, polynomial
 * 0xedb88320. (Four bits at a time, two dependent lookups a byte, made
 * FINGERPRINT checks 3% of replay's time on the peer corpus.) */
static const uint32_t crc_table[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f, 0xe963a535,
	0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988, 0x09b64c2b, 0x7eb17cbd,
	0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de, 0x1adad47d,
	0x6ddde4eb, 0xf4d4b551, 0x83d385c7, 0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec,
	0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4,
	0xa2677172, 0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
	0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59, 0x26d930ac,
	0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
	0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924, 0x2f6f7c87, 0x58684c11, 0xc1611dab,
	0xb6662d3d, 0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f,
	0x9fbfe4a5, 0xe8b8d433, 0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb,
	0x086d3d2d, 0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea,
	0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65, 0x4db26158, 0x3ab551ce,
	0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a,
	0x346ed9fc, 0xad678846, 0xda60b8d0, 0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
	0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409,
	0xce61e49f, 0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
	0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a, 0xead54739,
	0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8,
	0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1, 0xf00f9344, 0x8708a3d2, 0x1e01f268,
	0x6906c2fe, 0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0,
	0x10da7a5a, 0x67dd4acc, 0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8,
	0xa1d1937e, 0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55, 0x316e8eef,
	0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236, 0xcc0c7795, 0xbb0b4703,
	0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7,
	0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d, 0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a,
	0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae,
	0x0cb61b38, 0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
	0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777, 0x88085ae6,
	0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
	0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2, 0xa7672661, 0xd06016f7, 0x4969474d,
	0x3e6e77db, 0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5,
	0x47b2cf7f, 0x30b5ffe9, 0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605,
	0xcdd70693, 0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

static uint32_t crc32_ieee(struct cursor c)
{
	uint32_t crc = 0xffffffffu;
	uint8_t b;

	while (cur_u8(&c, &b) == 0)
		crc = crc_table[(crc ^ b) & 0xff] ^ (crc >> 8);
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
