/*
 * flowgen.c: new UDP flows as fast as one core sends them, for bench/run.
 *
 *   flowgen -s SRC -n NSRC -d DST -p DPORT [-t SECONDS]
 *
 * Raw IPv4 packets (IP_HDRINCL), each a new flow: the source address
 * cycles over NSRC addresses from SRC, the source port over 1024-65535,
 * so up to NSRC * 64,512 distinct flows before one repeats. The payload
 * is a STUN Binding request (20 bytes). Sent in sendmmsg() batches of 64
 * for SECONDS; prints "sent N seconds S rate R".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PKT 48 /* IPv4 20 + UDP 8 + STUN 20 */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static unsigned ip_checksum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Packet k of the run: source address SRC + k % NSRC, port from k / NSRC. */
static void packet(uint8_t *b, uint32_t src, uint32_t nsrc, uint32_t dst, unsigned dport,
		   uint64_t k)
{
	uint32_t s = src + (uint32_t)(k % nsrc);
	unsigned sport = 1024 + (unsigned)((k / nsrc) % 64512);

	memset(b, 0, PKT);
	b[0] = 0x45;
	put16(b + 2, PKT);
	b[8] = 64;
	b[9] = IPPROTO_UDP;
	put32(b + 12, s);
	put32(b + 16, dst);
	put16(b + 10, ip_checksum(b, 20));
	put16(b + 20, sport);
	put16(b + 22, dport);
	put16(b + 24, PKT - 20); /* UDP checksum 0: none */
	put16(b + 28, 0x0001);	 /* Binding request, no attributes */
	put32(b + 32, 0x2112a442);
	put32(b + 36, (uint32_t)k);
}

int main(int argc, char **argv)
{
	static uint8_t pkts[BATCH][PKT];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct in_addr a;
	uint32_t src = 0, nsrc = 1, dst = 0;
	unsigned dport = 3478;
	double secs = 2, t0, el;
	uint64_t sent = 0;
	int c, s;

	while ((c = getopt(argc, argv, "s:n:d:p:t:")) != -1) {
		switch (c) {
		case 's':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				goto usage;
			src = ntohl(a.s_addr);
			break;
		case 'n':
			nsrc = (uint32_t)atoi(optarg);
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &to.sin_addr) != 1)
				goto usage;
			dst = ntohl(to.sin_addr.s_addr);
			break;
		case 'p':
			dport = (unsigned)atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (!src || !dst || nsrc < 1 || nsrc > 256 || !dport || dport > 65535)
		goto usage;
	if ((s = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) < 0) {
		perror("flowgen: raw socket");
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ pkts[i], PKT };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &to,
							 .msg_namelen = sizeof(to),
							 .msg_iov = &iov[i],
							 .msg_iovlen = 1 } };
	}
	t0 = now();
	while ((el = now() - t0) < secs) {
		int n;

		for (int i = 0; i < BATCH; i++)
			packet(pkts[i], src, nsrc, dst, dport, sent + (uint64_t)i);
		n = sendmmsg(s, msgs, BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
	}
	printf("sent %llu seconds %.3f rate %.0f\n", (unsigned long long)sent, el, sent / el);
	return 0;
usage:
	fprintf(stderr, "usage: flowgen -s SRC -n NSRC -d DST -p DPORT [-t SECONDS]\n");
	return 2;
}
