#ifndef DPIX_DISSECT_H
#define DPIX_DISSECT_H

#include "dissect/dissect-t.h"

/* The dissectors, in the order they are tried (dissect.c). */
extern const struct dissector *const dissectors[];
extern const unsigned dissector_count;

/* The descriptors, one per file. */
extern const struct dissector dissect_connect;
extern const struct dissector dissect_http;
extern const struct dissector dissect_tls;
extern const struct dissector dissect_stun;
extern const struct dissector dissect_dtls;

/* Bitmask of dissectors that may apply to a transport. */
uint32_t dissect_candidates(uint8_t transport);

/*
 * Run the candidate dissectors over in. Those that answer not-mine, or run
 * out of budget, are cleared from *candidates. Only a match changes facts:
 * then the matching dissector's findings are copied in and DISSECT_MATCH is
 * returned (DISSECT_MATCH_MORE if more facts may follow: that dissector is
 * then the only candidate left); DISSECT_NOT_MINE means no candidate is
 * left; otherwise DISSECT_NEED_MORE.
 */
enum dissect_answer dissect_run(uint32_t *candidates, const struct dissect_input *in,
				uint16_t client_segs, struct flow_facts *facts);

const char *app_proto_name(enum app_proto a);

/* Characters of a host name in an HTTP authority (RFC 3986 reg-name, the
 * subset real names use) and of an IPv6 literal between brackets. */
bool dissect_is_host_char(uint8_t ch);
bool dissect_is_ipv6_char(uint8_t ch);

/* A server name worth keeping: printable ASCII without spaces, not empty. */
bool dissect_is_sni(const uint8_t *p, size_t n);

/* Read a TLS/DTLS server_name extension's data (RFC 6066 3): the first
 * valid host_name goes to facts->sni; false if the list is malformed. */
bool dissect_server_name(const uint8_t *p, size_t n, struct flow_facts *facts);

/* One UDP datagram as DTLS (dissect_dtls.c): a ClientHello if from_client
 * (its SNI to facts), else whole records; MATCH or NOT_MINE. */
enum dissect_answer dissect_dtls_datagram(const uint8_t *p, size_t n, bool from_client,
					  struct flow_facts *facts);

/* Copy a host name into a bounded facts field; false if it does not fit. */
bool facts_set_host(char *dst, uint8_t *dst_len, const uint8_t *src, size_t len);

#endif
