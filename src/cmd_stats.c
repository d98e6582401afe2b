/*
 * cmd_stats.c: `dpix stats`, dpixd's counters read from its control
 * socket (dpixd(8), CONTROL SOCKET). --json and --prometheus print the
 * daemon's answer as it is; the default table is made from the Prometheus
 * form, which is one sample a line and so needs no JSON parser:
 *
 *     dpix_packets_total{queue="0"} 12
 *
 * A row per metric and set of labels other than queue, a column per queue
 * and one for the total. Lines that do not parse are skipped.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd_stats.h"

#define DEFAULT_SOCKET "/run/dpix/dpixd.sock"
#define ANSWER_MAX (4u << 20)
#define TIMEOUT_MS 5000
#define MAX_ROWS 1024
#define MAX_COLS 64

/* Send one request line, read the answer to the end; NULL after saying why. */
static char *ask(const char *path, const char *req, size_t *len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf = NULL;
	size_t cap = 0;
	int fd;

	*len = 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dpix stats: %s: path too long\n", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req) || shutdown(fd, SHUT_WR) < 0)
		goto fail;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, TIMEOUT_MS) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (*len + 4096 + 1 > cap) {
			char *nb;

			if (cap >= ANSWER_MAX || !(nb = realloc(buf, cap ? cap * 2 : 65536))) {
				errno = EFBIG;
				goto fail;
			}
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		if ((n = read(fd, buf + *len, cap - *len - 1)) < 0)
			goto fail;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	if (!buf && !(buf = malloc(1)))
		return NULL;
	buf[*len] = 0;
	return buf;
fail:
	fprintf(stderr, "dpix stats: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

struct row {
	char name[160];
	unsigned long long v[MAX_COLS + 1]; /* [MAX_COLS]: the total */
	bool queued;			    /* has a queue label */
};

static struct row rows[MAX_ROWS];
static unsigned cols[MAX_COLS];
static size_t nrows, ncols;

static size_t col_of(unsigned q)
{
	for (size_t i = 0; i < ncols; i++)
		if (cols[i] == q)
			return i;
	if (ncols == MAX_COLS)
		return MAX_COLS;
	cols[ncols] = q;
	return ncols++;
}

static struct row *row_of(const char *name)
{
	for (size_t i = 0; i < nrows; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	if (nrows == MAX_ROWS)
		return NULL;
	snprintf(rows[nrows].name, sizeof(rows[nrows].name), "%s", name);
	return &rows[nrows++];
}

/*
 * One sample: the metric name without "dpix_" and "_total", the labels
 * but queue kept as name{k=v,...}; the queue, or -1 without one.
 */
static void sample(char *line)
{
	char name[160], *sp = strrchr(line, ' '), *lb, *end;
	long queue = -1;
	size_t n = 0;
	unsigned long long v;
	struct row *r;

	if (line[0] == '#' || !sp || strncmp(line, "dpix_", 5))
		return;
	*sp = 0;
	errno = 0;
	v = strtoull(sp + 1, &end, 10);
	if (*end || errno)
		return;
	lb = strchr(line, '{');
	if (lb)
		*lb = 0;
	n = (size_t)snprintf(name, sizeof(name), "%s", line + 5);
	if (n > 6 && n < sizeof(name) && !strcmp(name + n - 6, "_total"))
		name[n -= 6] = 0;
	if (lb) {
		char *lab = lb + 1, *close = strrchr(lab, '}');
		bool first = true;

		if (!close)
			return;
		*close = 0;
		for (char *l = strtok_r(lab, ",", &end); l; l = strtok_r(NULL, ",", &end)) {
			if (!strncmp(l, "queue=\"", 7)) {
				queue = strtol(l + 7, NULL, 10);
				continue;
			}
			if (n < sizeof(name))
				n += (size_t)snprintf(name + n, sizeof(name) - n, "%s%s",
						      first ? " " : ",", l);
			first = false;
		}
	}
	if (!(r = row_of(name)))
		return;
	if (queue >= 0) {
		size_t c = col_of((unsigned)queue);

		if (c < MAX_COLS)
			r->v[c] = v;
		r->queued = true;
		r->v[MAX_COLS] += v;
	} else
		r->v[MAX_COLS] = v;
}

static void table(char *text)
{
	char *save;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		sample(l);
	printf("%-44s", "");
	for (size_t c = 0; c < ncols; c++)
		printf(" %12s%-2u", "queue ", cols[c]);
	printf(" %14s\n", "total");
	for (size_t i = 0; i < nrows; i++) {
		printf("%-44s", rows[i].name);
		for (size_t c = 0; c < ncols; c++)
			if (rows[i].queued)
				printf(" %14llu", rows[i].v[c]);
			else
				printf(" %14s", "");
		printf(" %14llu\n", rows[i].v[MAX_COLS]);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: dpix stats [--socket PATH] [--json|--prometheus]\n"
		     "  -s, --socket PATH   dpixd's control socket (default " DEFAULT_SOCKET ")\n"
		     "      --json          the daemon's JSON object, as it is\n"
		     "      --prometheus    the Prometheus text format, as it is\n"
		     "Without a format, a table: a row per counter, a column per queue.\n");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_SOCKET;
	int fmt = 't', opt;
	char *text;
	size_t len;

	while ((opt = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1)
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
		case 'p':
			fmt = opt;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	if (optind < argc) {
		fprintf(stderr, "dpix stats: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!(text = ask(path, fmt == 'j' ? "stats\n" : "metrics\n", &len)))
		return 1;
	if (!strncmp(text, "error:", 6)) {
		fprintf(stderr, "dpix stats: %s", text);
		free(text);
		return 1;
	}
	if (fmt == 't')
		table(text);
	else
		fwrite(text, 1, len, stdout);
	free(text);
	return 0;
}
