/*
 * fuzz_replay_pcap.c: libFuzzer harness for dpix's own classic-pcap reader
 * (src/replay/replay_pcap.c), differential against libpcap.
 *
 * The input is a file image. Whatever replay_pcap takes is also read by
 * libpcap from memory (fmemopen + pcap_fopen_offline, microsecond
 * precision, as replay opens files); both must give the same records
 * (caplen, len, timestamp, bytes) and end the same way: at the end of the
 * file, or with the same message at the same record. libpcap must accept
 * every file header replay_pcap accepts. What replay_pcap leaves to
 * libpcap is not compared (replay hands it to libpcap as it is).
 *
 * Each record is copied into a heap block of exactly its length and read
 * in full, and every record must lie inside the input, so a reader that
 * points past the image or past a record is an ASan error or a failure.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay_pcap.h"

#define MAX_RECORDS 100000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Noreturn void fail(const char *what, uint64_t n)
{
	fprintf(stderr, "fuzz_replay_pcap: record %llu: %s\n", (unsigned long long)n, what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct replay_pcap r;
	struct replay_pcap_rec rec;
	struct pcap_pkthdr *h;
	const u_char *pdata;
	uint64_t n = 0;
	pcap_t *pc;
	FILE *f;
	int rc, prc;

	if (replay_pcap_open(&r, data, size) < 0)
		return 0;
	f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (!pc)
		fail("libpcap refuses a file header replay_pcap takes", 0);
	if (pcap_datalink(pc) != r.dlt)
		fail("link types differ", 0);
	for (;;) {
		rc = replay_pcap_next(&r, &rec);
		prc = pcap_next_ex(pc, &h, &pdata);
		if (rc != 1 || prc != 1 || n >= MAX_RECORDS)
			break;
		n++;
		if (rec.data < data || rec.caplen > size ||
		    rec.data - data > (ptrdiff_t)(size - rec.caplen))
			fail("record outside the input", n);
		if (rec.caplen != h->caplen || rec.len != h->len || rec.sec != h->ts.tv_sec ||
		    rec.usec != h->ts.tv_usec)
			fail("record header differs from libpcap's", n);
		if (rec.caplen) {
			uint8_t *copy = malloc(rec.caplen);

			if (!copy)
				fail("out of memory", n);
			memcpy(copy, rec.data, rec.caplen);
			if (memcmp(copy, pdata, rec.caplen) != 0)
				fail("record bytes differ from libpcap's", n);
			free(copy);
		}
	}
	if (n < MAX_RECORDS) {
		if (rc == 1 || prc == 1)
			fail("one reader ended before the other", n + 1);
		if ((rc < 0) != (prc == PCAP_ERROR))
			fail("one reader found damage, the other the end of the file", n + 1);
		if (rc < 0 && strcmp(r.err, pcap_geterr(pc)) != 0) {
			fprintf(stderr, "replay_pcap: %s\nlibpcap:     %s\n", r.err,
				pcap_geterr(pc));
			fail("messages differ", n + 1);
		}
	}
	pcap_close(pc);
	return 0;
}
