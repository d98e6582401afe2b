/*
 * dpixd_ctl.c: the control socket and the metrics listener, served with
 * the signals by one poll loop on the main thread (the workers never wait
 * for it: it reads their published counters).
 *
 * Control protocol, over a unix stream socket: a request is one line, at
 * most CTL_LINE_MAX bytes; the answer is one or more lines. A client may
 * send several requests; the server closes after the answers once the
 * client has shut its side.
 *
 *     stats    -> one JSON object, one line
 *     metrics  -> Prometheus text exposition format
 *     reload   -> "ok: ..." or "error: ..." (as SIGHUP)
 *     version  -> "dpixd VERSION"
 *
 * Metrics listener, TCP: HTTP/1.1 "GET /metrics" only (404 for any other
 * path, 405 for another method, 400 for anything else), one request per
 * connection, closed after the answer. A head over CTL_HTTP_MAX bytes, a
 * request line over CTL_LINE_MAX, a client silent for CTL_IDLE_MS, and a
 * client over CTL_MAX_CLIENTS are closed and counted (control_refused).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dpixd/dpixd_ctl.h"

struct client {
	int fd;
	bool http;
	bool eof;   /* the client shut its side */
	bool close; /* close once out is written */
	char in[CTL_HTTP_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	uint64_t last_ms;
};

static int ctl_fd = -1, http_fd = -1;
static const char *ctl_path;
static struct client clients[CTL_MAX_CLIENTS];
static size_t nclients;
static uint64_t refused;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int open_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	char *slash;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* The directory (/run/dpix) may not exist after a boot: one level. */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		goto fail;
	/* A socket file nobody answers on is a leftover: replace it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		snprintf(err, errlen, "%s: another dpixd answers there", path);
		close(fd);
		return -1;
	}
	if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 16) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

static int open_tcp(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	const char *colon = strrchr(addr, ':');
	char host[64];
	size_t hlen = (size_t)(colon - addr);
	unsigned long port = strtoul(colon + 1, NULL, 10);
	socklen_t len;
	int fd, one = 1;

	/* dpixd_conf_set() checked the form. */
	if (addr[0] == '[') {
		snprintf(host, sizeof(host), "%.*s", (int)(hlen - 2), addr + 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &in6->sin6_addr);
		len = sizeof(*in6);
	} else {
		snprintf(host, sizeof(host), "%.*s", (int)hlen, addr);
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &in4->sin_addr);
		len = sizeof(*in4);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "metrics %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int dpixd_ctl_open(const struct dpixd_config *c, char *err, size_t errlen)
{
	if (c->ctl_path) {
		if ((ctl_fd = open_unix(c->ctl_path, err, errlen)) < 0)
			return -1;
		ctl_path = c->ctl_path;
	}
	if (c->metrics_addr && (http_fd = open_tcp(c->metrics_addr, err, errlen)) < 0) {
		dpixd_ctl_close();
		return -1;
	}
	return 0;
}

static void drop_client(size_t i)
{
	close(clients[i].fd);
	free(clients[i].out);
	clients[i] = clients[--nclients];
}

void dpixd_ctl_close(void)
{
	while (nclients)
		drop_client(0);
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(ctl_path);
		ctl_fd = -1;
	}
	if (http_fd >= 0)
		close(http_fd);
	http_fd = -1;
}

static void accept_client(int lfd, bool http)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (nclients == CTL_MAX_CLIENTS) {
		refused++;
		close(fd);
		return;
	}
	clients[nclients++] = (struct client){ .fd = fd, .http = http, .last_ms = now_ms() };
}

/* Append what a memstream wrote to the client's answer. */
static void answer(struct client *cl, const char *buf, size_t len)
{
	char *p;

	if (cl->outlen + len > CTL_OUT_MAX || !(p = realloc(cl->out, cl->outlen + len + 1))) {
		cl->close = true;
		return;
	}
	memcpy(p + cl->outlen, buf, len);
	cl->out = p;
	cl->outlen += len;
}

/* The counters as JSON or Prometheus text, in a new buffer (NULL when
 * out of memory); *len its length. */
static char *render(const struct dpixd_ctl_ops *ops, bool json, size_t *len)
{
	struct dpixd_stats s = { 0 };
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);

	if (!m)
		return NULL;
	ops->snapshot(&s);
	s.ctl_refused = refused;
	if (json)
		dpixd_stats_json(m, &s);
	else
		dpixd_stats_prometheus(m, &s);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void answer_with(struct client *cl, const struct dpixd_ctl_ops *ops, bool json)
{
	size_t len;
	char *buf = render(ops, json, &len);

	if (!buf) {
		cl->close = true;
		return;
	}
	answer(cl, buf, len);
	free(buf);
}

static void answer_text(struct client *cl, const char *text)
{
	answer(cl, text, strlen(text));
}

static void command(struct client *cl, const char *line, const struct dpixd_ctl_ops *ops)
{
	char msg[1024], out[1100];

	if (!strcmp(line, "stats"))
		answer_with(cl, ops, true);
	else if (!strcmp(line, "metrics"))
		answer_with(cl, ops, false);
	else if (!strcmp(line, "reload")) {
		int rc = ops->reload(msg, sizeof(msg));

		snprintf(out, sizeof(out), "%s: %s\n", rc < 0 ? "error" : "ok", msg);
		answer_text(cl, out);
	} else if (!strcmp(line, "version"))
		answer_text(cl, "dpixd " PACKAGE_VERSION "\n");
	else if (*line) {
		snprintf(out, sizeof(out),
			 "error: unknown command '%.64s', expected stats, metrics, reload or "
			 "version\n",
			 line);
		answer_text(cl, out);
	}
}

/* Every whole line of the client's input. */
static void control_input(struct client *cl, const struct dpixd_ctl_ops *ops)
{
	char *nl;

	while ((nl = memchr(cl->in, '\n', cl->inlen))) {
		size_t n = (size_t)(nl - cl->in) + 1;

		*nl = 0;
		if (nl > cl->in && nl[-1] == '\r')
			nl[-1] = 0;
		command(cl, cl->in, ops);
		memmove(cl->in, cl->in + n, cl->inlen - n);
		cl->inlen -= n;
	}
	if (cl->inlen >= CTL_LINE_MAX) {
		answer_text(cl, "error: request line longer than 256 bytes\n");
		cl->close = true;
		refused++;
	}
}

static void http_answer(struct client *cl, const char *status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status,
			 strncmp(status, "200", 3) ? "text/plain; charset=utf-8"
						   : "text/plain; version=0.0.4; charset=utf-8",
			 len);

	answer(cl, head, (size_t)n);
	answer(cl, body, len);
	cl->close = true;
}

/* One HTTP request head: "GET /metrics HTTP/1.x" and headers, ignored. */
static void http_input(struct client *cl, const struct dpixd_ctl_ops *ops)
{
	char method[16], path[CTL_LINE_MAX], version[16];
	char *end = NULL, *body;
	size_t len;

	for (size_t i = 0; i + 1 < cl->inlen && !end; i++)
		if (cl->in[i] == '\n' &&
		    (cl->in[i + 1] == '\n' ||
		     (cl->in[i + 1] == '\r' && i + 2 < cl->inlen && cl->in[i + 2] == '\n')))
			end = cl->in + i;
	if (!end) {
		if (cl->inlen == sizeof(cl->in)) {
			http_answer(cl, "431 Request Header Fields Too Large", "too large\n", 10);
			refused++;
		}
		return;
	}
	*end = 0;
	if (sscanf(cl->in, "%15s %255s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		http_answer(cl, "400 Bad Request", "bad request\n", 12);
		return;
	}
	if (strcmp(method, "GET")) {
		http_answer(cl, "405 Method Not Allowed", "GET only\n", 9);
		return;
	}
	if (strcmp(path, "/metrics")) {
		http_answer(cl, "404 Not Found", "not found: try /metrics\n", 24);
		return;
	}
	if (!(body = render(ops, false, &len))) {
		http_answer(cl, "500 Internal Server Error", "out of memory\n", 14);
		return;
	}
	http_answer(cl, "200 OK", body, len);
	free(body);
}

/* Read what the client sent; false when it is to be dropped now. */
static bool client_read(struct client *cl, const struct dpixd_ctl_ops *ops)
{
	ssize_t n = read(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0) {
		cl->eof = true;
		return cl->outoff < cl->outlen;
	}
	cl->inlen += (size_t)n;
	cl->last_ms = now_ms();
	if (cl->http)
		http_input(cl, ops);
	else
		control_input(cl, ops);
	return true;
}

/* Write what is waiting; false when the client is done or gone. */
static bool client_write(struct client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t n = write(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		cl->outoff += (size_t)n;
		cl->last_ms = now_ms();
	}
	free(cl->out);
	cl->out = NULL;
	cl->outlen = cl->outoff = 0;
	return !cl->close && !cl->eof;
}

int dpixd_ctl_serve(const sigset_t *sigs, const struct dpixd_ctl_ops *ops)
{
	int sfd = signalfd(-1, sigs, SFD_CLOEXEC | SFD_NONBLOCK), err;

	if (sfd < 0)
		return -1;
	for (;;) {
		struct pollfd pfd[3 + CTL_MAX_CLIENTS];
		size_t n = 0, first;
		struct signalfd_siginfo si;
		uint64_t now;

		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = http_fd, .events = POLLIN };
		first = n;
		for (size_t i = 0; i < nclients; i++)
			pfd[n++] = (struct pollfd){
				.fd = clients[i].fd,
				.events = (short)(clients[i].outlen ? POLLOUT : POLLIN),
			};
		if (poll(pfd, n, 1000) < 0 && errno != EINTR)
			break;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			char msg[1024];

			if (si.ssi_signo == SIGHUP)
				ops->reload(msg, sizeof(msg));
			else if (si.ssi_signo == SIGUSR1)
				ops->report();
			else {
				close(sfd);
				return 0;
			}
		}
		/* Clients first, from the last: dropping one moves the last
		 * into its place, and new ones are not in pfd yet. */
		now = now_ms();
		for (size_t i = nclients; i-- > 0;) {
			struct client *cl = &clients[i];
			short re = pfd[first + i].revents;
			bool keep = true;

			if (re & POLLOUT)
				keep = client_write(cl);
			else if (re & (POLLIN | POLLHUP | POLLERR))
				keep = client_read(cl, ops);
			if (keep && cl->outlen && !(re & POLLOUT))
				keep = client_write(cl);
			if (keep && cl->last_ms + CTL_IDLE_MS < now) {
				refused++;
				keep = false;
			}
			if (!keep)
				drop_client(i);
		}
		if (pfd[1].revents & POLLIN)
			accept_client(ctl_fd, false);
		if (pfd[2].revents & POLLIN)
			accept_client(http_fd, true);
	}
	err = errno;
	close(sfd);
	errno = err;
	return -1;
}
