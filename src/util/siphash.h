/* siphash.h: SipHash-2-4, a keyed hash, so that hostile traffic cannot aim
 * flows at one hash chain without knowing the key. */
#ifndef DPIX_SIPHASH_H
#define DPIX_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
