/*
 * connrate.c: new TCP flows per second and first-byte latency through a
 * gateway, for bench/run.
 *
 *   connrate -s [-p PORT]                      server: answer each
 *                                              connection's first payload
 *                                              with one byte, then close
 *   connrate -c ADDR [-p PORT] [-n CONC] [-t SECONDS] [-H HOST]
 *                                              client
 *   connrate -u -s [-p PORT]                   UDP server: echo
 *   connrate -u -c ADDR [-p PORT] [-t SECONDS] UDP client
 *
 * The client keeps CONC connections in flight for SECONDS: connect, send a
 * TLS ClientHello with SNI HOST (so dpixd classifies the flow on its first
 * payload), wait for the server's byte, close with RST (SO_LINGER 0: no
 * TIME_WAIT, so the source ports last). It prints "conns N seconds S rate R
 * p50_us P p90_us Q failed F", the latencies being connect() to first
 * byte. One thread, epoll, both sides.
 *
 * With -u, one new UDP flow at a time (a new socket, so a new source
 * port): a STUN Binding request (20 bytes, so dpixd recognizes it on the
 * first packet), the echo back, close; "probes N p50_us P p90_us Q failed
 * F", the latencies being send to echo received: the first packets'
 * round trip through the gateway, for the added-latency comparison.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC 1024
#define MAX_SAMPLES (1u << 22)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A minimal TLS 1.2 ClientHello carrying server_name HOST. */
static size_t client_hello(uint8_t *b, const char *host)
{
	size_t hl = strlen(host), n = 0, ext, hs;

	b[n++] = 0x16, b[n++] = 3, b[n++] = 1, n += 2; /* record, length later */
	hs = n;
	b[n++] = 1, n += 3; /* ClientHello, length later */
	b[n++] = 3, b[n++] = 3;
	for (int i = 0; i < 32; i++)
		b[n++] = (uint8_t)(i * 7 + 1);
	b[n++] = 0;		 /* session id */
	put16(b + n, 4), n += 2; /* cipher suites */
	b[n++] = 0x13, b[n++] = 0x01, b[n++] = 0xc0, b[n++] = 0x2f;
	b[n++] = 1, b[n++] = 0; /* compression: null */
	ext = n, n += 2;
	put16(b + n, 0), n += 2; /* server_name */
	put16(b + n, hl + 5), n += 2;
	put16(b + n, hl + 3), n += 2;
	b[n++] = 0;
	put16(b + n, hl), n += 2;
	memcpy(b + n, host, hl), n += hl;
	put16(b + ext, n - ext - 2);
	put16(b + 3, n - 5);
	b[hs + 1] = 0, put16(b + hs + 2, n - hs - 4);
	return n;
}

static int server(int port)
{
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	int ep = epoll_create1(0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls }, evs[256];

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4096)) {
		perror("connrate: listen");
		return 1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			char buf[4096];

			if (fd == ls) {
				int c;

				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };

					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
				}
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r > 0 && write(fd, "x", 1) != 1)
				r = 0;
			if (r >= 0 || errno != EAGAIN)
				close(fd);
		}
	}
}

struct conn {
	int fd;
	double t0;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int start(int ep, struct conn *c, const struct sockaddr_in *a)
{
	struct linger lg = { 1, 0 };
	struct epoll_event ev = { .events = EPOLLOUT };

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	c->t0 = now();
	if (connect(c->fd, (const struct sockaddr *)a, sizeof(*a)) && errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static int client(const char *addr, int port, int conc, double secs, const char *host)
{
	static struct conn conns[MAX_CONC];
	static uint8_t hello[1024];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct epoll_event evs[256];
	double *lat = malloc(MAX_SAMPLES * sizeof(*lat)), t0, end;
	size_t hlen = client_hello(hello, host), nlat = 0;
	unsigned long done = 0, failed = 0;
	int ep = epoll_create1(0);

	if (!lat || inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "connrate: bad address %s\n", addr);
		return 2;
	}
	t0 = now();
	end = t0 + secs;
	for (int i = 0; i < conc; i++)
		if (start(ep, &conns[i], &a))
			failed++;
	while (now() < end) {
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			char buf[64];
			int err = 0;
			socklen_t el = sizeof(err);

			if (evs[i].events & EPOLLOUT) {
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (!err && write(c->fd, hello, hlen) == (ssize_t)hlen) {
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
					continue;
				}
				failed++;
			} else if (read(c->fd, buf, sizeof(buf)) > 0) {
				if (nlat < MAX_SAMPLES)
					lat[nlat++] = now() - c->t0;
				done++;
			} else {
				failed++;
			}
			close(c->fd);
			if (start(ep, c, &a))
				failed++;
		}
	}
	double el = now() - t0;

	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("conns %lu seconds %.3f rate %.0f p50_us %.1f p90_us %.1f failed %lu\n", done, el,
	       done / el, nlat ? lat[nlat / 2] * 1e6 : 0, nlat ? lat[nlat * 9 / 10] * 1e6 : 0,
	       failed);
	return 0;
}

static int udp_server(int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (bind(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("connrate: bind");
		return 1;
	}
	for (;;) {
		uint8_t b[2048];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);

		if (n > 0)
			sendto(s, b, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

static int udp_client(const char *addr, int port, double secs)
{
	static double lat[MAX_SAMPLES];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 1 };
	unsigned long nlat = 0, failed = 0;
	double t0 = now();
	uint8_t req[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return 2;
	while (now() - t0 < secs && nlat < MAX_SAMPLES) {
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		uint8_t b[64];
		double t;

		for (int i = 8; i < 20; i++) /* transaction id */
			req[i] = (uint8_t)(nlat * 31 + (unsigned long)i);
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		t = now();
		if (sendto(s, req, sizeof(req), 0, (struct sockaddr *)&a, sizeof(a)) !=
			sizeof(req) ||
		    recv(s, b, sizeof(b), 0) != sizeof(req))
			failed++;
		else
			lat[nlat++] = now() - t;
		close(s);
	}
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("probes %lu p50_us %.1f p90_us %.1f failed %lu\n", nlat,
	       nlat ? lat[nlat / 2] * 1e6 : 0, nlat ? lat[nlat * 9 / 10] * 1e6 : 0, failed);
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *host = "www.example.com";
	int port = 443, conc = 64, srv = 0, udp = 0, c;
	double secs = 3;

	while ((c = getopt(argc, argv, "usc:p:n:t:H:")) != -1) {
		switch (c) {
		case 'u':
			udp = 1;
			break;
		case 's':
			srv = 1;
			break;
		case 'c':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			conc = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'H':
			host = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (conc < 1 || conc > MAX_CONC)
		goto usage;
	if (udp && srv)
		return udp_server(port);
	if (udp && addr)
		return udp_client(addr, port, secs);
	if (srv)
		return server(port);
	if (addr)
		return client(addr, port, conc, secs, host);
usage:
	fprintf(
	    stderr,
	    "usage: connrate [-u] -s [-p PORT] | -c ADDR [-p PORT] [-n CONC] [-t S] [-H HOST]\n");
	return 2;
}
