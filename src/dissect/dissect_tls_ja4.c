/*
 * dissect_tls_ja4.c: the FoxIO JA4 TLS client fingerprint
 * (github.com/FoxIO-LLC/ja4, technical_details/JA4.md), for TLS over TCP.
 *
 *   ja4_a  "t" version[2] ("13" "12" "11" "10" "s3", else "00")
 *          "d" if an SNI extension is present, else "i"
 *          cipher count[2] extension count[2] (GREASE left out, SNI and
 *          ALPN counted, both capped at 99)
 *          first and last character of the first ALPN name ("00" without
 *          ALPN; the first and last hex digit of the name when either end
 *          is not alphanumeric)
 *   ja4_b  sha256("c02b,1301,...": the cipher suites, GREASE left out,
 *          sorted) cut to 12 hex digits; "000000000000" when none
 *   ja4_c  sha256(sorted extension types without GREASE, SNI and ALPN,
 *          then "_" and the signature algorithms in wire order, when there
 *          are any) cut to 12 hex digits; "000000000000" when no extension
 *          type is left to list
 *
 * The caller has checked every length; this file only reads. A list longer
 * than JA4_LIST_MAX values (no real client comes near) gets no JA4, rather
 * than an unbounded buffer.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "dissect/tls_ja4.h"
#include "util/sort.h"

#define EXT_SERVER_NAME 0x0000
#define EXT_ALPN 0x0010

/* One hex list "0a0b,0c0d" plus room for a second list after "_". */
#define JA4_TEXT_MAX (2 * JA4_LIST_MAX * 5 + 2)

static const char hexd[] = "0123456789abcdef";

static int cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/* Real hellos list 10 to 40 values: insertion sort, without qsort's
 * callbacks and merge buffer (a fifth of JA4's time). Longer lists, up to
 * JA4_LIST_MAX, still go to qsort, so a hostile hello costs no more. */
static void sort_u16(uint16_t *v, size_t n)
{
	if (n > 64) {
		sort_n(v, n, sizeof(v[0]), cmp_u16);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint16_t x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Always two characters. */
static const char *version_code(uint16_t v)
{
	switch (v) {
	case 0x0304:
		return "13";
	case 0x0303:
		return "12";
	case 0x0302:
		return "11";
	case 0x0301:
		return "10";
	case 0x0300:
		return "s3";
	default:
		return "00";
	}
}

/* Append n values as "xxxx,yyyy" to text at *len (room checked by callers). */
static void put_list(char *text, size_t *len, const uint16_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			text[(*len)++] = ',';
		for (int s = 12; s >= 0; s -= 4)
			text[(*len)++] = hexd[(v[i] >> s) & 0xf];
	}
}

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
/* OpenSSL 3's SHA256() looks the algorithm up on every call (half of its
 * time for JA4's short strings): look it up once, for every thread. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void sha256(const char *text, size_t len, uint8_t md[SHA256_DIGEST_LENGTH])
{
	(void)pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md || !EVP_Digest(text, len, md, NULL, sha256_md, NULL))
		SHA256((const unsigned char *)text, len, md);
}
#else
static void sha256(const char *text, size_t len, uint8_t md[SHA256_DIGEST_LENGTH])
{
	SHA256((const unsigned char *)text, len, md);
}
#endif

/* The first 12 hex digits of sha256(text), or twelve zeros when empty. */
static void hash12(const char *text, size_t len, bool empty, char out[13])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	if (empty) {
		memcpy(out, "000000000000", 13);
		return;
	}
	sha256(text, len, md);
	for (size_t i = 0; i < 6; i++) {
		out[2 * i] = hexd[md[i] >> 4];
		out[2 * i + 1] = hexd[md[i] & 0xf];
	}
	out[12] = '\0';
}

/* Read the uint16 values of c, GREASE left out, into v; -1 when too many. */
static int read_u16s(struct cursor c, uint16_t *v, size_t *n)
{
	uint16_t x;

	*n = 0;
	while (cur_u16be(&c, &x) == 0) {
		if (tls_is_grease(x))
			continue;
		if (*n == JA4_LIST_MAX)
			return -1;
		v[(*n)++] = x;
	}
	return 0;
}

static bool is_alnum(uint8_t b)
{
	return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
}

_Static_assert(JA4_MAX >= 36, "a JA4 fingerprint is 36 characters");

/* Two decimal digits, 99 at most. */
static void put_count(char out[2], size_t n)
{
	if (n > 99)
		n = 99;
	out[0] = (char)('0' + n / 10);
	out[1] = (char)('0' + n % 10);
}

static void alpn_code(struct cursor alpn, char out[3])
{
	const uint8_t *p = cur_ptr(&alpn);
	size_t n = cur_left(&alpn);

	if (n == 0) {
		memcpy(out, "00", 3);
	} else if (is_alnum(p[0]) && is_alnum(p[n - 1])) {
		out[0] = (char)p[0];
		out[1] = (char)p[n - 1];
	} else {
		out[0] = hexd[p[0] >> 4];
		out[1] = hexd[p[n - 1] & 0xf];
	}
	out[2] = '\0';
}

int tls_ja4(const struct tls_hello_view *h, char out[JA4_MAX + 1])
{
	uint16_t ciphers[JA4_LIST_MAX], exts[JA4_LIST_MAX], sigs[JA4_LIST_MAX];
	size_t nc, ne = 0, ns, ncount = 0, len;
	struct cursor c = h->exts, data;
	char text[JA4_TEXT_MAX], b[13], cc[13], alpn[3];
	uint16_t type, elen;

	out[0] = '\0';
	if (read_u16s(h->ciphers, ciphers, &nc) < 0 || read_u16s(h->sigalgs, sigs, &ns) < 0)
		return -1;
	while (cur_u16be(&c, &type) == 0 && cur_u16be(&c, &elen) == 0 &&
	       cur_sub(&c, elen, &data) == 0) {
		if (tls_is_grease(type))
			continue;
		ncount++;
		if (type == EXT_SERVER_NAME || type == EXT_ALPN)
			continue;
		if (ne == JA4_LIST_MAX)
			return -1;
		exts[ne++] = type;
	}
	sort_u16(ciphers, nc);
	sort_u16(exts, ne);

	len = 0;
	put_list(text, &len, ciphers, nc);
	hash12(text, len, nc == 0, b);
	len = 0;
	put_list(text, &len, exts, ne);
	if (ns) {
		text[len++] = '_';
		put_list(text, &len, sigs, ns);
	}
	hash12(text, len, ne == 0, cc);
	alpn_code(h->alpn, alpn);
	/* "t" version, d or i, two counts of two digits, ALPN, "_" b "_" cc: 36
	 * characters, put together by hand (snprintf() was 2.8% of replay's
	 * instructions, for one call a TLS flow). */
	out[0] = 't';
	memcpy(out + 1, version_code(h->version), 2);
	out[3] = h->has_sni ? 'd' : 'i';
	put_count(out + 4, nc);
	put_count(out + 6, ncount);
	memcpy(out + 8, alpn, 2);
	out[10] = '_';
	memcpy(out + 11, b, 12);
	out[23] = '_';
	memcpy(out + 24, cc, 12);
	out[36] = '\0';
	return 0;
}
