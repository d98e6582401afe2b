/*
 * test_replay_pcap.c: dpix's own classic-pcap reader, on hand-made images
 * (both byte orders, nanosecond magic, every kind of damage, files it must
 * leave to libpcap) and against libpcap itself: every image it takes must
 * give the same records (lengths, timestamps, bytes) and, when damaged, the
 * same message at the same record as libpcap 1.10 reading it from memory.
 * The comparison runs on pcaps/, on the peer corpus when present
 * ($DPIX_PEER_PCAPS or ../shared/peer-pcaps next to the source tree), and
 * on truncated and length-lied variants of each.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay_pcap.h"

#ifndef PCAPS_DIR
#define PCAPS_DIR "pcaps"
#endif

/* --- building images ---------------------------------------------------- */

struct image {
	uint8_t b[8192];
	size_t n;
	bool be;
};

static void put32(struct image *im, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		im->b[im->n++] = (uint8_t)(im->be ? v >> (24 - 8 * i) : v >> (8 * i));
}

static void put16(struct image *im, uint16_t v)
{
	im->b[im->n++] = (uint8_t)(im->be ? v >> 8 : v);
	im->b[im->n++] = (uint8_t)(im->be ? v : v >> 8);
}

static void file_header(struct image *im, bool be, uint32_t magic, uint32_t snaplen,
			uint32_t linktype)
{
	im->n = 0;
	im->be = be;
	put32(im, magic);
	put16(im, 2);
	put16(im, 4);
	put32(im, 0);
	put32(im, 0);
	put32(im, snaplen);
	put32(im, linktype);
}

/* A record of caplen bytes (0x00, 0x01, ...) claiming len on the wire. */
static void record(struct image *im, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len)
{
	put32(im, sec);
	put32(im, frac);
	put32(im, caplen);
	put32(im, len);
	for (uint32_t i = 0; i < caplen; i++)
		im->b[im->n++] = (uint8_t)i;
}

/* --- the comparison with libpcap ---------------------------------------- */

/*
 * Read the image with both readers; every record and the way the file ends
 * must agree. Returns false (and compares nothing) if replay_pcap leaves
 * the image to libpcap.
 */
static bool same_as_libpcap(const uint8_t *image, size_t size, const char *what)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct replay_pcap r;
	struct replay_pcap_rec rec;
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t n = 0;
	pcap_t *pc;
	FILE *f;
	int rc, prc;

	if (replay_pcap_open(&r, image, size) < 0)
		return false;
	f = fmemopen((void *)image, size, "rb");
	assert_non_null(f);
	pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (!pc)
		fail_msg("%s: libpcap refuses what replay_pcap takes: %s", what, errbuf);
	assert_int_equal(pcap_datalink(pc), r.dlt);
	for (;;) {
		rc = replay_pcap_next(&r, &rec);
		prc = pcap_next_ex(pc, &h, &data);
		if (prc != 1 || rc != 1)
			break;
		n++;
		if (rec.caplen != h->caplen || rec.len != h->len || rec.sec != h->ts.tv_sec ||
		    rec.usec != h->ts.tv_usec || memcmp(rec.data, data, h->caplen) != 0)
			fail_msg("%s: record %llu differs: caplen %u/%u len %u/%u ts "
				 "%lld.%lld/%lld.%lld",
				 what, (unsigned long long)n, rec.caplen, h->caplen, rec.len,
				 h->len, (long long)rec.sec, (long long)rec.usec,
				 (long long)h->ts.tv_sec, (long long)h->ts.tv_usec);
	}
	if (prc == 1 || (prc == PCAP_ERROR) != (rc < 0) || (rc == 1))
		fail_msg("%s: after %llu records: replay_pcap %d, libpcap %d (%s)", what,
			 (unsigned long long)n, rc, prc, prc == PCAP_ERROR ? pcap_geterr(pc) : "");
	if (rc < 0 && strcmp(r.err, pcap_geterr(pc)) != 0)
		fail_msg("%s: record %llu: replay_pcap says '%s', libpcap '%s'", what,
			 (unsigned long long)n + 1, r.err, pcap_geterr(pc));
	pcap_close(pc);
	return true;
}

/* Offsets of the record headers in a well-formed image (at most max). */
static size_t record_offsets(const uint8_t *b, size_t size, bool be, size_t *off, size_t max)
{
	size_t k = 0, o = 24;

	while (k < max && o + 16 <= size) {
		const uint8_t *c = b + o + 8;
		uint32_t caplen =
		    be ? (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3]
		       : (uint32_t)c[3] << 24 | (uint32_t)c[2] << 16 | (uint32_t)c[1] << 8 | c[0];

		if (caplen > size - o - 16)
			break;
		off[k++] = o;
		o += 16 + caplen;
	}
	return k;
}

static void store32(uint8_t *p, bool be, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(be ? v >> (24 - 8 * i) : v >> (8 * i));
}

/* The capture as it is, cut at every byte of its first records and of its
 * last ones, and with the caplen of some records lied about. */
static void compare_variants(const uint8_t *b, size_t size, const char *path)
{
	static const uint32_t lies[] = {
		0, 1, 65535, 65536, 262144, 262145, 0x7fffffff, 0xffffffff
	};
	size_t off[8];
	size_t nrec;
	uint8_t *copy;
	char what[512];

	if (!same_as_libpcap(b, size, path))
		return; /* pcapng or another format: libpcap's */
	for (size_t cut = 0; cut < size && cut < 600; cut++) {
		snprintf(what, sizeof(what), "%s cut at %zu", path, cut);
		(void)same_as_libpcap(b, cut, what);
	}
	for (size_t cut = size > 600 ? size - 600 : 0; cut < size; cut += 7) {
		snprintf(what, sizeof(what), "%s cut at %zu", path, cut);
		(void)same_as_libpcap(b, cut, what);
	}
	copy = malloc(size);
	assert_non_null(copy);
	nrec = record_offsets(b, size, b[0] == 0xa1, off, 8);
	for (size_t k = 0; k < nrec; k++) {
		for (size_t l = 0; l < sizeof(lies) / sizeof(lies[0]); l++) {
			memcpy(copy, b, size);
			store32(copy + off[k] + 8, b[0] == 0xa1, lies[l]);
			snprintf(what, sizeof(what), "%s record %zu caplen %u", path, k + 1,
				 lies[l]);
			(void)same_as_libpcap(copy, size, what);
		}
	}
	free(copy);
}

static unsigned compared;

static int compare_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *dot = strrchr(path, '.');
	uint8_t *b;
	FILE *f;

	(void)ftw;
	if (type != FTW_F || !dot || (strcmp(dot, ".pcap") && strcmp(dot, ".pcapng")))
		return 0;
	b = malloc(st->st_size ? (size_t)st->st_size : 1);
	f = fopen(path, "rb");
	assert_non_null(b);
	assert_non_null(f);
	assert_int_equal(fread(b, 1, (size_t)st->st_size, f), (size_t)st->st_size);
	fclose(f);
	compare_variants(b, (size_t)st->st_size, path);
	free(b);
	compared++;
	return 0;
}

/* --- hand-made images --------------------------------------------------- */

static void test_both_byte_orders(void **state)
{
	(void)state;
	for (int be = 0; be < 2; be++) {
		struct image im;
		struct replay_pcap r;
		struct replay_pcap_rec rec;

		file_header(&im, be, 0xa1b2c3d4, 65535, 1);
		record(&im, 1700000000, 123456, 60, 60);
		record(&im, 1700000001, 999999, 3, 1514);
		assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
		assert_int_equal(r.big_endian, be);
		assert_int_equal(r.dlt, DLT_EN10MB);
		assert_int_equal(r.snaplen, 65535);
		assert_int_equal(replay_pcap_next(&r, &rec), 1);
		assert_int_equal(rec.sec, 1700000000);
		assert_int_equal(rec.usec, 123456);
		assert_int_equal(rec.caplen, 60);
		assert_int_equal(rec.len, 60);
		assert_ptr_equal(rec.data, im.b + 24 + 16);
		assert_int_equal(replay_pcap_next(&r, &rec), 1);
		assert_int_equal(rec.caplen, 3);
		assert_int_equal(rec.len, 1514);
		assert_int_equal(rec.data[2], 2);
		assert_int_equal(replay_pcap_offset(&r), im.n);
		assert_int_equal(replay_pcap_next(&r, &rec), 0);
		assert_int_equal(replay_pcap_next(&r, &rec), 0);
		assert_true(same_as_libpcap(im.b, im.n, "both byte orders"));
	}
}

static void test_nanoseconds(void **state)
{
	struct image im;
	struct replay_pcap r;
	struct replay_pcap_rec rec;

	(void)state;
	for (int be = 0; be < 2; be++) {
		file_header(&im, be, 0xa1b23c4d, 0, 101);
		record(&im, 5, 999999999, 20, 20);
		record(&im, 0xffffffffu, 0xfffffc17u, 20, 20); /* -1 s, -1001 ns */
		assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
		assert_true(r.nsec);
		assert_int_equal(r.dlt, DLT_RAW);
		assert_int_equal(r.snaplen, 262144); /* 0: libpcap's maximum */
		assert_int_equal(replay_pcap_next(&r, &rec), 1);
		assert_int_equal(rec.sec, 5);
		assert_int_equal(rec.usec, 999999);
		assert_int_equal(replay_pcap_next(&r, &rec), 1);
		/* libpcap's quirk: signed in the host's order, not in the other */
		if (be == (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)) {
			assert_int_equal(rec.sec, -1);
			assert_int_equal(rec.usec, -1);
		} else {
			assert_int_equal(rec.sec, 0xffffffffu);
			assert_int_equal(rec.usec, 0xfffffc17u / 1000);
		}
		assert_true(same_as_libpcap(im.b, im.n, "nanoseconds"));
	}
}

static void test_truncated_record_header(void **state)
{
	struct image im;
	struct replay_pcap r;
	struct replay_pcap_rec rec;

	(void)state;
	file_header(&im, false, 0xa1b2c3d4, 65535, 1);
	record(&im, 1, 2, 10, 10);
	im.n += 9; /* 9 bytes of a record header */
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
	assert_int_equal(replay_pcap_next(&r, &rec), 1);
	assert_int_equal(replay_pcap_next(&r, &rec), -1);
	assert_string_equal(r.err,
			    "truncated dump file; tried to read 16 header bytes, only got 9");
	assert_int_equal(replay_pcap_next(&r, &rec), 0); /* nothing after damage */
	assert_true(same_as_libpcap(im.b, im.n, "truncated record header"));
}

static void test_truncated_record_data(void **state)
{
	struct image im;
	struct replay_pcap r;
	struct replay_pcap_rec rec;

	(void)state;
	file_header(&im, true, 0xa1b2c3d4, 65535, 113);
	record(&im, 1, 2, 100, 100);
	im.n -= 40;
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
	assert_int_equal(r.dlt, DLT_LINUX_SLL);
	assert_int_equal(replay_pcap_next(&r, &rec), -1);
	assert_string_equal(r.err,
			    "truncated dump file; tried to read 100 captured bytes, only got 60");
	assert_true(same_as_libpcap(im.b, im.n, "truncated record data"));
}

/* caplen above the snaplen: cut to the snaplen, the rest skipped; and the
 * same damaged within the snaplen and within the rest. */
static void test_caplen_above_snaplen(void **state)
{
	struct image im;
	struct replay_pcap r;
	struct replay_pcap_rec rec;

	(void)state;
	file_header(&im, false, 0xa1b2c3d4, 64, 1);
	record(&im, 1, 2, 100, 100);
	record(&im, 3, 4, 10, 10);
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
	assert_int_equal(replay_pcap_next(&r, &rec), 1);
	assert_int_equal(rec.caplen, 64);
	assert_int_equal(rec.len, 100);
	assert_int_equal(replay_pcap_next(&r, &rec), 1);
	assert_int_equal(rec.sec, 3);
	assert_int_equal(rec.caplen, 10);
	assert_int_equal(replay_pcap_next(&r, &rec), 0);
	assert_true(same_as_libpcap(im.b, im.n, "caplen above snaplen"));

	file_header(&im, false, 0xa1b2c3d4, 64, 1);
	record(&im, 1, 2, 100, 100);
	im.n -= 20; /* 80 of 100 bytes: the snaplen's worth is there */
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
	assert_int_equal(replay_pcap_next(&r, &rec), -1);
	assert_string_equal(r.err,
			    "truncated dump file; tried to read 100 captured bytes, only got 80");
	assert_true(same_as_libpcap(im.b, im.n, "caplen above snaplen, cut after it"));
	im.n -= 40; /* 40 bytes: not even the snaplen's worth */
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
	assert_int_equal(replay_pcap_next(&r, &rec), -1);
	assert_string_equal(r.err,
			    "truncated dump file; tried to read 64 captured bytes, only got 40");
	assert_true(same_as_libpcap(im.b, im.n, "caplen above snaplen, cut before it"));
}

/* A hostile caplen: refused before any allocation or read, whatever the
 * file's size. */
static void test_absurd_caplen(void **state)
{
	static const uint32_t lies[] = { 262145, 0x7fffffff, 0x80000000, 0xffffffff };
	struct image im;
	struct replay_pcap r;
	struct replay_pcap_rec rec;
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		file_header(&im, false, 0xa1b2c3d4, 65535, 1);
		record(&im, 1, 2, 0, 0);
		store32(im.b + 24 + 8, false, lies[i]);
		im.n += 100;
		assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
		assert_int_equal(replay_pcap_next(&r, &rec), -1);
		snprintf(want, sizeof(want),
			 "invalid packet capture length %u, bigger than snaplen of 65535", lies[i]);
		assert_string_equal(r.err, want);
		assert_true(same_as_libpcap(im.b, im.n, "absurd caplen"));
	}
}

/* libpcap keeps a snaplen above its maximum (up to INT_MAX): a caplen
 * between the two is refused with another message. */
static void test_large_snaplen(void **state)
{
	static const uint32_t snaps[] = {
		262144, 262145, 263936, 0x7fffffff, 0x80000000, 0xffffffff
	};
	struct image im;
	struct replay_pcap r;
	struct replay_pcap_rec rec;
	const char *prefix = "invalid packet capture length 263000, bigger than";
	char what[64], want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++) {
		file_header(&im, false, 0xa1b2c3d4, snaps[i], 1);
		record(&im, 1, 2, 100, 100);
		record(&im, 1, 2, 0, 0);
		store32(im.b + im.n - 8, false, 263000); /* the second record's caplen */
		im.n += 64;
		assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
		assert_int_equal(r.snaplen, snaps[i] > 0x7fffffff ? 262144 : snaps[i]);
		assert_int_equal(replay_pcap_next(&r, &rec), 1);
		assert_int_equal(replay_pcap_next(&r, &rec), -1);
		if (r.snaplen >= 263000)
			snprintf(want, sizeof(want), "%s maximum of 262144", prefix);
		else
			snprintf(want, sizeof(want), "%s snaplen of %u", prefix, r.snaplen);
		assert_string_equal(r.err, want);
		snprintf(what, sizeof(what), "snaplen %u", snaps[i]);
		assert_true(same_as_libpcap(im.b, im.n, what));
	}
}

static void test_header_only(void **state)
{
	struct image im;
	struct replay_pcap r;
	struct replay_pcap_rec rec;

	(void)state;
	file_header(&im, false, 0xa1b2c3d4, 65535, 229);
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
	assert_int_equal(r.dlt, DLT_IPV6);
	assert_int_equal(replay_pcap_next(&r, &rec), 0);
	assert_true(same_as_libpcap(im.b, im.n, "header only"));
}

/* What replay_pcap leaves to libpcap, for libpcap's own messages. */
static void test_not_mine(void **state)
{
	static const uint8_t garbage[] = "this is not a capture file at all\n";
	static const uint8_t pcapng[] = { 0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0,	 0,    0x4d, 0x3c,
					  0x2b, 0x1a, 1,    0,	  0,	0, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0x1c, 0, 0,	 0 };
	struct image im;
	struct replay_pcap r;

	(void)state;
	assert_int_equal(replay_pcap_open(&r, NULL, 0), REPLAY_PCAP_NOT_MINE);
	assert_int_equal(replay_pcap_open(&r, garbage, sizeof(garbage) - 1), REPLAY_PCAP_NOT_MINE);
	assert_int_equal(replay_pcap_open(&r, pcapng, sizeof(pcapng)), REPLAY_PCAP_NOT_MINE);
	file_header(&im, false, 0xa1b2c3d4, 65535, 1);
	for (size_t n = 0; n < 24; n++) /* a file header cut short */
		assert_int_equal(replay_pcap_open(&r, im.b, n), REPLAY_PCAP_NOT_MINE);
	file_header(&im, false, 0xa1b2c3d4, 65535, 147); /* USER0 */
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), REPLAY_PCAP_NOT_MINE);
	file_header(&im, false, 0xa1b2c3d4, 65535, 12); /* DLT_RAW's own value */
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), REPLAY_PCAP_NOT_MINE);
	file_header(&im, false, 0xa1b2cd34, 65535, 1); /* Kuznetzov's */
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), REPLAY_PCAP_NOT_MINE);
	file_header(&im, false, 0xa1b2c3d4, 65535, 1);
	im.b[6] = 3; /* version 2.3: caplen and len may be swapped */
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), REPLAY_PCAP_NOT_MINE);
	/* The upper 6 bits of the link type are not the link type. */
	file_header(&im, false, 0xa1b2c3d4, 65535, 1 | 0x04000000);
	assert_int_equal(replay_pcap_open(&r, im.b, im.n), 0);
	assert_int_equal(r.dlt, DLT_EN10MB);
	assert_true(same_as_libpcap(im.b, im.n, "link type with extra bits"));
}

/* Every cut of a small two-record image, in both byte orders. */
static void test_every_cut(void **state)
{
	struct image im;
	char what[64];

	(void)state;
	for (int be = 0; be < 2; be++) {
		file_header(&im, be, 0xa1b2c3d4, 50, 1);
		record(&im, 1, 2, 30, 30);
		record(&im, 3, 4, 70, 70); /* above the snaplen */
		record(&im, 5, 6, 0, 0);
		for (size_t cut = 0; cut <= im.n; cut++) {
			snprintf(what, sizeof(what), "cut at %zu", cut);
			(void)same_as_libpcap(im.b, cut, what);
		}
	}
}

static void test_same_as_libpcap_on_captures(void **state)
{
	const char *top = getenv("top_srcdir");
	const char *peer = getenv("DPIX_PEER_PCAPS");
	char path[4096];
	DIR *d;

	(void)state;
	compared = 0;
	assert_int_equal(nftw(PCAPS_DIR, compare_file, 16, FTW_PHYS), 0);
	assert_true(compared > 0);
	if (!peer && top) {
		snprintf(path, sizeof(path), "%s/../shared/peer-pcaps", top);
		peer = path;
	}
	if (peer && (d = opendir(peer))) {
		closedir(d);
		assert_int_equal(nftw(peer, compare_file, 16, FTW_PHYS), 0);
	}
	print_message("compared with libpcap: %u captures and their variants\n", compared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_byte_orders),
		cmocka_unit_test(test_nanoseconds),
		cmocka_unit_test(test_truncated_record_header),
		cmocka_unit_test(test_truncated_record_data),
		cmocka_unit_test(test_caplen_above_snaplen),
		cmocka_unit_test(test_absurd_caplen),
		cmocka_unit_test(test_large_snaplen),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_not_mine),
		cmocka_unit_test(test_every_cut),
		cmocka_unit_test(test_same_as_libpcap_on_captures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
