/*
 * tunnels.c: HTTP CONNECT tunnels through a forward proxy, for
 * bench/proxy.sh.
 *
 *   tunnels -s [-p PORT]     server, three ports from PORT (default 5001):
 *                            PORT   bulk: writes zeros until the peer goes
 *                            PORT+1 short: writes 4 bytes, then closes
 *                            PORT+2 hold: reads until EOF, writes nothing
 *   tunnels -x PROXY:PORT -T HOST:PORT [-D] -m bulk|rate|idle [-n N] [-t S]
 *                            client
 *
 * Each client connection connects to the proxy, sends
 * "CONNECT HOST:PORT HTTP/1.1" and reads the answer's head (200 expected);
 * with -D there is no CONNECT (a TCP relay such as haproxy in tcp mode,
 * already pointed at the server). Then:
 *   bulk  N tunnels read the bulk port's zeros for S seconds; prints
 *         "gbps G tunnels N failed F" (payload bytes after the heads)
 *   rate  N in flight for S seconds, each: CONNECT, 200, the 4 bytes, EOF,
 *         close (SO_LINGER 0: no TIME_WAIT); prints "tunnels_per_s R done
 *         D failed F"
 *   idle  opens N tunnels to the hold port, then prints "ready OPEN failed F"
 *         and keeps them open, idle, until stdin ends.
 * One thread, epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_CONNECTING, C_HEAD, C_DATA };

struct conn {
	int fd;
	int state;
	size_t hlen;
	char head[512];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

#define ZEROS (1 << 20) /* what the bulk server offers per write */

static int listen_on(int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4096) < 0)
		die("bind/listen");
	return s;
}

/* The server: the listening socket's kind is in the epoll data's top bits. */
static int server(int port)
{
	static char zeros[ZEROS], buf[65536];
	int ep = epoll_create1(0), zfd = memfd_create("zeros", 0);
	int ls[3];
	struct epoll_event ev, evs[256];

	for (int i = 0; i < 3; i++) {
		ls[i] = listen_on(port + i);
		ev.events = EPOLLIN;
		ev.data.u64 = ((uint64_t)(4 + i) << 32) | (uint32_t)ls[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, ls[i], &ev);
	}
	if (zfd < 0 || write(zfd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros))
		die("memfd");
	fprintf(stderr, "tunnels: serving ports %d-%d\n", port, port + 2);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int kind = (int)(evs[i].data.u64 >> 32),
			    fd = (int)(uint32_t)evs[i].data.u64;

			if (kind >= 4) { /* a listener */
				int c;

				while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (kind == 5) {
						ssize_t w = write(c, "abcd", 4);
						(void)w;
						shutdown(c, SHUT_WR);
					}
					ev.events = kind == 4 ? EPOLLIN | EPOLLOUT : EPOLLIN;
					ev.data.u64 = ((uint64_t)(kind - 4) << 32) | (uint32_t)c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					close(fd);
					continue;
				}
			}
			if (kind == 0 && (evs[i].events & EPOLLOUT)) {
				/* From a memfd of zeros: page references, no copy,
				 * so the server costs the proxies' CPUs little. */
				off_t off = 0;
				ssize_t w = sendfile(fd, zfd, &off, ZEROS);

				if (w < 0 && errno != EAGAIN)
					close(fd);
			}
		}
	}
	return 0;
}

static struct sockaddr_in proxy;
static char request[300];
static size_t reqlen;
static int direct, ep;
static long failed, done;
static double bytes;

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *c = strrchr(s, ':');

	if (!c || (size_t)(c - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = 0;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int start(struct conn *c)
{
	struct epoll_event ev;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		die("socket");
	c->hlen = 0;
	c->state = C_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&proxy, sizeof(proxy)) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		failed++;
		return -1;
	}
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void finish(struct conn *c, int ok)
{
	struct linger l = { 1, 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(c->fd);
	c->fd = -1;
	if (ok)
		done++;
	else
		failed++;
}

/* Returns 1 when the connection reached the tunnel state just now. */
static int step(struct conn *c, uint32_t events, int mode)
{
	static char buf[1 << 17];

	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err || !(events & EPOLLOUT)) {
			finish(c, 0);
			return 0;
		}
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		if (direct) {
			c->state = C_DATA;
			return 1;
		}
		if (write(c->fd, request, reqlen) != (ssize_t)reqlen) {
			finish(c, 0);
			return 0;
		}
		c->state = C_HEAD;
		return 0;
	}
	if (c->state == C_HEAD) {
		ssize_t r = read(c->fd, c->head + c->hlen, sizeof(c->head) - 1 - c->hlen);
		char *e;

		if (r <= 0) {
			if (r < 0 && errno == EAGAIN)
				return 0;
			finish(c, 0);
			return 0;
		}
		c->hlen += (size_t)r;
		c->head[c->hlen] = 0;
		e = strstr(c->head, "\r\n\r\n");
		if (!e) {
			if (c->hlen >= sizeof(c->head) - 1)
				finish(c, 0);
			return 0;
		}
		if (strncmp(c->head, "HTTP/1.1 200", 12) != 0 &&
		    strncmp(c->head, "HTTP/1.0 200", 12) != 0) {
			finish(c, 0);
			return 0;
		}
		c->state = C_DATA;
		bytes += (double)(c->hlen - (size_t)(e + 4 - c->head));
		return 1;
	}
	for (;;) {
		/* Bulk bytes are counted and dropped in the kernel
		 * (MSG_TRUNC on TCP: no copy), so the client costs little. */
		ssize_t r =
		    mode == 0 ? recv(c->fd, buf, sizeof(buf), MSG_TRUNC) : read(c->fd, buf, 64);

		if (r > 0) {
			bytes += (double)r;
			if (mode == 0)
				return 0; /* one read per event: fair among tunnels */
			continue;
		}
		if (r < 0 && errno == EAGAIN)
			return 0;
		finish(c, mode == 1 && r == 0);
		return 0;
	}
}

int main(int argc, char **argv)
{
	const char *target = NULL, *mode_s = "bulk";
	int opt, port = 5001, srv = 0, n = 1, mode;
	double secs = 5, t0, t1;
	struct conn *cs;
	struct epoll_event evs[512];

	/* A peer gone while a write is under way: EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "sp:x:T:Dm:n:t:")) != -1) {
		switch (opt) {
		case 's':
			srv = 1;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'x':
			if (parse_addr(optarg, &proxy) < 0) {
				fprintf(stderr, "tunnels: bad proxy address %s\n", optarg);
				return 2;
			}
			break;
		case 'T':
			target = optarg;
			break;
		case 'D':
			direct = 1;
			break;
		case 'm':
			mode_s = optarg;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: tunnels -s [-p PORT] | -x PROXY:PORT -T HOST:PORT "
					"[-D] -m bulk|rate|idle [-n N] [-t S]\n");
			return 2;
		}
	}
	if (srv)
		return server(port);
	mode = !strcmp(mode_s, "bulk")	 ? 0
	       : !strcmp(mode_s, "rate") ? 1
	       : !strcmp(mode_s, "idle") ? 2
					 : -1;
	if (mode < 0 || !proxy.sin_port || (!target && !direct) || n < 1) {
		fprintf(stderr, "tunnels: need -x, -T (or -D), -m bulk|rate|idle\n");
		return 2;
	}
	if (target)
		reqlen =
		    (size_t)snprintf(request, sizeof(request),
				     "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
	ep = epoll_create1(0);
	cs = calloc((size_t)n, sizeof(*cs));
	if (!cs)
		die("calloc");
	t0 = now();
	if (mode == 2) { /* idle: open them all, a few hundred at a time */
		long open = 0, started = 0;

		while (open + failed < n) {
			while (started < n && started - open - failed < 200)
				start(&cs[started++]);
			int k = epoll_wait(ep, evs, 512, 1000);

			for (int i = 0; i < k; i++)
				open += step(evs[i].data.ptr, evs[i].events, 2);
			if (k == 0 && now() - t0 > 60)
				break;
		}
		printf("ready %ld failed %ld seconds %.2f\n", open, failed, now() - t0);
		fflush(stdout);
		char b[64];
		while (read(0, b, sizeof(b)) > 0)
			;
		return 0;
	}
	for (int i = 0; i < n; i++)
		start(&cs[i]);
	double tb = 0;
	int counting = mode == 1;

	t1 = t0 + secs;
	if (mode == 0) { /* bulk: count from when every tunnel is up (or 5 s) */
		int up = 0;

		while (up + failed < n && now() - t0 < 5) {
			int k = epoll_wait(ep, evs, 512, 100);

			for (int i = 0; i < k; i++)
				up += step(evs[i].data.ptr, evs[i].events, 0);
		}
		t0 = now();
		t1 = t0 + secs;
		tb = bytes;
		counting = 1;
	}
	while (counting && now() < t1) {
		int k = epoll_wait(ep, evs, 512, 50);

		for (int i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;

			step(c, evs[i].events, mode);
			if (c->fd < 0 && mode == 1)
				start(c);
		}
	}
	t1 = now();
	if (mode == 0) {
		long alive = 0;

		for (int i = 0; i < n; i++)
			alive += cs[i].fd >= 0;
		printf("gbps %.3f tunnels %ld failed %ld\n", (bytes - tb) * 8 / (t1 - t0) / 1e9,
		       alive, failed);
	} else {
		printf("tunnels_per_s %.0f done %ld failed %ld\n", done / (t1 - t0), done, failed);
	}
	return 0;
}
