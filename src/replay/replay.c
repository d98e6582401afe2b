/*
 * replay.c: the pcap packet source. Reads capture files (classic pcap mapped
 * and parsed by replay_pcap.c, pcapng and the rest through libpcap) frame by
 * frame into the shared pipeline and writes one record per flow. Each file
 * is its own capture: flows still open at its end are decided (capture_end)
 * before the next file starts, and flow ids keep counting so they stay
 * unique across files. Same input, same output.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode/decode.h"
#include "dissect/dissect.h"
#include "output/output.h"
#include "plugin/plugin.h"
#include "replay/replay.h"
#include "replay/replay_pcap.h"
#include "rules/rules.h"

#define PROGRESS_EVERY 65536u

struct sink_ctx {
	const struct replay_opts *o;
	const char *file;
	uint64_t flows;
	char line[OUTPUT_LINE_MAX];
};

/* Plugin outputs get the EVE record whatever stdout shows. */
static void on_verdict(const struct verdict_event *ev, void *arg)
{
	struct sink_ctx *s = arg;
	size_t n = 0;

	s->flows++;
	if (s->o->format == REPLAY_EVE || plugin_outputs_open()) {
		n = output_eve_format(s->line, sizeof(s->line), ev, s->file);
		plugin_output_event(s->line, n);
	}
	if (s->o->format == REPLAY_NONE)
		return;
	if (s->o->format == REPLAY_TABLE)
		n = output_table_format(s->line, sizeof(s->line), ev);
	s->line[n] = '\n';
	fwrite(s->line, 1, n + 1, stdout);
}

/* Bytes of each read(): stdio's default (st_blksize, 4 KiB) made the
 * syscalls a fifth of replay's time. */
#define READ_BUFFER (1u << 20)

/*
 * A capture being read. A regular file in classic pcap is mapped and read
 * by replay_pcap (no copy out of the page cache, none out of a stdio
 * buffer); everything else (pcapng, stdin, pipes, what replay_pcap does
 * not take, a failed mmap) goes through libpcap, as it always did.
 * A mapped file that shrinks while it is read ends dpix with SIGBUS, as
 * any reader of a mapped file: captures being written go through "-".
 */
struct source {
	struct replay_pcap rp;
	void *map; /* the whole file, when replay_pcap reads it */
	size_t map_len;
	pcap_t *pc; /* otherwise */
	char *buf;  /* pc's stdio buffer */
	int dlt;
	off_t size; /* for the progress line; 0 if unknown */
};

/*
 * The capture, read through a stdio buffer of READ_BUFFER bytes put in
 * *buf (free it after pcap_close). Whatever fopen() cannot open ("-" for
 * stdin, a missing file) goes to libpcap as before, for its messages.
 */
static pcap_t *open_capture(const char *file, char *errbuf, char **buf)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "rb") : NULL;
	pcap_t *pc;

	*buf = NULL;
	if (f && (*buf = malloc(READ_BUFFER)) && setvbuf(f, *buf, _IOFBF, READ_BUFFER) == 0) {
		pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO,
							      errbuf);
		if (!pc)
			fclose(f);
		return pc;
	}
	if (f)
		fclose(f);
	free(*buf);
	*buf = NULL;
	return pcap_open_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
}

/* Map a regular file that replay_pcap takes: 0, or -1 to use libpcap. */
static int map_capture(struct source *s, const char *file)
{
	struct stat st;
	void *map;
	int fd;

	if (getenv("DPIX_REPLAY_LIBPCAP")) /* the tests' way to compare the two */
		return -1;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	if (replay_pcap_open(&s->rp, map, (size_t)st.st_size) < 0) {
		munmap(map, (size_t)st.st_size);
		return -1;
	}
	(void)madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	s->map = map;
	s->map_len = (size_t)st.st_size;
	s->dlt = s->rp.dlt;
	s->size = st.st_size;
	return 0;
}

static int source_open(struct source *s, const char *file, char *errbuf)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (strcmp(file, "-") && map_capture(s, file) == 0)
		return 0;
	s->pc = open_capture(file, errbuf, &s->buf);
	if (!s->pc) {
		free(s->buf);
		return -1;
	}
	s->dlt = pcap_datalink(s->pc);
	if (strcmp(file, "-") && stat(file, &st) == 0)
		s->size = st.st_size;
	return 0;
}

/* The next frame: 1, 0 at the end, -1 on damage (source_error says what). */
static int source_next(struct source *s, const uint8_t **data, uint32_t *caplen, uint64_t *ts_us)
{
	struct pcap_pkthdr *h;
	int rc;

	if (s->map) {
		struct replay_pcap_rec rec;

		rc = replay_pcap_next(&s->rp, &rec);
		if (rc == 1) {
			*data = rec.data;
			*caplen = rec.caplen;
			*ts_us = (uint64_t)rec.sec * 1000000u + (uint64_t)rec.usec;
		}
		return rc;
	}
	rc = pcap_next_ex(s->pc, &h, data);
	if (rc == 1) {
		*caplen = h->caplen;
		*ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		return 1;
	}
	return rc == PCAP_ERROR ? -1 : 0;
}

static const char *source_error(struct source *s)
{
	return s->map ? s->rp.err : pcap_geterr(s->pc);
}

/* Bytes read so far, or -1 if unknown. */
static long long source_pos(struct source *s)
{
	FILE *f;

	if (s->map)
		return (long long)replay_pcap_offset(&s->rp);
	f = pcap_file(s->pc);
	return f ? (long long)ftello(f) : -1;
}

static void source_close(struct source *s)
{
	if (s->map)
		munmap(s->map, s->map_len);
	if (s->pc)
		pcap_close(s->pc);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static void progress(const char *file, struct source *src, uint64_t n)
{
	long long pos = source_pos(src);

	if (pos >= 0 && src->size > 0)
		fprintf(stderr, "\r%s: %" PRIu64 " packets, %3d%%", file, n,
			(int)(100.0 * (double)pos / (double)src->size));
	else
		fprintf(stderr, "\r%s: %" PRIu64 " packets", file, n);
}

/* One file; returns 0 if it was read to its end. */
static int replay_file(struct pipeline *p, struct sink_ctx *s, const char *file)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	const uint8_t *data;
	enum link_type lt;
	bool show = s->o->progress && isatty(STDERR_FILENO);
	struct source src;
	uint64_t n = 0, ts_us;
	uint32_t caplen;
	int rc;

	if (source_open(&src, file, errbuf) < 0) {
		fprintf(stderr, "dpix: %s: %s\n", file, errbuf);
		return -1;
	}
	if (replay_link_type(src.dlt, &lt) < 0) {
		const char *name = pcap_datalink_val_to_name(src.dlt);

		fprintf(stderr, "dpix: %s: unsupported link type %d (%s)\n", file, src.dlt,
			name ? name : "unknown");
		source_close(&src);
		return -1;
	}
	s->file = file;
	while ((rc = source_next(&src, &data, &caplen, &ts_us)) == 1) {
		n++;
		pipeline_frame(p, lt, data, caplen, ts_us);
		if (show && n % PROGRESS_EVERY == 0)
			progress(file, &src, n);
	}
	if (show && n >= PROGRESS_EVERY)
		fprintf(stderr, "\r\033[K");
	pipeline_flush(p);
	if (rc < 0) {
		fprintf(stderr,
			"dpix: %s: packet %" PRIu64 ": %s (results above cover the %" PRIu64
			" packets before it)\n",
			file, n + 1, source_error(&src), n);
		source_close(&src);
		return -1;
	}
	source_close(&src);
	return 0;
}

static const char *reason_label(int i)
{
	return verdict_reason_name((enum verdict_reason)i);
}

static const char *decode_label(int i)
{
	return decode_reason_name((enum decode_reason)i);
}

/* " name N, name N" for the non-zero counters from index first on. */
static void print_nonzero(const uint64_t *v, int n, int first, const char *(*label)(int))
{
	const char *sep = " ";

	for (int i = first; i < n; i++) {
		if (v[i]) {
			fprintf(stderr, "%s%s %" PRIu64, sep, label(i), v[i]);
			sep = ", ";
		}
	}
	fprintf(stderr, "%s\n", *sep == ' ' ? " none" : "");
}

static void summary(const struct pipeline *p, int nfiles, int failed)
{
	const struct pipeline_stats *st = &p->stats;
	const struct flow_stats *fs = &p->flows->stats;
	const char *sep = "";

	fprintf(stderr,
		"dpix replay: %d file%s (%d unreadable), %" PRIu64 " packets, %" PRIu64
		" TCP/UDP, %" PRIu64 " flows (%" PRIu64 " evicted, table high water %u)\n",
		nfiles, nfiles == 1 ? "" : "s", failed, st->frames, st->decode[DEC_OK], fs->created,
		fs->evicted, fs->high_water);
	fprintf(stderr, "  verdicts:");
	for (int a = ACTION_BYPASS; a < ACTION_COUNT; a++, sep = ",")
		fprintf(stderr, "%s %s %" PRIu64, sep, rule_action_name(a), st->verdicts[a]);
	fprintf(stderr, "\n  app_proto:");
	sep = "";
	for (unsigned a = 0; a < dissect_app_count(); a++, sep = ",")
		fprintf(stderr, "%s %s %" PRIu64, sep, app_proto_name(a), st->app[a]);
	fprintf(stderr, "\n  reasons:");
	print_nonzero(st->reasons, REASON_COUNT, 0, reason_label);
	fprintf(stderr, "  not decoded:");
	print_nonzero(st->decode, DEC_REASON_COUNT, DEC_OK + 1, decode_label);
	if (p->stream.gaps || p->stream.memcap_hits)
		fprintf(stderr,
			"  streams: %" PRIu64 " stopped by a gap, %" PRIu64 " by the memcap\n",
			p->stream.gaps, p->stream.memcap_hits);
}

int replay_run(const struct replay_opts *o)
{
	struct sink_ctx s = { .o = o };
	struct pipeline p;
	int failed = 0;

	if (pipeline_init(&p, &o->cfg, o->rules, on_verdict, &s) < 0) {
		fprintf(stderr, "dpix: out of memory for a table of %u flows\n", o->cfg.max_flows);
		return 1;
	}
	if (o->format == REPLAY_TABLE)
		output_table_header(stdout);
	for (int i = 0; i < o->nfiles; i++)
		if (replay_file(&p, &s, o->files[i]) < 0)
			failed++;
	fflush(stdout);
	if (o->summary)
		summary(&p, o->nfiles, failed);
	pipeline_fini(&p);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "dpix: writing the results failed: %s\n", strerror(errno));
		return 1;
	}
	return failed ? 1 : 0;
}
