/*
 * test_decode.c: link layers, IPv4/IPv6 and TCP/UDP headers.
 *
 * Frames are written out byte by byte: the reference frame literally, the
 * variants with small helpers that append one header each (the comments in
 * each helper name the fields). Every expected value is read off those bytes
 * by hand. Frames handed to the decoder are copied into a heap buffer of
 * exactly the captured length, so that ASan catches any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

/* --- the reference frame -------------------------------------------- */

/* Ethernet / IPv4 / TCP with a 5-byte payload, 59 bytes in all. */
static const uint8_t eth_ipv4_tcp[] = {
	/* Ethernet: dst 00:11:22:33:44:55, src 66:77:88:99:aa:bb, type IPv4 */
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
	0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x08, 0x00,
	/* IPv4 (offset 14): version 4 ihl 5, tos 0, total length 45 */
	0x45, 0x00, 0x00, 0x2d,
	/* id 0x1234, flags DF, fragment offset 0 */
	0x12, 0x34, 0x40, 0x00,
	/* ttl 64, protocol 6 (TCP), checksum (not checked) */
	0x40, 0x06, 0x00, 0x00,
	/* src 192.168.1.2 */
	0xc0, 0xa8, 0x01, 0x02,
	/* dst 10.0.0.1 */
	0x0a, 0x00, 0x00, 0x01,
	/* TCP (offset 34): sport 50000, dport 443 */
	0xc3, 0x50, 0x01, 0xbb,
	/* seq 0x01020304 */
	0x01, 0x02, 0x03, 0x04,
	/* ack 0xa0b0c0d0 */
	0xa0, 0xb0, 0xc0, 0xd0,
	/* data offset 5 (20 bytes), flags PSH|ACK, window 65535 */
	0x50, 0x18, 0xff, 0xff,
	/* checksum, urgent pointer */
	0x00, 0x00, 0x00, 0x00,
	/* payload (offset 54) */
	'h', 'e', 'l', 'l', 'o',
};
#define REF_IP_OFF 14
#define REF_TCP_OFF 34
#define REF_PAYLOAD_OFF 54

static const uint8_t ip_192_168_1_2[16] = { 0xc0, 0xa8, 0x01, 0x02 };
static const uint8_t ip_10_0_0_1[16] = { 0x0a, 0x00, 0x00, 0x01 };

/* --- frame builder -------------------------------------------------- */

struct frame {
	uint8_t b[1024];
	size_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put8(struct frame *f, uint8_t v)
{
	put(f, &v, 1);
}

static void put16(struct frame *f, uint16_t v)
{
	put8(f, (uint8_t)(v >> 8));
	put8(f, (uint8_t)v);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void put_zero(struct frame *f, size_t n)
{
	while (n--)
		put8(f, 0);
}

/* Ethernet II: dst 02:00:00:00:00:01, src 02:00:00:00:00:02, type. */
static void eth_hdr(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02 };

	put(f, macs, sizeof(macs));
	put16(f, type);
}

/* VLAN tag body after its TPID: TCI (pcp 3 bits, dei 1, vid 12), next type. */
static void vlan_tag(struct frame *f, uint16_t tci, uint16_t type)
{
	put16(f, tci);
	put16(f, type);
}

/*
 * IPv4 header: ver/ihl, tos 0, total, id 0x0001, flags/fragment, ttl 64,
 * proto, checksum 0, src 192.0.2.1, dst 198.51.100.7, then optlen bytes of
 * options (NOP ... EOL).
 */
static void ipv4_hdr(struct frame *f, uint8_t vihl, uint16_t total, uint16_t frag,
                     uint8_t proto, size_t optlen)
{
	put8(f, vihl);
	put8(f, 0);
	put16(f, total);
	put16(f, 0x0001);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, 0xc0000201); /* 192.0.2.1 */
	put32(f, 0xc6336407); /* 198.51.100.7 */
	for (size_t i = 0; i < optlen; i++)
		put8(f, i + 1 < optlen ? 0x01 : 0x00);
}

static const uint8_t ip_192_0_2_1[16] = { 192, 0, 2, 1 };
static const uint8_t ip_198_51_100_7[16] = { 198, 51, 100, 7 };

/* IPv6 header: ver 6 tc 0 flow 0x12345, plen, next, hop 64,
 * src 2001:db8::1, dst 2001:db8::2. */
static void ipv6_hdr(struct frame *f, uint16_t plen, uint8_t next)
{
	put32(f, 0x60012345);
	put16(f, plen);
	put8(f, next);
	put8(f, 64);
	put16(f, 0x2001);
	put16(f, 0x0db8);
	put_zero(f, 11);
	put8(f, 0x01);
	put16(f, 0x2001);
	put16(f, 0x0db8);
	put_zero(f, 11);
	put8(f, 0x02);
}

static const uint8_t ip6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	                             0,    0,    0,    0,    0, 0, 0, 0x01 };
static const uint8_t ip6_dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	                             0,    0,    0,    0,    0, 0, 0, 0x02 };

/* An IPv6 extension header of (len + 1) * 8 bytes: next, len, PadN filling
 * the rest. */
static void ipv6_ext(struct frame *f, uint8_t next, uint8_t len)
{
	size_t total = ((size_t)len + 1) * 8;

	put8(f, next);
	put8(f, len);
	put8(f, 0x01);                 /* PadN option */
	put8(f, (uint8_t)(total - 4)); /* its data length */
	put_zero(f, total - 4);
}

/* IPv6 fragment header: next, reserved, offset(13)/res(2)/M(1), id. */
static void ipv6_frag(struct frame *f, uint8_t next, uint16_t offm)
{
	put8(f, next);
	put8(f, 0);
	put16(f, offm);
	put32(f, 0xdeadbeef);
}

/*
 * TCP header: sport, dport, seq, ack, data offset byte (offset << 4),
 * flags, window 0x2000, checksum 0, urgent 0, then options to fill the data
 * offset (MSS 1460, NOP, NOP, SACK-permitted, window scale 7, then EOL).
 */
static void tcp_hdr(struct frame *f, uint16_t sport, uint16_t dport, uint32_t seq,
                    uint32_t ack, uint8_t offbyte, uint8_t flags)
{
	static const uint8_t opts[] = { 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01,
		                        0x04, 0x02, 0x03, 0x03, 0x07 };
	size_t hlen = (size_t)(offbyte >> 4) * 4;

	put16(f, sport);
	put16(f, dport);
	put32(f, seq);
	put32(f, ack);
	put8(f, offbyte);
	put8(f, flags);
	put16(f, 0x2000);
	put16(f, 0);
	put16(f, 0);
	for (size_t i = 20; i < hlen; i++)
		put8(f, i - 20 < sizeof(opts) ? opts[i - 20] : 0x00);
}

/* UDP header: sport, dport, length, checksum 0. */
static void udp_hdr(struct frame *f, uint16_t sport, uint16_t dport, uint16_t len)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, len);
	put16(f, 0);
}

/* --- running the decoder -------------------------------------------- */

/* A heap copy of exactly caplen bytes, so over-reads trip ASan. */
struct capture {
	uint8_t *buf;
	size_t len;
};

static struct capture cap_of(const uint8_t *p, size_t caplen)
{
	struct capture c = { malloc(caplen ? caplen : 1), caplen };

	assert_non_null(c.buf);
	if (caplen)
		memcpy(c.buf, p, caplen);
	return c;
}

/* Garbage in every field, so that a field the decoder forgets shows. */
static void pkt_poison(struct packet *pkt)
{
	memset(pkt, 0xcc, sizeof(*pkt));
}

static enum decode_reason run(enum link_type link, const uint8_t *p, size_t caplen,
                              struct packet *pkt, struct capture *c)
{
	*c = cap_of(p, caplen);
	pkt_poison(pkt);
	return decode_frame(link, c->buf, c->len, pkt);
}

static enum decode_reason run_frame(enum link_type link, const struct frame *f,
                                    struct packet *pkt, struct capture *c)
{
	return run(link, f->b, f->n, pkt, c);
}

/* Decode and throw the packet away: for the reason alone. */
static enum decode_reason reason_of(enum link_type link, const struct frame *f)
{
	struct packet pkt;
	struct capture c;
	enum decode_reason r = run_frame(link, f, &pkt, &c);

	free(c.buf);
	return r;
}

/* The reference IPv4/TCP fields, as decoded from any link layer. */
static void assert_ref_tcp(const struct packet *pkt, const uint8_t *payload)
{
	assert_int_equal(pkt->family, 4);
	assert_int_equal(pkt->proto, IPPROTO_TCP_);
	assert_memory_equal(pkt->src, ip_192_168_1_2, 16);
	assert_memory_equal(pkt->dst, ip_10_0_0_1, 16);
	assert_int_equal(pkt->sport, 50000);
	assert_int_equal(pkt->dport, 443);
	assert_int_equal(pkt->seq, 0x01020304);
	assert_int_equal(pkt->ack, 0xa0b0c0d0u);
	assert_int_equal(pkt->tcp_flags, TH_PSH_ | TH_ACK_);
	assert_false(pkt->truncated);
	assert_ptr_equal(pkt->payload, payload);
	assert_int_equal(pkt->payload_len, 5);
	assert_memory_equal(pkt->payload, "hello", 5);
}

/* Appends the IP part of the reference frame (IPv4 / TCP / "hello"). */
static void ref_ip(struct frame *f)
{
	put(f, eth_ipv4_tcp + REF_IP_OFF, sizeof(eth_ipv4_tcp) - REF_IP_OFF);
}

/* IPv6 / TCP sport 1234 dport 80 seq 7 ack 9 SYN|ACK, data offset 5, "GET". */
static void ref_ip6(struct frame *f)
{
	ipv6_hdr(f, 20 + 3, IPPROTO_TCP_);
	tcp_hdr(f, 1234, 80, 7, 9, 0x50, TH_SYN_ | TH_ACK_);
	put(f, "GET", 3);
}

/* The ref_ip6() fields with a payload of len bytes at payload. */
static void assert_ref_tcp6_len(const struct packet *pkt, const uint8_t *payload,
                                size_t len, bool truncated)
{
	assert_int_equal(pkt->family, 6);
	assert_int_equal(pkt->proto, IPPROTO_TCP_);
	assert_memory_equal(pkt->src, ip6_src, 16);
	assert_memory_equal(pkt->dst, ip6_dst, 16);
	assert_int_equal(pkt->sport, 1234);
	assert_int_equal(pkt->dport, 80);
	assert_int_equal(pkt->seq, 7);
	assert_int_equal(pkt->ack, 9);
	assert_int_equal(pkt->tcp_flags, TH_SYN_ | TH_ACK_);
	assert_int_equal(pkt->truncated, truncated);
	assert_ptr_equal(pkt->payload, payload);
	assert_int_equal(pkt->payload_len, len);
	if (len)
		assert_memory_equal(pkt->payload, "GET", len);
}

static void assert_ref_tcp6(const struct packet *pkt, const uint8_t *payload)
{
	assert_ref_tcp6_len(pkt, payload, 3, false);
	assert_int_equal(pkt->family, 6);
	assert_int_equal(pkt->proto, IPPROTO_TCP_);
	assert_memory_equal(pkt->src, ip6_src, 16);
	assert_memory_equal(pkt->dst, ip6_dst, 16);
	assert_int_equal(pkt->sport, 1234);
	assert_int_equal(pkt->dport, 80);
	assert_int_equal(pkt->seq, 7);
	assert_int_equal(pkt->ack, 9);
	assert_int_equal(pkt->tcp_flags, TH_SYN_ | TH_ACK_);
	assert_false(pkt->truncated);
	assert_ptr_equal(pkt->payload, payload);
	assert_int_equal(pkt->payload_len, 3);
	assert_memory_equal(pkt->payload, "GET", 3);
}

/* --- Ethernet and VLAN ---------------------------------------------- */

static void test_eth_ipv4_tcp(void **state)
{
	(void)state;
	struct packet pkt;
	struct capture c;

	assert_int_equal(run(LINK_ETHERNET, eth_ipv4_tcp, sizeof(eth_ipv4_tcp), &pkt, &c),
	                 DEC_OK);
	assert_int_equal(pkt.vlan, 0);
	assert_ref_tcp(&pkt, c.buf + REF_PAYLOAD_OFF);
	free(c.buf);
}

static void test_eth_one_vlan(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	eth_hdr(&f, 0x8100);        /* 802.1Q */
	vlan_tag(&f, 0x2064, 0x0800); /* pcp 1, vid 0x064 = 100, then IPv4 */
	ref_ip(&f);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.vlan, 100);
	assert_ref_tcp(&pkt, c.buf + 18 + 40);
	free(c.buf);
}

static void test_eth_qinq(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	eth_hdr(&f, 0x88a8);          /* 802.1ad outer tag */
	vlan_tag(&f, 0x00c8, 0x8100); /* outer vid 200, then 802.1Q */
	vlan_tag(&f, 0xf02a, 0x0800); /* pcp 7 dei 1, inner vid 0x02a = 42, IPv4 */
	ref_ip(&f);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	/* The innermost tag's id, with the priority bits masked off. */
	assert_int_equal(pkt.vlan, 42);
	assert_ref_tcp(&pkt, c.buf + 22 + 40);
	free(c.buf);
}

static void test_eth_old_qinq_tpid(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	eth_hdr(&f, 0x9100);          /* pre-standard QinQ TPID */
	vlan_tag(&f, 0x0fff, 0x8100); /* outer vid 4095 */
	vlan_tag(&f, 0x0001, 0x0800); /* inner vid 1 */
	ref_ip(&f);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.vlan, 1);
	free(c.buf);
}

static void test_eth_four_tags_ok(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* DECODE_MAX_VLAN_TAGS = 4 tags is still accepted. */
	eth_hdr(&f, 0x88a8);
	vlan_tag(&f, 0x0001, 0x8100); /* vid 1 */
	vlan_tag(&f, 0x0002, 0x8100); /* vid 2 */
	vlan_tag(&f, 0x0003, 0x8100); /* vid 3 */
	vlan_tag(&f, 0x0004, 0x0800); /* vid 4, IPv4 */
	ref_ip(&f);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.vlan, 4);
	assert_ref_tcp(&pkt, c.buf + 14 + 16 + 40);
	free(c.buf);
}

static void test_eth_five_tags_too_deep(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	eth_hdr(&f, 0x88a8);
	vlan_tag(&f, 0x0001, 0x8100);
	vlan_tag(&f, 0x0002, 0x8100);
	vlan_tag(&f, 0x0003, 0x8100);
	vlan_tag(&f, 0x0004, 0x8100);
	vlan_tag(&f, 0x0005, 0x0800); /* the fifth tag */
	ref_ip(&f);
	assert_int_equal(reason_of(LINK_ETHERNET, &f), DEC_VLAN_TOO_DEEP);
}

static void test_eth_vlan_truncated(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	eth_hdr(&f, 0x8100);
	put16(&f, 0x0064); /* TCI, then the inner type is missing */
	assert_int_equal(reason_of(LINK_ETHERNET, &f), DEC_LINK_TRUNCATED);
}

static void test_vlan_reset_between_frames(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	eth_hdr(&f, 0x8100);
	vlan_tag(&f, 0x0064, 0x0800);
	ref_ip(&f);
	c = cap_of(f.b, f.n);
	assert_int_equal(decode_frame(LINK_ETHERNET, c.buf, c.len, &pkt), DEC_OK);
	assert_int_equal(pkt.vlan, 100);
	free(c.buf);
	/* The next, untagged frame into the same packet: vlan back to 0. */
	c = cap_of(eth_ipv4_tcp, sizeof(eth_ipv4_tcp));
	assert_int_equal(decode_frame(LINK_ETHERNET, c.buf, c.len, &pkt), DEC_OK);
	assert_int_equal(pkt.vlan, 0);
	free(c.buf);
}

static void test_eth_arp_not_ip(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	eth_hdr(&f, 0x0806); /* ARP */
	/* htype 1, ptype IPv4, hlen 6, plen 4, op request, then addresses */
	put16(&f, 0x0001);
	put16(&f, 0x0800);
	put8(&f, 6);
	put8(&f, 4);
	put16(&f, 0x0001);
	put_zero(&f, 20);
	assert_int_equal(reason_of(LINK_ETHERNET, &f), DEC_NOT_IP);

	/* ARP behind a VLAN tag too. */
	f.n = 0;
	eth_hdr(&f, 0x8100);
	vlan_tag(&f, 0x0064, 0x0806);
	put_zero(&f, 28);
	assert_int_equal(reason_of(LINK_ETHERNET, &f), DEC_NOT_IP);
}

/* --- Linux cooked, raw, BSD loopback --------------------------------- */

static void test_sll_v1(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	put16(&f, 0x0000); /* pkttype: to us */
	put16(&f, 0x0001); /* hatype: Ethernet */
	put16(&f, 0x0006); /* halen 6 */
	put32(&f, 0x02000000); /* addr[8]: 02:00:00:00:00:09 + 2 pad */
	put32(&f, 0x00090000);
	put16(&f, 0x0800); /* protocol IPv4 */
	ref_ip(&f);
	assert_int_equal(run_frame(LINK_SLL, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.vlan, 0);
	assert_ref_tcp(&pkt, c.buf + 16 + 40);
	free(c.buf);

	/* Same header carrying IPv6. */
	f.n = 0;
	put16(&f, 0x0004); /* pkttype: outgoing */
	put16(&f, 0x0001);
	put16(&f, 0x0006);
	put_zero(&f, 8);
	put16(&f, 0x86dd); /* IPv6 */
	ref_ip6(&f);
	assert_int_equal(run_frame(LINK_SLL, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp6(&pkt, c.buf + 16 + 60);
	free(c.buf);

	/* 15 bytes: the protocol field is cut. */
	f.n = 15;
	assert_int_equal(reason_of(LINK_SLL, &f), DEC_LINK_TRUNCATED);
}

static void test_sll_v2(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	put16(&f, 0x86dd);     /* protocol IPv6 */
	put16(&f, 0x0000);     /* reserved */
	put32(&f, 0x00000002); /* ifindex 2 */
	put16(&f, 0x0001);     /* hatype Ethernet */
	put8(&f, 0x00);        /* pkttype: to us */
	put8(&f, 0x06);        /* halen 6 */
	put_zero(&f, 8);       /* addr[8] */
	ref_ip6(&f);
	assert_int_equal(run_frame(LINK_SLL2, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp6(&pkt, c.buf + 20 + 60);
	free(c.buf);

	f.n = 0;
	put16(&f, 0x0800); /* protocol IPv4 */
	put16(&f, 0x0000);
	put32(&f, 0x00000003);
	put16(&f, 0x0001);
	put8(&f, 0x04);
	put8(&f, 0x06);
	put_zero(&f, 8);
	ref_ip(&f);
	assert_int_equal(run_frame(LINK_SLL2, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp(&pkt, c.buf + 20 + 40);
	free(c.buf);

	/* 19 bytes: the address is cut. */
	f.n = 19;
	assert_int_equal(reason_of(LINK_SLL2, &f), DEC_LINK_TRUNCATED);
	/* ARP in SLL v2. */
	f.b[0] = 0x08;
	f.b[1] = 0x06;
	f.n = 20 + 28;
	assert_int_equal(reason_of(LINK_SLL2, &f), DEC_NOT_IP);
}

static void test_raw_ipv6_tcp(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	ref_ip6(&f);
	assert_int_equal(f.n, 63);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.vlan, 0);
	assert_ref_tcp6(&pkt, c.buf + 60);
	free(c.buf);
	/* LINK_IPV6 is the same thing. */
	assert_int_equal(run_frame(LINK_IPV6, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp6(&pkt, c.buf + 60);
	free(c.buf);
}

static void test_raw_ipv4_tcp(void **state)
{
	(void)state;
	struct packet pkt;
	struct capture c;

	assert_int_equal(run(LINK_RAW, eth_ipv4_tcp + REF_IP_OFF,
	                     sizeof(eth_ipv4_tcp) - REF_IP_OFF, &pkt, &c),
	                 DEC_OK);
	assert_ref_tcp(&pkt, c.buf + 40);
	free(c.buf);
	assert_int_equal(run(LINK_IPV4, eth_ipv4_tcp + REF_IP_OFF,
	                     sizeof(eth_ipv4_tcp) - REF_IP_OFF, &pkt, &c),
	                 DEC_OK);
	assert_ref_tcp(&pkt, c.buf + 40);
	free(c.buf);
}

/* A 4-byte BSD family header, then an IPv4 or IPv6 packet. */
static void bsd_frame(struct frame *f, const uint8_t fam[4], bool v6)
{
	f->n = 0;
	put(f, fam, 4);
	if (v6)
		ref_ip6(f);
	else
		ref_ip(f);
}

static void test_null_link(void **state)
{
	(void)state;
	static const uint8_t inet_le[4] = { 0x02, 0x00, 0x00, 0x00 };   /* 2 LE */
	static const uint8_t inet_be[4] = { 0x00, 0x00, 0x00, 0x02 };   /* 2 BE */
	static const uint8_t inet6_24le[4] = { 0x18, 0x00, 0x00, 0x00 }; /* 24 LE */
	static const uint8_t inet6_24be[4] = { 0x00, 0x00, 0x00, 0x18 }; /* 24 BE */
	static const uint8_t inet6_28le[4] = { 0x1c, 0x00, 0x00, 0x00 }; /* 28 LE */
	static const uint8_t inet6_28be[4] = { 0x00, 0x00, 0x00, 0x1c }; /* 28 BE */
	static const uint8_t inet6_30le[4] = { 0x1e, 0x00, 0x00, 0x00 }; /* 30 LE */
	static const uint8_t inet6_30be[4] = { 0x00, 0x00, 0x00, 0x1e }; /* 30 BE */
	static const uint8_t unknown[4] = { 0x07, 0x00, 0x00, 0x00 };    /* 7: not IP */
	const uint8_t *v4[] = { inet_le, inet_be };
	const uint8_t *v6[] = { inet6_24le, inet6_24be, inet6_28le,
		                inet6_28be, inet6_30le, inet6_30be };
	struct frame f;
	struct packet pkt;
	struct capture c;

	for (size_t i = 0; i < 2; i++) {
		bsd_frame(&f, v4[i], false);
		assert_int_equal(run_frame(LINK_NULL, &f, &pkt, &c), DEC_OK);
		assert_ref_tcp(&pkt, c.buf + 4 + 40);
		free(c.buf);
	}
	for (size_t i = 0; i < 6; i++) {
		bsd_frame(&f, v6[i], true);
		assert_int_equal(run_frame(LINK_NULL, &f, &pkt, &c), DEC_OK);
		assert_ref_tcp6(&pkt, c.buf + 4 + 60);
		free(c.buf);
	}
	bsd_frame(&f, unknown, false);
	assert_int_equal(reason_of(LINK_NULL, &f), DEC_NOT_IP);
	f.n = 3;
	assert_int_equal(reason_of(LINK_NULL, &f), DEC_LINK_TRUNCATED);
}

static void test_loop_link(void **state)
{
	(void)state;
	static const uint8_t inet_be[4] = { 0x00, 0x00, 0x00, 0x02 };
	static const uint8_t inet6_24be[4] = { 0x00, 0x00, 0x00, 0x18 };
	/* Loop is always network order: 02 00 00 00 is 0x02000000, not 2. */
	static const uint8_t inet_le[4] = { 0x02, 0x00, 0x00, 0x00 };
	struct frame f;
	struct packet pkt;
	struct capture c;

	bsd_frame(&f, inet_be, false);
	assert_int_equal(run_frame(LINK_LOOP, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp(&pkt, c.buf + 4 + 40);
	free(c.buf);
	bsd_frame(&f, inet6_24be, true);
	assert_int_equal(run_frame(LINK_LOOP, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp6(&pkt, c.buf + 4 + 60);
	free(c.buf);
	bsd_frame(&f, inet_le, false);
	assert_int_equal(reason_of(LINK_LOOP, &f), DEC_NOT_IP);
	f.n = 2;
	assert_int_equal(reason_of(LINK_LOOP, &f), DEC_LINK_TRUNCATED);
}

/* --- IPv4 ----------------------------------------------------------- */

static void test_ipv4_options(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* ihl 6: 4 option bytes (NOP NOP NOP EOL), total 24 + 20 + 2 = 46 */
	ipv4_hdr(&f, 0x46, 46, 0x0000, IPPROTO_TCP_, 4);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	put(&f, "ok", 2);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.family, 4);
	assert_memory_equal(pkt.src, ip_192_0_2_1, 16);
	assert_memory_equal(pkt.dst, ip_198_51_100_7, 16);
	assert_int_equal(pkt.sport, 1);
	assert_int_equal(pkt.dport, 2);
	assert_int_equal(pkt.seq, 3);
	assert_int_equal(pkt.ack, 4);
	assert_int_equal(pkt.tcp_flags, TH_ACK_);
	assert_ptr_equal(pkt.payload, c.buf + 44);
	assert_int_equal(pkt.payload_len, 2);
	free(c.buf);

	/* ihl 15: 40 option bytes, total 60 + 20 + 2 = 82 */
	f.n = 0;
	ipv4_hdr(&f, 0x4f, 82, 0x0000, IPPROTO_TCP_, 40);
	tcp_hdr(&f, 5, 6, 7, 8, 0x50, TH_ACK_);
	put(&f, "ok", 2);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.sport, 5);
	assert_int_equal(pkt.dport, 6);
	assert_ptr_equal(pkt.payload, c.buf + 80);
	assert_int_equal(pkt.payload_len, 2);
	assert_memory_equal(pkt.payload, "ok", 2);
	free(c.buf);

	/* ihl 15 but only 30 header bytes captured. */
	f.n = 30;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_TRUNCATED);
}

static void test_ipv4_bad_header_len(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	/* ihl 4: a 16-byte header cannot hold the fixed fields */
	ipv4_hdr(&f, 0x44, 40, 0x0000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_BAD_HEADER_LEN);
	/* ihl 0 */
	f.b[0] = 0x40;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_BAD_HEADER_LEN);
}

static void test_ipv4_bad_total_len(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	/* total 19 < 20-byte header */
	ipv4_hdr(&f, 0x45, 19, 0x0000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_BAD_TOTAL_LEN);
	/* ihl 6 (24 bytes), total 20 */
	f.n = 0;
	ipv4_hdr(&f, 0x46, 20, 0x0000, IPPROTO_TCP_, 4);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_BAD_TOTAL_LEN);
}

static void test_ipv4_total_zero_tso(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* total 0 (TSO on the capturing host): the capture bounds the packet.
	 * The buffer is freed before asserting so a failure leaks nothing. */
	ipv4_hdr(&f, 0x45, 0, 0x4000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	put(&f, "abcdef", 6);
	enum decode_reason r = run_frame(LINK_RAW, &f, &pkt, &c);
	ptrdiff_t payload_off = r == DEC_OK ? pkt.payload - c.buf : -1;

	free(c.buf);
	assert_int_equal(r, DEC_OK);
	assert_false(pkt.truncated);
	assert_int_equal(payload_off, 40);
	assert_int_equal(pkt.payload_len, 6);
	assert_int_equal(pkt.sport, 1);
}

static void test_ipv6_plen_zero(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* payload length 0 (jumbogram or TSO): the capture bounds the packet */
	ipv6_hdr(&f, 0, IPPROTO_TCP_);
	tcp_hdr(&f, 1234, 80, 7, 9, 0x50, TH_SYN_ | TH_ACK_);
	put(&f, "GET", 3);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp6(&pkt, c.buf + 60);
	free(c.buf);
}

static void test_ipv4_bad_version(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	ref_ip(&f);
	f.b[0] = 0x55; /* version 5 */
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_BAD_VERSION);
	/* Behind Ethernet too: the type says IPv4, the nibble disagrees. */
	f.n = 0;
	eth_hdr(&f, 0x0800);
	ref_ip(&f);
	f.b[14] = 0x05;
	assert_int_equal(reason_of(LINK_ETHERNET, &f), DEC_IP_BAD_VERSION);
	/* An Ethernet frame that ends right after its type. */
	f.n = 14;
	assert_int_equal(reason_of(LINK_ETHERNET, &f), DEC_IP_TRUNCATED);
}

static void test_eth_padding_not_payload(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* A bare ACK: IP total 40, padded to the 60-byte Ethernet minimum. */
	eth_hdr(&f, 0x0800);
	ipv4_hdr(&f, 0x45, 40, 0x4000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	put_zero(&f, 6); /* Ethernet padding */
	assert_int_equal(f.n, 60);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.payload_len, 0);
	assert_false(pkt.truncated);
	free(c.buf);

	/* Two payload bytes, then four bytes of padding. */
	f.n = 0;
	eth_hdr(&f, 0x0800);
	ipv4_hdr(&f, 0x45, 42, 0x4000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_PSH_ | TH_ACK_);
	put(&f, "hi", 2);
	put(&f, "\xee\xee\xee\xee", 4); /* padding */
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_ptr_equal(pkt.payload, c.buf + 54);
	assert_int_equal(pkt.payload_len, 2);
	assert_false(pkt.truncated);
	free(c.buf);

	/* UDP: 18 bytes of padding after an 8 + 2 byte datagram. */
	f.n = 0;
	eth_hdr(&f, 0x0800);
	ipv4_hdr(&f, 0x45, 30, 0x0000, IPPROTO_UDP_, 0);
	udp_hdr(&f, 53, 5353, 10);
	put(&f, "xy", 2);
	put_zero(&f, 16);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.proto, IPPROTO_UDP_);
	assert_int_equal(pkt.payload_len, 2);
	free(c.buf);

	/* IPv6 payload length bounds it the same way. */
	f.n = 0;
	eth_hdr(&f, 0x86dd);
	ipv6_hdr(&f, 20, IPPROTO_TCP_);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	put_zero(&f, 8);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.payload_len, 0);
	free(c.buf);
}

static void test_snaplen_truncated(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* IP total 100 (20 + 20 + 60) but only 10 payload bytes captured. */
	eth_hdr(&f, 0x0800);
	ipv4_hdr(&f, 0x45, 100, 0x4000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 80, 40000, 1000, 2000, 0x50, TH_ACK_);
	put(&f, "0123456789", 10);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_true(pkt.truncated);
	assert_ptr_equal(pkt.payload, c.buf + 54);
	assert_int_equal(pkt.payload_len, 10);
	assert_int_equal(pkt.seq, 1000);
	free(c.buf);

	/* UDP: length 68 claimed, 4 payload bytes captured. */
	f.n = 0;
	eth_hdr(&f, 0x0800);
	ipv4_hdr(&f, 0x45, 88, 0x0000, IPPROTO_UDP_, 0);
	udp_hdr(&f, 1000, 2000, 68);
	put(&f, "abcd", 4);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_true(pkt.truncated);
	assert_int_equal(pkt.payload_len, 4);
	free(c.buf);

	/* IPv6 payload length 1000, 23 bytes after the header captured. */
	f.n = 0;
	ipv6_hdr(&f, 1000, IPPROTO_TCP_);
	tcp_hdr(&f, 1234, 80, 7, 9, 0x50, TH_ACK_);
	put(&f, "GET", 3);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_true(pkt.truncated);
	assert_int_equal(pkt.payload_len, 3);
	free(c.buf);

	/* Snaplen inside the TCP options: truncated, not malformed. */
	f.n = 0;
	ipv4_hdr(&f, 0x45, 100, 0x0000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x80, TH_SYN_); /* 32-byte TCP header */
	f.n = 20 + 24;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_TCP_TRUNCATED);
}

static void test_ipv4_fragments(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* MF set, offset 0: the first fragment */
	ipv4_hdr(&f, 0x45, 45, 0x2000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	put(&f, "hello", 5);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_FRAGMENT);
	/* MF clear, offset 1 (8 bytes): the last fragment */
	f.b[6] = 0x00;
	f.b[7] = 0x01;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_FRAGMENT);
	/* DF and the highest offset 0x1fff */
	f.b[6] = 0x5f;
	f.b[7] = 0xff;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_FRAGMENT);
	/* DF alone is not a fragment */
	f.b[6] = 0x40;
	f.b[7] = 0x00;
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.payload_len, 5);
	free(c.buf);
	/* The reserved bit alone is not a fragment either */
	f.b[6] = 0x80;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_OK);
}

static void test_ipv4_icmp_unsupported(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	ipv4_hdr(&f, 0x45, 28, 0x0000, 1, 0); /* protocol 1: ICMP */
	/* echo request: type 8, code 0, csum, id 1, seq 1 */
	put8(&f, 8);
	put8(&f, 0);
	put16(&f, 0);
	put16(&f, 1);
	put16(&f, 1);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_L4_UNSUPPORTED);
	/* ICMPv6 (58) likewise */
	f.n = 0;
	ipv6_hdr(&f, 8, 58);
	put8(&f, 128); /* echo request */
	put_zero(&f, 7);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_L4_UNSUPPORTED);
}

/* --- IPv6 extension headers ----------------------------------------- */

static void test_ipv6_ext_chain_udp(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* plen = 8 (hop-by-hop) + 16 (dst opts) + 24 (routing) + 12 (UDP) = 60 */
	ipv6_hdr(&f, 60, 0);   /* next: hop-by-hop */
	ipv6_ext(&f, 60, 0);   /* hop-by-hop, 8 bytes, next: destination options */
	ipv6_ext(&f, 43, 1);   /* destination options, 16 bytes, next: routing */
	ipv6_ext(&f, 17, 2);   /* routing, 24 bytes, next: UDP */
	udp_hdr(&f, 5353, 53, 12);
	put(&f, "\x01\x02\x03\x04", 4);
	assert_int_equal(f.n, 100);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.family, 6);
	assert_int_equal(pkt.proto, IPPROTO_UDP_);
	assert_memory_equal(pkt.src, ip6_src, 16);
	assert_memory_equal(pkt.dst, ip6_dst, 16);
	assert_int_equal(pkt.sport, 5353);
	assert_int_equal(pkt.dport, 53);
	assert_int_equal(pkt.tcp_flags, 0);
	assert_int_equal(pkt.seq, 0);
	assert_int_equal(pkt.ack, 0);
	assert_false(pkt.truncated);
	assert_ptr_equal(pkt.payload, c.buf + 96);
	assert_int_equal(pkt.payload_len, 4);
	assert_memory_equal(pkt.payload, "\x01\x02\x03\x04", 4);
	free(c.buf);

	/* The routing header cut short (plen still claims it all). */
	f.n = 40 + 8 + 16 + 10;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IPV6_EXT_TRUNCATED);
}

static void test_ipv6_ext_ah(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* AH counts its length in 4-byte units minus 2: len 4 -> 24 bytes */
	ipv6_hdr(&f, 24 + 20, 51);
	put8(&f, IPPROTO_TCP_); /* next */
	put8(&f, 4);            /* payload len: (4 + 2) * 4 = 24 bytes */
	put16(&f, 0);           /* reserved */
	put32(&f, 0x00000100);  /* SPI */
	put32(&f, 0x00000001);  /* sequence */
	put_zero(&f, 12);       /* ICV */
	tcp_hdr(&f, 22, 60000, 1, 2, 0x50, TH_ACK_);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.sport, 22);
	assert_int_equal(pkt.dport, 60000);
	assert_int_equal(pkt.payload_len, 0);
	assert_ptr_equal(pkt.payload, c.buf + 40 + 24 + 20);
	free(c.buf);
}

static void ext_chain(struct frame *f, int n)
{
	f->n = 0;
	ipv6_hdr(f, (uint16_t)(n * 8 + 8), n ? 60 : 17);
	for (int i = 0; i < n; i++)
		ipv6_ext(f, i + 1 < n ? 60 : 17, 0); /* destination options, 8 bytes */
	udp_hdr(f, 1, 2, 8);
}

static void test_ipv6_ext_limit(void **state)
{
	(void)state;
	struct frame f;
	struct packet pkt;
	struct capture c;

	/* DECODE_MAX_IPV6_EXT = 8 headers are walked ... */
	ext_chain(&f, 8);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.proto, IPPROTO_UDP_);
	assert_ptr_equal(pkt.payload, c.buf + 40 + 64 + 8);
	assert_int_equal(pkt.payload_len, 0);
	free(c.buf);
	/* ... the ninth is refused. */
	ext_chain(&f, 9);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IPV6_EXT_TOO_MANY);
}

static void test_ipv6_fragment_header(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* Atomic fragment: offset 0, M 0 -> a whole datagram */
	ipv6_hdr(&f, 8 + 20 + 3, 44);
	ipv6_frag(&f, IPPROTO_TCP_, 0x0000);
	tcp_hdr(&f, 1234, 80, 7, 9, 0x50, TH_SYN_ | TH_ACK_);
	put(&f, "GET", 3);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_ref_tcp6(&pkt, c.buf + 40 + 8 + 20);
	free(c.buf);

	/* Reserved bits (0x0006) set, still offset 0 and M 0: atomic */
	f.b[42] = 0x00;
	f.b[43] = 0x06;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_OK);
	/* M set: the first fragment */
	f.b[43] = 0x01;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_FRAGMENT);
	/* offset 1 (0x0008), M clear: the last fragment */
	f.b[43] = 0x08;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_FRAGMENT);
	/* offset 0x1fff */
	f.b[42] = 0xff;
	f.b[43] = 0xf8;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_FRAGMENT);
	/* fragment header cut after 3 bytes */
	f.n = 43;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IPV6_EXT_TRUNCATED);
}

static void test_ipv6_esp_none_unsupported(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	/* ESP (50): encrypted, nothing to see */
	ipv6_hdr(&f, 16, 50);
	put32(&f, 0x00001000); /* SPI */
	put32(&f, 0x00000001); /* sequence */
	put_zero(&f, 8);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_L4_UNSUPPORTED);
	/* No next header (59) */
	f.n = 0;
	ipv6_hdr(&f, 0, 59);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_L4_UNSUPPORTED);
	/* No next header after a hop-by-hop header */
	f.n = 0;
	ipv6_hdr(&f, 8, 0);
	ipv6_ext(&f, 59, 0);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_L4_UNSUPPORTED);
	/* An IPv6 header cut inside the destination address */
	f.n = 39;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_IP_TRUNCATED);
}

/* --- TCP and UDP ---------------------------------------------------- */

static void test_tcp_bad_offset(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	/* data offset 4 (16 bytes) */
	ipv4_hdr(&f, 0x45, 40, 0x0000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x40, TH_ACK_);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_TCP_BAD_OFFSET);
	/* data offset 0 */
	f.b[32] = 0x00;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_TCP_BAD_OFFSET);
	/* data offset 15 (60 bytes) in a complete 40-byte packet */
	f.b[32] = 0xf0;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_TCP_BAD_OFFSET);
	/* TCP header cut at 19 bytes in a complete packet */
	f.n = 0;
	ipv4_hdr(&f, 0x45, 39, 0x0000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0x50, TH_ACK_);
	f.n = 39;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_TCP_TRUNCATED);
}

static void test_tcp_options_skipped(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* data offset 8: 12 option bytes (MSS, NOP, NOP, SACK-perm, WS, EOL) */
	eth_hdr(&f, 0x0800);
	ipv4_hdr(&f, 0x45, 20 + 32 + 3, 0x4000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 443, 51000, 0xfffffff0u, 0x11111111, 0x80, TH_SYN_ | TH_ACK_ | TH_PSH_);
	put(&f, "abc", 3);
	assert_int_equal(run_frame(LINK_ETHERNET, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.sport, 443);
	assert_int_equal(pkt.dport, 51000);
	assert_int_equal(pkt.seq, 0xfffffff0u);
	assert_int_equal(pkt.ack, 0x11111111);
	assert_int_equal(pkt.tcp_flags, 0x1a);
	assert_ptr_equal(pkt.payload, c.buf + 14 + 20 + 32);
	assert_int_equal(pkt.payload_len, 3);
	assert_memory_equal(pkt.payload, "abc", 3);
	free(c.buf);

	/* data offset 15: 40 option bytes, no payload */
	f.n = 0;
	ipv4_hdr(&f, 0x45, 20 + 60, 0x0000, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1, 2, 3, 4, 0xf0, TH_SYN_);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.tcp_flags, TH_SYN_);
	assert_ptr_equal(pkt.payload, c.buf + 80);
	assert_int_equal(pkt.payload_len, 0);
	free(c.buf);
}

static void test_udp(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct packet pkt;
	struct capture c;

	/* UDP length 8 + 5, exactly the IP payload */
	ipv4_hdr(&f, 0x45, 20 + 13, 0x0000, IPPROTO_UDP_, 0);
	udp_hdr(&f, 40000, 3478, 13);
	put(&f, "stun!", 5);
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.family, 4);
	assert_int_equal(pkt.proto, IPPROTO_UDP_);
	assert_memory_equal(pkt.src, ip_192_0_2_1, 16);
	assert_memory_equal(pkt.dst, ip_198_51_100_7, 16);
	assert_int_equal(pkt.sport, 40000);
	assert_int_equal(pkt.dport, 3478);
	assert_int_equal(pkt.tcp_flags, 0);
	assert_int_equal(pkt.seq, 0);
	assert_int_equal(pkt.ack, 0);
	assert_false(pkt.truncated);
	assert_ptr_equal(pkt.payload, c.buf + 28);
	assert_int_equal(pkt.payload_len, 5);
	free(c.buf);

	/* UDP length 10 inside a 13-byte IP payload: the UDP length wins */
	f.b[24] = 0x00;
	f.b[25] = 10;
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.payload_len, 2);
	free(c.buf);

	/* UDP length 8: empty datagram */
	f.b[25] = 8;
	assert_int_equal(run_frame(LINK_RAW, &f, &pkt, &c), DEC_OK);
	assert_int_equal(pkt.payload_len, 0);
	free(c.buf);
}

static void test_udp_bad_len(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	/* UDP length 7 < its own header */
	ipv4_hdr(&f, 0x45, 20 + 12, 0x0000, IPPROTO_UDP_, 0);
	udp_hdr(&f, 1, 2, 7);
	put(&f, "abcd", 4);
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_UDP_BAD_LEN);
	/* UDP length 0 */
	f.b[25] = 0;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_UDP_BAD_LEN);
	/* UDP length 13 > the 12 bytes IP says there are (not truncated) */
	f.b[25] = 13;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_UDP_BAD_LEN);
	/* UDP length 100 with the whole IP packet captured */
	f.b[25] = 100;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_UDP_BAD_LEN);
	/* UDP header cut at 6 bytes */
	f.b[25] = 12;
	f.n = 26;
	assert_int_equal(reason_of(LINK_RAW, &f), DEC_UDP_TRUNCATED);
}

/* --- every truncation point ----------------------------------------- */

static void test_every_truncation(void **state)
{
	(void)state;
	const size_t full = sizeof(eth_ipv4_tcp);

	assert_int_equal(full, 59);
	for (size_t caplen = 0; caplen <= full; caplen++) {
		struct packet pkt;
		struct capture c;
		enum decode_reason r = run(LINK_ETHERNET, eth_ipv4_tcp, caplen, &pkt, &c);

		if (caplen < 14) {
			/* inside the Ethernet header */
			assert_int_equal(r, DEC_LINK_TRUNCATED);
		} else if (caplen < REF_TCP_OFF) {
			/* inside the IPv4 header (14: no IP byte at all) */
			assert_int_equal(r, DEC_IP_TRUNCATED);
		} else if (caplen < REF_PAYLOAD_OFF) {
			/* inside the TCP header */
			assert_int_equal(r, DEC_TCP_TRUNCATED);
		} else {
			/* the payload cut short, or whole at caplen == full */
			assert_int_equal(r, DEC_OK);
			assert_int_equal(pkt.truncated, caplen < full);
			assert_ptr_equal(pkt.payload, c.buf + REF_PAYLOAD_OFF);
			assert_int_equal(pkt.payload_len, caplen - REF_PAYLOAD_OFF);
			assert_int_equal(pkt.sport, 50000);
			assert_int_equal(pkt.seq, 0x01020304);
		}
		free(c.buf);
	}
}

static void test_every_truncation_ipv6(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };

	/* Ethernet / IPv6 / hop-by-hop (8) / TCP / "GET": 14 + 40 + 8 + 20 + 3 */
	eth_hdr(&f, 0x86dd);
	ipv6_hdr(&f, 8 + 20 + 3, 0);
	ipv6_ext(&f, IPPROTO_TCP_, 0);
	tcp_hdr(&f, 1234, 80, 7, 9, 0x50, TH_SYN_ | TH_ACK_);
	put(&f, "GET", 3);
	assert_int_equal(f.n, 85);
	for (size_t caplen = 0; caplen <= f.n; caplen++) {
		struct packet pkt;
		struct capture c;
		enum decode_reason r = run(LINK_ETHERNET, f.b, caplen, &pkt, &c);

		if (caplen < 14)
			assert_int_equal(r, DEC_LINK_TRUNCATED);
		else if (caplen < 54)
			assert_int_equal(r, DEC_IP_TRUNCATED);
		else if (caplen < 62)
			assert_int_equal(r, DEC_IPV6_EXT_TRUNCATED);
		else if (caplen < 82)
			assert_int_equal(r, DEC_TCP_TRUNCATED);
		else {
			assert_int_equal(r, DEC_OK);
			assert_ref_tcp6_len(&pkt, c.buf + 82, caplen - 82, caplen < f.n);
		}
		free(c.buf);
	}
}

/* --- reason names --------------------------------------------------- */

static void test_reason_names(void **state)
{
	(void)state;
	const char *names[DEC_REASON_COUNT];

	for (int r = 0; r < DEC_REASON_COUNT; r++) {
		names[r] = decode_reason_name((enum decode_reason)r);
		assert_non_null(names[r]);
		assert_true(names[r][0] != '\0');
		for (int k = 0; k < r; k++)
			assert_string_not_equal(names[r], names[k]);
	}
	assert_string_equal(decode_reason_name(DEC_OK), "ok");
	assert_string_equal(decode_reason_name(DEC_NOT_IP), "not_ip");
	assert_string_equal(decode_reason_name(DEC_UDP_BAD_LEN), "udp_bad_len");
	assert_int_equal(DEC_REASON_COUNT, 16);
	/* Out of range: a name, not a crash. */
	assert_string_equal(decode_reason_name(DEC_REASON_COUNT), "invalid");
	assert_string_equal(decode_reason_name((enum decode_reason)-1), "invalid");
}

/* --- decode_ip straight (NFQUEUE) ----------------------------------- */

static void test_decode_ip_direct(void **state)
{
	(void)state;
	struct frame f = { .n = 0 };
	struct capture c;
	struct packet pkt;

	ref_ip(&f);
	c = cap_of(f.b, f.n);
	pkt_poison(&pkt);
	pkt.vlan = 0;
	assert_int_equal(decode_ip(c.buf, c.len, &pkt), DEC_OK);
	assert_ref_tcp(&pkt, c.buf + 40);
	free(c.buf);

	c = cap_of(f.b, 0);
	assert_int_equal(decode_ip(c.buf, 0, &pkt), DEC_IP_TRUNCATED);
	free(c.buf);
	assert_int_equal(decode_ip(NULL, 0, &pkt), DEC_IP_TRUNCATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_ipv4_tcp),
		cmocka_unit_test(test_eth_one_vlan),
		cmocka_unit_test(test_eth_qinq),
		cmocka_unit_test(test_eth_old_qinq_tpid),
		cmocka_unit_test(test_eth_four_tags_ok),
		cmocka_unit_test(test_eth_five_tags_too_deep),
		cmocka_unit_test(test_eth_vlan_truncated),
		cmocka_unit_test(test_vlan_reset_between_frames),
		cmocka_unit_test(test_eth_arp_not_ip),
		cmocka_unit_test(test_sll_v1),
		cmocka_unit_test(test_sll_v2),
		cmocka_unit_test(test_raw_ipv6_tcp),
		cmocka_unit_test(test_raw_ipv4_tcp),
		cmocka_unit_test(test_null_link),
		cmocka_unit_test(test_loop_link),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_bad_header_len),
		cmocka_unit_test(test_ipv4_bad_total_len),
		cmocka_unit_test(test_ipv4_total_zero_tso),
		cmocka_unit_test(test_ipv6_plen_zero),
		cmocka_unit_test(test_ipv4_bad_version),
		cmocka_unit_test(test_eth_padding_not_payload),
		cmocka_unit_test(test_snaplen_truncated),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_icmp_unsupported),
		cmocka_unit_test(test_ipv6_ext_chain_udp),
		cmocka_unit_test(test_ipv6_ext_ah),
		cmocka_unit_test(test_ipv6_ext_limit),
		cmocka_unit_test(test_ipv6_fragment_header),
		cmocka_unit_test(test_ipv6_esp_none_unsupported),
		cmocka_unit_test(test_tcp_bad_offset),
		cmocka_unit_test(test_tcp_options_skipped),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_udp_bad_len),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_truncation_ipv6),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_decode_ip_direct),
	};

	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
