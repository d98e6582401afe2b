/*
 * fuzz_fixup.h: structure-aware help for libFuzzer's mutations. After a
 * random mutation, a fix-up makes the lengths of one message agree again
 * (and recomputes a STUN FINGERPRINT), so that most mutated inputs get past
 * the length checks into the parsers of TLS extensions and STUN attributes
 * behind them. The harnesses leave one mutation in four as it is, so that
 * lying lengths are still tried.
 */
#ifndef DPIX_FUZZ_FIXUP_H
#define DPIX_FUZZ_FIXUP_H

#include <stddef.h>
#include <stdint.h>

/* A TLS ClientHello record at d: record, handshake, extensions block and
 * each extension's length (and the inner lengths of server_name, ALPN and
 * supported_versions) made to fit what is there. */
void fixup_tls(uint8_t *d, size_t n);

/* A STUN message at d, bare or RFC 4571 framed: attribute lengths cut to
 * what is there, the message (and frame) length set to the walk, and a
 * FINGERPRINT, once reached, made 4 bytes, last and correct. */
void fixup_stun(uint8_t *d, size_t n);

/* fuzz_datagram's records (dir[1] len[2] bytes[len]): fixup_stun on each. */
void fixup_datagrams(uint8_t *d, size_t n);

#endif
