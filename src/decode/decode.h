#ifndef DPIX_DECODE_H
#define DPIX_DECODE_H

#include "decode/decode-t.h"

/*
 * Decode one frame of the given link type into pkt (TCP or UDP over IPv4 or
 * IPv6). Returns DEC_OK or the reason the frame was not a TCP/UDP packet; pkt
 * is only meaningful on DEC_OK. pkt->ts_us is left for the caller to set.
 */
enum decode_reason decode_frame(enum link_type link, const uint8_t *frame, size_t caplen,
				struct packet *pkt);

/* Decode from the IP header on (NFQUEUE hands us these). */
enum decode_reason decode_ip(const uint8_t *data, size_t len, struct packet *pkt);

const char *decode_reason_name(enum decode_reason r);

#endif
