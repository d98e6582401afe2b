/*
 * fuzz_fixup.c: the length fix-ups of fuzz_fixup.h. They only write inside
 * the n bytes given and never change n; input they do not recognize is
 * left alone.
 *
 *   TLS   16 03 0x len[2] | 01 len[3] version[2] random[32]
 *         sid_len[1] sid | suites_len[2] suites | comp_len[1] comp
 *         ext_len[2] { type[2] len[2] body[len] }*
 *   STUN  [frame_len[2]] type[2] len[2] 2112A442 txid[12]
 *         { type[2] len[2] value[len] pad[to 4] }*
 */
#include "fuzz_fixup.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

static size_t get16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Inner lengths of the extensions whose bodies are lists. */
static void fixup_ext_body(uint16_t type, uint8_t *b, size_t len)
{
	switch (type) {
	case 0x0000: /* server_name: list_len[2] { type[1] len[2] name }+ */
		if (len >= 5) {
			put16(b, len - 2);
			if (get16(b + 3) > len - 5)
				put16(b + 3, len - 5);
		}
		break;
	case 0x0010: /* ALPN: list_len[2] { len[1] name }+ */
		if (len >= 3) {
			put16(b, len - 2);
			if (b[2] > len - 3)
				b[2] = (uint8_t)(len - 3);
		}
		break;
	case 0x002b: /* supported_versions (client): len[1] versions */
		if (len >= 1)
			b[0] = (uint8_t)MIN(len - 1, 255);
		break;
	default:
		break;
	}
}

void fixup_tls(uint8_t *d, size_t n)
{
	size_t rec, end, p, l;

	if (n < 9 + 2 + 32 + 1 || d[0] != 0x16 || d[5] != 0x01)
		return;
	/* A record that fits is kept (more records may follow it in the
	 * stream); one that runs past the bytes is cut to them. */
	rec = get16(d + 3);
	if (rec < 4 + 2 + 32 + 1 || 5 + rec > n) {
		rec = MIN(n - 5, (size_t)0x4000);
		put16(d + 3, rec);
	}
	end = 5 + rec;
	l = (size_t)d[6] << 16 | (size_t)d[7] << 8 | d[8];
	if (l != rec - 4 && 9 + l > n) { /* a hello may span records: only a lie */
		l = rec - 4;
		d[6] = (uint8_t)(l >> 16);
		d[7] = (uint8_t)(l >> 8);
		d[8] = (uint8_t)l;
	}
	p = 9 + 2 + 32;
	p += 1 + (size_t)d[p]; /* session id */
	if (p + 2 > end)
		return;
	l = get16(d + p); /* cipher suites */
	if (p + 2 + l > end)
		put16(d + p, l = (end - p - 2) & ~(size_t)1);
	p += 2 + l;
	if (p + 1 > end)
		return;
	if (p + 1 + d[p] > end) /* compression methods */
		d[p] = (uint8_t)(end - p - 1);
	p += 1 + (size_t)d[p];
	if (p + 2 > end)
		return;
	put16(d + p, end - p - 2);
	p += 2;
	while (p + 4 <= end) {
		uint16_t type = (uint16_t)get16(d + p);

		l = get16(d + p + 2);
		if (p + 4 + l > end)
			put16(d + p + 2, l = end - p - 4);
		fixup_ext_body(type, d + p + 4, l);
		p += 4 + l;
	}
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return crc ^ 0xffffffffu;
}

static int is_cookie(const uint8_t *p)
{
	return p[0] == 0x21 && p[1] == 0x12 && p[2] == 0xa4 && p[3] == 0x42;
}

void fixup_stun(uint8_t *d, size_t n)
{
	size_t off, end, p, l, fp = 0;
	uint32_t crc;

	if (n >= 20 && is_cookie(d + 4))
		off = 0;
	else if (n >= 22 && is_cookie(d + 6))
		off = 2; /* RFC 4571 frame */
	else
		return;
	end = MIN(n, off + 20 + 0xfffc);
	p = off + 20;
	while (p + 4 <= end) {
		l = get16(d + p + 2);
		if (get16(d + p) == 0x8028) {
			if (p + 8 > end)
				break;
			put16(d + p + 2, 4);
			fp = p;
			p += 8;
			break;
		}
		if (p + 4 + l > end)
			put16(d + p + 2, l = end - p - 4);
		p += 4 + l;
		p = MIN(p + (4 - l % 4) % 4, end);
	}
	p = MIN(p, end);
	put16(d + off + 2, p - off - 20);
	if (off)
		put16(d, p - 2);
	if (fp) {
		crc = crc32(d + off, fp - off) ^ 0x5354554eu;
		d[fp + 4] = (uint8_t)(crc >> 24);
		d[fp + 5] = (uint8_t)(crc >> 16);
		d[fp + 6] = (uint8_t)(crc >> 8);
		d[fp + 7] = (uint8_t)crc;
	}
}

void fixup_datagrams(uint8_t *d, size_t n)
{
	size_t p = 0, l;

	while (p + 3 <= n) {
		l = MIN(get16(d + p + 1), n - p - 3);
		fixup_stun(d + p + 3, l);
		p += 3 + l;
	}
}
