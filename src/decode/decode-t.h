/* decode-t.h: what the decoder makes of one captured frame. */
#ifndef DPIX_DECODE_T_H
#define DPIX_DECODE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link layers we decode; packet sources map their own ids onto these. */
enum link_type {
	LINK_ETHERNET, /* DLT_EN10MB, with 802.1Q / 802.1ad tags */
	LINK_SLL,      /* Linux cooked v1 */
	LINK_SLL2,     /* Linux cooked v2 */
	LINK_RAW,      /* raw IPv4 or IPv6, version from the first nibble */
	LINK_IPV4,
	LINK_IPV6,
	LINK_NULL, /* BSD loopback: 4-byte family in the capturer's byte order */
	LINK_LOOP, /* OpenBSD loopback: 4-byte family, network order */
};

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* TCP flags as on the wire. */
#define TH_FIN_ 0x01
#define TH_SYN_ 0x02
#define TH_RST_ 0x04
#define TH_PSH_ 0x08
#define TH_ACK_ 0x10

/*
 * Why a frame did not yield a TCP or UDP packet. Every frame ends in exactly
 * one of these (DEC_OK included) so that the counts add up to the frames read.
 */
#define DECODE_REASONS(X)                               \
	X(DEC_OK, "ok")                                 \
	X(DEC_LINK_TRUNCATED, "link_truncated")         \
	X(DEC_VLAN_TOO_DEEP, "vlan_too_deep")           \
	X(DEC_NOT_IP, "not_ip")                         \
	X(DEC_IP_TRUNCATED, "ip_truncated")             \
	X(DEC_IP_BAD_VERSION, "ip_bad_version")         \
	X(DEC_IP_BAD_HEADER_LEN, "ip_bad_header_len")   \
	X(DEC_IP_BAD_TOTAL_LEN, "ip_bad_total_len")     \
	X(DEC_IP_FRAGMENT, "ip_fragment")               \
	X(DEC_IPV6_EXT_TRUNCATED, "ipv6_ext_truncated") \
	X(DEC_IPV6_EXT_TOO_MANY, "ipv6_ext_too_many")   \
	X(DEC_L4_UNSUPPORTED, "l4_unsupported")         \
	X(DEC_TCP_TRUNCATED, "tcp_truncated")           \
	X(DEC_TCP_BAD_OFFSET, "tcp_bad_offset")         \
	X(DEC_UDP_TRUNCATED, "udp_truncated")           \
	X(DEC_UDP_BAD_LEN, "udp_bad_len")

#define DECODE_ENUM_(e, s) e,
enum decode_reason { DECODE_REASONS(DECODE_ENUM_) DEC_REASON_COUNT };
#undef DECODE_ENUM_

/* Bounds on what the decoder walks: a hostile frame cannot make it loop. */
#define DECODE_MAX_VLAN_TAGS 4
#define DECODE_MAX_IPV6_EXT 8

struct packet {
	uint64_t ts_us;		  /* capture time, microseconds since the epoch */
	uint8_t family;		  /* 4 or 6 */
	uint8_t proto;		  /* IPPROTO_TCP_ or IPPROTO_UDP_ */
	uint16_t vlan;		  /* innermost VLAN id, 0 if untagged */
	uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes, rest zero */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	bool truncated; /* captured bytes shorter than the IP length */
	uint32_t seq, ack;
	const uint8_t *payload; /* borrows the frame until the next packet */
	size_t payload_len;
};

#endif
