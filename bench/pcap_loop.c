/*
 * pcap_loop.c: the floor for `dpix replay`: read every packet of a capture
 * with pcap_next_ex() and touch its first and last byte, nothing else.
 * The file is read as a plain libpcap user would: fopen() with a 1 MiB
 * stdio buffer, then pcap_fopen_offline(). (dpix replay read classic pcap
 * this way too until it got its own mmap reader; bench/notes-replay.md.)
 *
 *   pcap_loop FILE...
 *
 * Prints "packets N bytes B seconds S" (S: the read loop only, monotonic
 * clock) on stdout. bench/run times the whole process, as for dpix and
 * ndpiReader.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	unsigned long long n = 0, bytes = 0, sum = 0;
	struct timespec t0, t1;

	if (argc < 2) {
		fprintf(stderr, "usage: pcap_loop FILE...\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		char *buf = malloc(1u << 20);
		pcap_t *p = NULL;
		struct pcap_pkthdr *h;
		const u_char *d;
		int rc;

		if (f && buf && setvbuf(f, buf, _IOFBF, 1u << 20) == 0)
			p = pcap_fopen_offline(f, err);
		if (!p) {
			fprintf(stderr, "pcap_loop: %s: %s\n", argv[i], f ? err : "cannot open");
			return 1;
		}
		while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
			n++;
			bytes += h->caplen;
			if (h->caplen)
				sum += d[0] + d[h->caplen - 1];
		}
		if (rc == PCAP_ERROR)
			fprintf(stderr, "pcap_loop: %s: %s\n", argv[i], pcap_geterr(p));
		pcap_close(p);
		free(buf);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("packets %llu bytes %llu seconds %.6f (sum %llu)\n", n, bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, sum & 0xff);
	return 0;
}
