/*
 * decode_ip.c: IPv4 / IPv6 down to TCP and UDP.
 *
 * IPv4   ver/ihl[1] tos[1] total[2] id[2] flags/frag[2] ttl[1] proto[1]
 *        csum[2] src[4] dst[4] options[ihl*4-20]
 * IPv6   ver/tc/flow[4] payload_len[2] next[1] hop[1] src[16] dst[16]
 *        then extension headers: next[1] len[1] ... (len in 8-byte units,
 *        AH in 4-byte units, fragment header fixed 8 bytes), at most
 *        DECODE_MAX_IPV6_EXT of them
 * TCP    sport[2] dport[2] seq[4] ack[4] off/flags[2] win[2] csum[2] urg[2]
 *        options[off*4-20]  (options are skipped, never interpreted)
 * UDP    sport[2] dport[2] len[2] csum[2]
 *
 * The IP length fields bound the packet: Ethernet padding after them is
 * ignored; a capture shorter than them (snaplen) is decoded as far as it
 * goes and flagged truncated. Fragments are counted, not reassembled.
 * Checksums are not verified: NFQUEUE with GSO hands over packets whose
 * checksums are not computed yet, and replay must agree with it.
 */
#include <string.h>

#include "decode/decode.h"
#include "util/cursor.h"

#define IP6_HOPOPTS 0
#define IP6_ROUTING 43
#define IP6_FRAGMENT 44
#define IP6_ESP 50
#define IP6_AH 51
#define IP6_NONE 59
#define IP6_DSTOPTS 60
#define IP6_MOBILITY 135

static enum decode_reason decode_tcp(struct cursor *c, struct packet *pkt)
{
	struct cursor h;
	uint8_t off = 0, flags = 0;

	/* The fixed 20 bytes at once: reads from h cannot fail, and the
	 * compiler drops their checks (a check per field was a fifth of
	 * decoding). */
	if (cur_sub(c, 20, &h) < 0)
		return DEC_TCP_TRUNCATED;
	(void)cur_u16be(&h, &pkt->sport);
	(void)cur_u16be(&h, &pkt->dport);
	(void)cur_u32be(&h, &pkt->seq);
	(void)cur_u32be(&h, &pkt->ack);
	(void)cur_u8(&h, &off);
	(void)cur_u8(&h, &flags);
	off = (uint8_t)((off >> 4) * 4);
	if (off < 20)
		return DEC_TCP_BAD_OFFSET;
	if (cur_skip(c, off - 20u) < 0)
		return pkt->truncated ? DEC_TCP_TRUNCATED : DEC_TCP_BAD_OFFSET;
	pkt->proto = IPPROTO_TCP_;
	pkt->tcp_flags = flags;
	pkt->payload = cur_ptr(c);
	pkt->payload_len = cur_left(c);
	return DEC_OK;
}

static enum decode_reason decode_udp(struct cursor *c, struct packet *pkt)
{
	struct cursor h;
	uint16_t len = 0;

	if (cur_sub(c, 8, &h) < 0)
		return DEC_UDP_TRUNCATED;
	(void)cur_u16be(&h, &pkt->sport);
	(void)cur_u16be(&h, &pkt->dport);
	(void)cur_u16be(&h, &len);
	if (len < 8)
		return DEC_UDP_BAD_LEN;
	len -= 8;
	if (len > cur_left(c)) {
		if (!pkt->truncated)
			return DEC_UDP_BAD_LEN;
		len = (uint16_t)cur_left(c);
	}
	pkt->proto = IPPROTO_UDP_;
	pkt->tcp_flags = 0;
	pkt->seq = pkt->ack = 0;
	pkt->payload = cur_ptr(c);
	pkt->payload_len = len;
	return DEC_OK;
}

static enum decode_reason decode_l4(uint8_t proto, struct cursor *c, struct packet *pkt)
{
	if (proto == IPPROTO_TCP_)
		return decode_tcp(c, pkt);
	if (proto == IPPROTO_UDP_)
		return decode_udp(c, pkt);
	return DEC_L4_UNSUPPORTED;
}

/* Limit the cursor to the length the IP header claims. */
static enum decode_reason clamp_to(struct cursor *c, size_t claimed, struct packet *pkt)
{
	if (claimed <= cur_left(c))
		c->len = claimed;
	else
		pkt->truncated = true;
	return DEC_OK;
}

static enum decode_reason decode_ipv4(struct cursor *c, struct packet *pkt)
{
	struct cursor h;
	uint8_t vihl = 0, proto = 0;
	uint16_t total = 0, frag = 0;
	size_t hlen;

	/* The fixed 20 bytes at once, as in decode_tcp(). */
	if (cur_sub(c, 20, &h) < 0)
		return DEC_IP_TRUNCATED;
	(void)cur_u8(&h, &vihl);
	(void)cur_skip(&h, 1);
	(void)cur_u16be(&h, &total);
	(void)cur_skip(&h, 2);
	(void)cur_u16be(&h, &frag);
	(void)cur_skip(&h, 1);
	(void)cur_u8(&h, &proto);
	(void)cur_skip(&h, 2);
	(void)cur_copy(&h, pkt->src, 4);
	(void)cur_copy(&h, pkt->dst, 4);
	hlen = (size_t)(vihl & 0x0f) * 4;
	if (hlen < 20)
		return DEC_IP_BAD_HEADER_LEN;
	if (total != 0 && total < hlen)
		return DEC_IP_BAD_TOTAL_LEN;
	if (cur_skip(c, hlen - 20) < 0)
		return DEC_IP_TRUNCATED;
	/* total == 0 happens with TSO on the capturing host: trust the capture. */
	if (total != 0)
		clamp_to(c, total - hlen, pkt);
	/* MF set or a non-zero offset: part of a fragmented datagram. */
	if (frag & 0x3fff)
		return DEC_IP_FRAGMENT;
	pkt->family = 4;
	memset(pkt->src + 4, 0, 12);
	memset(pkt->dst + 4, 0, 12);
	return decode_l4(proto, c, pkt);
}

static enum decode_reason decode_ipv6(struct cursor *c, struct packet *pkt)
{
	uint16_t plen;
	uint8_t next, hdr_next, hdr_len;
	int n;

	if (cur_skip(c, 4) < 0 || cur_u16be(c, &plen) < 0 || cur_u8(c, &next) < 0 ||
	    cur_skip(c, 1) < 0 || cur_copy(c, pkt->src, 16) < 0 || cur_copy(c, pkt->dst, 16) < 0)
		return DEC_IP_TRUNCATED;
	/* plen == 0 means a jumbogram (or TSO): use what was captured. */
	if (plen != 0)
		clamp_to(c, plen, pkt);
	for (n = 0;; n++) {
		size_t skip;

		switch (next) {
		case IP6_HOPOPTS:
		case IP6_ROUTING:
		case IP6_DSTOPTS:
		case IP6_MOBILITY:
		case IP6_AH:
		case IP6_FRAGMENT:
			break;
		case IP6_NONE:
		case IP6_ESP:
			return DEC_L4_UNSUPPORTED;
		default:
			pkt->family = 6;
			return decode_l4(next, c, pkt);
		}
		if (n >= DECODE_MAX_IPV6_EXT)
			return DEC_IPV6_EXT_TOO_MANY;
		if (next == IP6_FRAGMENT) {
			/* A fragment header with offset 0 and M clear is an atomic
			 * fragment (RFC 6946): a whole datagram. */
			struct cursor f = *c;
			uint16_t offm;

			if (cur_u8(&f, &hdr_next) < 0 || cur_skip(&f, 1) < 0 ||
			    cur_u16be(&f, &offm) < 0)
				return DEC_IPV6_EXT_TRUNCATED;
			if (offm & 0xfff9)
				return DEC_IP_FRAGMENT;
			skip = 8;
		} else {
			if (cur_peek_u8(c, 0, &hdr_next) < 0 || cur_peek_u8(c, 1, &hdr_len) < 0)
				return DEC_IPV6_EXT_TRUNCATED;
			skip =
			    next == IP6_AH ? ((size_t)hdr_len + 2) * 4 : ((size_t)hdr_len + 1) * 8;
		}
		if (cur_skip(c, skip) < 0)
			return DEC_IPV6_EXT_TRUNCATED;
		next = hdr_next;
	}
}

enum decode_reason decode_ip(const uint8_t *data, size_t len, struct packet *pkt)
{
	struct cursor c = cur_make(data, len);
	uint8_t v;

	pkt->truncated = false;
	if (cur_peek_u8(&c, 0, &v) < 0)
		return DEC_IP_TRUNCATED;
	switch (v >> 4) {
	case 4:
		return decode_ipv4(&c, pkt);
	case 6:
		return decode_ipv6(&c, pkt);
	default:
		return DEC_IP_BAD_VERSION;
	}
}
