/*
 * nfq_accept.c: the floor cost of the NFQUEUE mechanism for bench/run: an
 * accept-all reader on src/nfq/nfq.[ch], the same batched receive
 * (recvmmsg), batched verdicts, GSO flag, copy range and buffers as dpixd,
 * but no decode, no flow table and no mark. Accepts every packet.
 *
 *   nfq_accept [-q QUEUE] [-c COPY_RANGE]
 *
 * Runs until SIGINT or SIGTERM, then prints "packets N verdicts V overruns
 * O seconds S" on stdout.
 */
#include <linux/netfilter.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "nfq/nfq.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct nfqueue_config cfg = { .queue = 0,
				      .copy_range = 4096,
				      .maxlen = 4096,
				      .fail_open = true,
				      .rcvbuf = 8u << 20 };
	struct nfqueue_packet pkts[NFQ_BATCH];
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec t0, t1;
	char err[256];
	struct nfqueue *q;
	int c;

	while ((c = getopt(argc, argv, "q:c:")) != -1) {
		if (c == 'q')
			cfg.queue = (uint16_t)atoi(optarg);
		else if (c == 'c')
			cfg.copy_range = (uint32_t)atoi(optarg);
		else {
			fprintf(stderr, "usage: nfq_accept [-q QUEUE] [-c COPY_RANGE]\n");
			return 2;
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	q = nfqueue_open(&cfg, err, sizeof(err));
	if (!q) {
		fprintf(stderr, "nfq_accept: %s\n", err);
		return 1;
	}
	fprintf(stderr, "nfq_accept: serving queue %u\n", cfg.queue);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		int n = nfqueue_recv(q, pkts, NFQ_BATCH, 200);

		for (int i = 0; i < n; i++)
			nfqueue_verdict(q, pkts[i].id, NF_ACCEPT, false, 0);
		if (n > 0)
			nfqueue_flush(q);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const struct nfqueue_counters *k = nfqueue_counters(q);
	printf("packets %llu verdicts %llu overruns %llu seconds %.3f\n",
	       (unsigned long long)k->received, (unsigned long long)k->verdicts,
	       (unsigned long long)k->overruns,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	nfqueue_close(q);
	return 0;
}
