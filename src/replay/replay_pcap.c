/*
 * replay_pcap.c: classic pcap records out of a file image, through the
 * cursor, with what libpcap 1.10's sf-pcap.c does for every kind of damage.
 *
 * File header (24 bytes), then records, all in the byte order the magic
 * shows:
 *
 *   0      4        6        8         12        16        20       24
 *   +------+--------+--------+---------+---------+---------+--------+
 *   |magic |ver maj |ver min |thiszone |sigfigs  |snaplen  |linktype|
 *   +------+--------+--------+---------+---------+---------+--------+
 *   magic a1b2c3d4 (microseconds) or a1b23c4d (nanoseconds)
 *
 *   record: ts_sec(4) ts_frac(4) caplen(4) len(4), then caplen bytes
 *
 * Damage, in libpcap's words (replay prints them after "packet N: "):
 * - 1 to 15 bytes left for a record header: "truncated dump file; tried to
 *   read 16 header bytes, only got K"; none left is the end of the file.
 * - caplen above 262144 (libpcap's maximum for these link types):
 *   "invalid packet capture length C, bigger than snaplen of S", or "...
 *   bigger than maximum of 262144" when the snaplen is larger still
 *   (libpcap keeps a header's snaplen up to INT_MAX; 0 or above means
 *   262144).
 * - caplen above the snaplen but within 262144: the first snaplen bytes are
 *   the packet (caplen becomes the snaplen), the rest is skipped.
 * - fewer bytes left than the record claims: "truncated dump file; tried to
 *   read C captured bytes, only got K".
 * caplen above len is not damage (libpcap passes it through, so do we).
 * Any of these ends the file: what follows a damaged record is not trusted.
 */
#include <pcap/pcap.h>
#include <stdio.h>

#include "replay/replay_pcap.h"

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du
#define FILE_HEADER 24u
#define RECORD_HEADER 16u
/* libpcap's MAXIMUM_SNAPLEN, its ceiling for every link type read here. */
#define MAX_SNAPLEN 262144u
#define HOST_BIG_ENDIAN (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
/* The upper 6 bits of the link type carry extra information (LT_LINKTYPE). */
#define LINKTYPE_MASK 0x03ffffffu

/* File link types (LINKTYPE_*) whose DLT_* value libpcap gives on every
 * platform, and replay decodes. Others go to libpcap (DLT_RAW's own value
 * 12, for one, means something else on OpenBSD). */
static int dlt_of(uint32_t linktype)
{
	static const struct {
		uint32_t linktype;
		int dlt;
	} map[] = {
		{ 0, DLT_NULL },   { 1, DLT_EN10MB },	   { 101, DLT_RAW },
		{ 108, DLT_LOOP }, { 113, DLT_LINUX_SLL }, { 276, DLT_LINUX_SLL2 },
		{ 228, DLT_IPV4 }, { 229, DLT_IPV6 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].linktype == linktype)
			return map[i].dlt;
	return -1;
}

static int get_u32(struct cursor *c, bool big_endian, uint32_t *v)
{
	return big_endian ? cur_u32be(c, v) : cur_u32le(c, v);
}

static int get_u16(struct cursor *c, bool big_endian, uint16_t *v)
{
	return big_endian ? cur_u16be(c, v) : cur_u16le(c, v);
}

int replay_pcap_open(struct replay_pcap *r, const uint8_t *image, size_t size)
{
	struct cursor c = cur_make(image, size);
	uint32_t magic, zone, sigfigs, snaplen, linktype;
	uint16_t major, minor;

	r->err[0] = '\0';
	/* The magic in either byte order tells the order of the rest. */
	if (cur_u32be(&c, &magic) < 0)
		return REPLAY_PCAP_NOT_MINE;
	if (magic == MAGIC_USEC || magic == MAGIC_NSEC) {
		r->big_endian = true;
	} else {
		r->big_endian = false;
		magic = __builtin_bswap32(magic);
		if (magic != MAGIC_USEC && magic != MAGIC_NSEC)
			return REPLAY_PCAP_NOT_MINE;
	}
	if (get_u16(&c, r->big_endian, &major) < 0 || get_u16(&c, r->big_endian, &minor) < 0 ||
	    get_u32(&c, r->big_endian, &zone) < 0 || get_u32(&c, r->big_endian, &sigfigs) < 0 ||
	    get_u32(&c, r->big_endian, &snaplen) < 0 || get_u32(&c, r->big_endian, &linktype) < 0)
		return REPLAY_PCAP_NOT_MINE; /* libpcap says how short it is */
	/* 2.4 only: older versions may have caplen and len swapped. */
	if (major != 2 || minor != 4)
		return REPLAY_PCAP_NOT_MINE;
	r->dlt = dlt_of(linktype & LINKTYPE_MASK);
	if (r->dlt < 0)
		return REPLAY_PCAP_NOT_MINE;
	r->nsec = magic == MAGIC_NSEC;
	/* libpcap 1.10 keeps any snaplen up to INT_MAX (caplens above 262144
	 * are refused anyway, below). */
	r->snaplen = snaplen == 0 || snaplen > INT32_MAX ? MAX_SNAPLEN : snaplen;
	r->size = size;
	r->image = image;
	r->ahead = 0;
	r->rest = c;
	return 0;
}

/* Fail the file with a message; nothing after it is read. */
static int damaged(struct replay_pcap *r, const char *what, uint32_t want, size_t got)
{
	snprintf(r->err, sizeof(r->err),
		 "truncated dump file; tried to read %u %s bytes, only got %zu", want, what, got);
	r->rest = cur_make(NULL, 0);
	return -1;
}

/*
 * Ask for the cache lines PREFETCH bytes ahead of the reader. The file is
 * read once, front to back, and its first touch was the largest cost left
 * once the copies were gone: each record header and packet missed the
 * cache, and the hardware prefetcher stops at page boundaries.
 */
#define PREFETCH 2048u
#define LINE 64u

static void prefetch(struct replay_pcap *r)
{
	size_t want = replay_pcap_offset(r) + PREFETCH;

	if (want > r->size)
		want = r->size;
	for (; r->ahead < want; r->ahead += LINE)
		__builtin_prefetch(r->image + r->ahead);
}

int replay_pcap_next(struct replay_pcap *r, struct replay_pcap_rec *rec)
{
	struct cursor h;
	uint32_t sec = 0, frac = 0, skip;
	size_t left = cur_left(&r->rest);

	if (left == 0)
		return 0;
	prefetch(r);
	if (cur_sub(&r->rest, RECORD_HEADER, &h) < 0)
		return damaged(r, "header", RECORD_HEADER, left);
	/* h holds 16 bytes, so these cannot fail; one branch on the byte
	 * order per record, not one per field (a fifth of this function). */
	if (r->big_endian) {
		(void)cur_u32be(&h, &sec);
		(void)cur_u32be(&h, &frac);
		(void)cur_u32be(&h, &rec->caplen);
		(void)cur_u32be(&h, &rec->len);
	} else {
		(void)cur_u32le(&h, &sec);
		(void)cur_u32le(&h, &frac);
		(void)cur_u32le(&h, &rec->caplen);
		(void)cur_u32le(&h, &rec->len);
	}
	/* libpcap reads both as signed 32-bit fields into a struct timeval,
	 * but its byte swap makes them unsigned: a negative (or past 2038)
	 * time reads differently in the two byte orders. Same as libpcap. */
	if (r->big_endian == HOST_BIG_ENDIAN) {
		rec->sec = (int32_t)sec;
		rec->usec = (int32_t)frac;
	} else {
		rec->sec = sec;
		rec->usec = frac;
	}
	if (r->nsec)
		rec->usec /= 1000;
	if (rec->caplen > MAX_SNAPLEN) {
		snprintf(r->err, sizeof(r->err),
			 "invalid packet capture length %u, bigger than %s %u", rec->caplen,
			 rec->caplen > r->snaplen ? "snaplen of" : "maximum of",
			 rec->caplen > r->snaplen ? r->snaplen : MAX_SNAPLEN);
		r->rest = cur_make(NULL, 0);
		return -1;
	}
	left = cur_left(&r->rest);
	skip = 0;
	if (rec->caplen > r->snaplen) {
		/* libpcap reads the snaplen's worth first, then the rest. */
		if (left < r->snaplen)
			return damaged(r, "captured", r->snaplen, left);
		skip = rec->caplen - r->snaplen;
		rec->caplen = r->snaplen;
	}
	if (cur_bytes(&r->rest, rec->caplen, &rec->data) < 0 || cur_skip(&r->rest, skip) < 0)
		return damaged(r, "captured", rec->caplen + skip, left);
	return 1;
}
