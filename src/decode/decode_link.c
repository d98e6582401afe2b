/*
 * decode_link.c: link layers down to the start of the IP header.
 *
 * Ethernet II      dst[6] src[6] type[2]  (type 0x8100/0x88a8/0x9100 = VLAN
 *                  tag: TCI[2] type[2], at most DECODE_MAX_VLAN_TAGS deep)
 * Linux SLL v1     pkttype[2] hatype[2] halen[2] addr[8] proto[2]
 * Linux SLL v2     proto[2] reserved[2] ifindex[4] hatype[2] pkttype[1]
 *                  halen[1] addr[8]
 * BSD null / loop  family[4] (null: capturer's byte order; loop: network)
 * raw              IPv4 or IPv6 by the version nibble
 *
 * Anything that is not IPv4/IPv6 after the link header is DEC_NOT_IP; a
 * header cut short is DEC_LINK_TRUNCATED.
 */
#include "decode/decode.h"
#include "util/cursor.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100

static enum decode_reason by_ethertype(uint16_t type, struct cursor *c, struct packet *pkt)
{
	if (type != ETH_IPV4 && type != ETH_IPV6)
		return DEC_NOT_IP;
	return decode_ip(cur_ptr(c), cur_left(c), pkt);
}

static enum decode_reason decode_ethernet(struct cursor *c, struct packet *pkt)
{
	uint16_t type, tci;
	int tags = 0;

	if (cur_skip(c, 12) < 0 || cur_u16be(c, &type) < 0)
		return DEC_LINK_TRUNCATED;
	while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
		if (++tags > DECODE_MAX_VLAN_TAGS)
			return DEC_VLAN_TOO_DEEP;
		if (cur_u16be(c, &tci) < 0 || cur_u16be(c, &type) < 0)
			return DEC_LINK_TRUNCATED;
		pkt->vlan = tci & 0x0fff;
	}
	return by_ethertype(type, c, pkt);
}

static enum decode_reason decode_sll(struct cursor *c, struct packet *pkt)
{
	uint16_t proto;

	if (cur_skip(c, 14) < 0 || cur_u16be(c, &proto) < 0)
		return DEC_LINK_TRUNCATED;
	return by_ethertype(proto, c, pkt);
}

static enum decode_reason decode_sll2(struct cursor *c, struct packet *pkt)
{
	uint16_t proto;

	if (cur_u16be(c, &proto) < 0 || cur_skip(c, 18) < 0)
		return DEC_LINK_TRUNCATED;
	return by_ethertype(proto, c, pkt);
}

/* BSD AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the OS. */
static enum decode_reason by_bsd_family(uint32_t fam, struct cursor *c, struct packet *pkt)
{
	if (fam == 2)
		return by_ethertype(ETH_IPV4, c, pkt);
	if (fam == 24 || fam == 28 || fam == 30)
		return by_ethertype(ETH_IPV6, c, pkt);
	return DEC_NOT_IP;
}

static enum decode_reason decode_null(struct cursor *c, struct packet *pkt)
{
	struct cursor peek = *c;
	uint32_t le, be;

	if (cur_u32le(&peek, &le) < 0 || cur_u32be(c, &be) < 0)
		return DEC_LINK_TRUNCATED;
	/* The family is in the capturing host's order; the small value wins. */
	return by_bsd_family(le < be ? le : be, c, pkt);
}

static enum decode_reason decode_loop(struct cursor *c, struct packet *pkt)
{
	uint32_t fam;

	if (cur_u32be(c, &fam) < 0)
		return DEC_LINK_TRUNCATED;
	return by_bsd_family(fam, c, pkt);
}

enum decode_reason decode_frame(enum link_type link, const uint8_t *frame, size_t caplen,
				struct packet *pkt)
{
	struct cursor c = cur_make(frame, caplen);

	pkt->vlan = 0;
	switch (link) {
	case LINK_ETHERNET:
		return decode_ethernet(&c, pkt);
	case LINK_SLL:
		return decode_sll(&c, pkt);
	case LINK_SLL2:
		return decode_sll2(&c, pkt);
	case LINK_NULL:
		return decode_null(&c, pkt);
	case LINK_LOOP:
		return decode_loop(&c, pkt);
	case LINK_RAW:
	case LINK_IPV4:
	case LINK_IPV6:
		return decode_ip(frame, caplen, pkt);
	}
	return DEC_NOT_IP;
}

static const char *const reason_names[] = {
#define DECODE_NAME_(e, s) s,
	DECODE_REASONS(DECODE_NAME_)
#undef DECODE_NAME_
};

const char *decode_reason_name(enum decode_reason r)
{
	return (unsigned)r < DEC_REASON_COUNT ? reason_names[r] : "invalid";
}
