/* tls_ja4.h: the JA4 fingerprint of a parsed ClientHello (dissect_tls_ja4.c). */
#ifndef DPIX_TLS_JA4_H
#define DPIX_TLS_JA4_H

#include <stdbool.h>
#include <stdint.h>

#include "dissect/dissect-t.h"
#include "util/cursor.h"

/* What dissect_tls found in a hello whose lengths it has already checked.
 * The cursors borrow the hello's bytes. */
struct tls_hello_view {
	uint16_t version;      /* highest non-GREASE supported_version, else legacy */
	bool has_sni;	       /* a server_name extension is present */
	struct cursor ciphers; /* cipher_suites, without their length */
	struct cursor exts;    /* the extensions block, without its length */
	struct cursor alpn;    /* the first ALPN name; empty when no ALPN */
	struct cursor sigalgs; /* signature_algorithms list; empty when none */
};

/* RFC 8701 GREASE: 0x0a0a, 0x1a1a, ... 0xfafa. */
static inline bool tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Write the JA4 string (36 characters) into out; 0, or -1 when the hello
 * lists more values than JA4_LIST_MAX in one list (out is then empty). */
#define JA4_LIST_MAX 256
int tls_ja4(const struct tls_hello_view *h, char out[JA4_MAX + 1]);

#endif
