/*
 * extract_seeds.c: seed corpora for the fuzz harnesses, cut from captures.
 *
 *   extract_seeds OUTDIR PCAP... [--rules PACK...]
 *
 * Writes, one file per seed named seed-NNNNNN:
 *   OUTDIR/decode/   link[1] frame[...] (link as in fuzz_decode.c: an enum
 *                    link_type), the first MAX_FRAMES frames of each capture
 *   OUTDIR/connect/  the first client bytes of each TCP flow (at most
 *   OUTDIR/tls/      MAX_STREAM), in sequence from the first payload segment
 *   OUTDIR/http/     on, stopping at a gap. Each directory takes the flows
 *   OUTDIR/stun/     of its kind: connect/ "CONNECT ", tls/ 16 03, http/ a
 *                    method dissect_http knows ("GET " ...), stun/ a first
 *                    byte whose top bits are 00 (TLS's 0x16 too: a near
 *                    miss worth having). At most MAX_STREAM_SEEDS files in
 *                    each, of which at most MAX_OTHER_SEEDS flows of another
 *                    kind (so that the first captures' HTTP cannot crowd
 *                    out later CONNECTs); connect/ and tls/ take as other
 *                    only the flows that are neither CONNECT nor TLS.
 *   OUTDIR/datagram/ each UDP flow's first MAX_DATAGRAMS datagrams with
 *                    payload, both directions in capture order, as
 *                    fuzz_datagram.c reads them: dir[1] len[2] bytes[len],
 *                    dir 0 from the flow's first sender; the first byte
 *                    also names the flow's ports when fuzz_datagram's
 *                    table has them. A seed stops at MAX_DATAGRAM_SEED
 *                    bytes (its last datagram cut short); at most
 *                    MAX_STREAM_SEEDS files
 *   OUTDIR/replay/   the captures smaller than MAX_REPLAY bytes
 *   OUTDIR/rules/    the *.rules files after --rules
 * Identical seeds are written once. A capture that cannot be read, or has a
 * link type dpix does not decode, is skipped with a warning; exit status 1
 * only when a seed cannot be written. Not a fuzzer: a plain program.
 */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode/decode.h"
#include "replay/replay.h"

#define MAX_FRAMES 200
#define MAX_STREAM 4096
#define MAX_STREAM_SEEDS 50
#define MAX_OTHER_SEEDS 25 /* of those, flows of neither kind */
#define MAX_FLOWS 4096
#define MAX_DATAGRAMS 16 /* as fuzz_datagram.c's budget */
#define MAX_DATAGRAM_SEED 32768
#define MAX_REPLAY (256 * 1024)
#define MAX_RULES_FILE (1 << 20)

enum { D_DECODE, D_CONNECT, D_TLS, D_HTTP, D_STUN, D_DATAGRAM, D_REPLAY, D_RULES, D_COUNT };

static const char *const dir_names[D_COUNT] = {
	"decode", "connect", "tls", "http", "stun", "datagram", "replay", "rules",
};

/* fuzz_datagram.c's ports[], so a seed can name its flow's ports. */
static const uint16_t datagram_ports[8] = { 3478, 3479, 5349, 19302, 443, 53, 50000, 61000 };
#define DATAGRAM_NO_PORT 6 /* 50000: a port without a STUN hint */

/* One output directory: its path, the next name to try, what it holds. */
struct seed_dir {
	char path[4096];
	unsigned next, count;
	uint64_t *hashes;
	size_t nhashes;
};

/* Client side of one TCP flow, as far as it is contiguous; or the first
 * datagrams of a UDP flow, both ways (dgrams, MAX_DATAGRAM_SEED bytes). */
struct seed_flow {
	uint8_t family, proto;
	uint8_t addr[2][16]; /* [0] is the client */
	uint16_t port[2];
	bool started, stopped;
	uint32_t next_seq;
	size_t len;
	uint8_t data[MAX_STREAM];
	uint8_t *dgrams;
	size_t dgrams_len;
	unsigned ndgrams;
};

static struct seed_dir dirs[D_COUNT];
static bool write_failed;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "extract_seeds: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static bool seen_before(struct seed_dir *d, uint64_t h)
{
	uint64_t *v;

	for (size_t i = 0; i < d->nhashes; i++)
		if (d->hashes[i] == h)
			return true;
	v = realloc(d->hashes, (d->nhashes + 1) * sizeof(*v));
	if (!v)
		return false;
	d->hashes = v;
	d->hashes[d->nhashes++] = h;
	return false;
}

/* Write one seed into d under the first free name; duplicates are skipped. */
static void write_seed(struct seed_dir *d, const uint8_t *p, size_t n)
{
	char name[4200];
	size_t off = 0;
	int fd;

	if (seen_before(d, fnv1a(p, n)))
		return;
	do {
		snprintf(name, sizeof(name), "%s/seed-%06u", d->path, d->next++);
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0666);
	} while (fd < 0 && errno == EEXIST);
	if (fd < 0)
		goto fail;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);

		if (w <= 0) {
			close(fd);
			goto fail;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0)
		goto fail;
	d->count++;
	return;
fail:
	fprintf(stderr, "extract_seeds: %s: %s\n", name, strerror(errno));
	write_failed = true;
}

/* A whole small file as one seed; false if it is unreadable or too big. */
static bool copy_file(struct seed_dir *d, const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(max + 1);
	size_t n = 0;
	bool ok = false;

	if (f && buf) {
		n = fread(buf, 1, max + 1, f);
		ok = !ferror(f) && n <= max;
	}
	if (ok)
		write_seed(d, buf, n);
	if (f)
		fclose(f);
	free(buf);
	return ok;
}

/* The flow of pkt, created if new; NULL when the table is full. */
static struct seed_flow *flow_of(struct seed_flow **flows, size_t *n, const struct packet *pkt)
{
	struct seed_flow *f;
	size_t alen = pkt->family == 4 ? 4 : 16;
	bool swap;

	for (size_t i = 0; i < *n; i++) {
		f = flows[i];
		if (f->family != pkt->family || f->proto != pkt->proto)
			continue;
		for (int c = 0; c < 2; c++)
			if (f->port[c] == pkt->sport && f->port[!c] == pkt->dport &&
			    !memcmp(f->addr[c], pkt->src, alen) &&
			    !memcmp(f->addr[!c], pkt->dst, alen))
				return f;
	}
	if (*n == MAX_FLOWS || !(f = calloc(1, sizeof(*f))))
		return NULL;
	/* A SYN-ACK first: its receiver is the client. */
	swap = (pkt->tcp_flags & (TH_SYN_ | TH_ACK_)) == (TH_SYN_ | TH_ACK_);
	f->family = pkt->family;
	f->proto = pkt->proto;
	memcpy(f->addr[swap], pkt->src, alen);
	memcpy(f->addr[!swap], pkt->dst, alen);
	f->port[swap] = pkt->sport;
	f->port[!swap] = pkt->dport;
	flows[(*n)++] = f;
	return f;
}

static void add_payload(struct seed_flow *f, const struct packet *pkt)
{
	size_t alen = pkt->family == 4 ? 4 : 16, take;
	uint32_t seq = pkt->seq + ((pkt->tcp_flags & TH_SYN_) ? 1u : 0u);

	if (pkt->sport != f->port[0] || memcmp(pkt->src, f->addr[0], alen) != 0)
		return; /* server to client */
	if (pkt->payload_len == 0 || f->stopped || f->len == MAX_STREAM)
		return;
	if (f->started && seq != f->next_seq) {
		/* Behind: a retransmission, skip it. Ahead: a gap, stop. */
		if ((int32_t)(seq - f->next_seq) > 0)
			f->stopped = true;
		return;
	}
	take = pkt->payload_len < MAX_STREAM - f->len ? pkt->payload_len : MAX_STREAM - f->len;
	memcpy(f->data + f->len, pkt->payload, take);
	f->len += take;
	f->next_seq = seq + (uint32_t)pkt->payload_len;
	f->started = true;
}

static uint8_t datagram_port(uint16_t port)
{
	for (uint8_t i = 0; i < 8; i++)
		if (datagram_ports[i] == port)
			return i;
	return DATAGRAM_NO_PORT;
}

/* One UDP datagram onto its flow's seed, while the seed has room. */
static void add_datagram(struct seed_flow *f, const struct packet *pkt)
{
	size_t alen = pkt->family == 4 ? 4 : 16, take;
	uint8_t dir;

	if (pkt->payload_len == 0 || f->ndgrams == MAX_DATAGRAMS ||
	    f->dgrams_len + 3 >= MAX_DATAGRAM_SEED)
		return;
	if (!f->dgrams && !(f->dgrams = malloc(MAX_DATAGRAM_SEED)))
		return;
	dir = pkt->sport != f->port[0] || memcmp(pkt->src, f->addr[0], alen) != 0;
	if (f->ndgrams == 0) /* the flow's ports, as fuzz_datagram.c reads them */
		dir |= (uint8_t)(datagram_port(f->port[1]) << 2 | datagram_port(f->port[0]) << 5);
	f->dgrams[f->dgrams_len++] = dir;
	f->dgrams[f->dgrams_len++] = (uint8_t)(pkt->payload_len >> 8);
	f->dgrams[f->dgrams_len++] = (uint8_t)pkt->payload_len;
	take = pkt->payload_len < MAX_DATAGRAM_SEED - f->dgrams_len
		   ? pkt->payload_len
		   : MAX_DATAGRAM_SEED - f->dgrams_len;
	memcpy(f->dgrams + f->dgrams_len, pkt->payload, take);
	f->dgrams_len += take;
	f->ndgrams++;
}

static unsigned other_seeds[D_COUNT];

static void stream_seed(int d, const struct seed_flow *f, bool other)
{
	unsigned before = dirs[d].count;

	if (before >= MAX_STREAM_SEEDS || (other && other_seeds[d] >= MAX_OTHER_SEEDS))
		return;
	write_seed(&dirs[d], f->data, f->len);
	if (other && dirs[d].count > before)
		other_seeds[d]++;
}

/* The start of a request dissect_http knows (CONNECT is connect/'s). */
static bool is_http(const uint8_t *p, size_t n)
{
	static const char *const methods[] = {
		"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE ",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (n >= strlen(methods[i]) && !memcmp(p, methods[i], strlen(methods[i])))
			return true;
	return false;
}

static void flow_seeds(struct seed_flow **flows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct seed_flow *f = flows[i];
		bool is_connect, is_tls;

		if (f->proto == IPPROTO_UDP_) {
			if (f->dgrams_len && dirs[D_DATAGRAM].count < MAX_STREAM_SEEDS)
				write_seed(&dirs[D_DATAGRAM], f->dgrams, f->dgrams_len);
			continue;
		}
		if (f->len == 0)
			continue;
		is_connect = f->len >= 8 && !memcmp(f->data, "CONNECT ", 8);
		is_tls = f->len >= 2 && f->data[0] == 0x16 && f->data[1] == 0x03;
		if (is_connect || is_tls) {
			stream_seed(is_connect ? D_CONNECT : D_TLS, f, false);
		} else {
			stream_seed(D_CONNECT, f, true);
			stream_seed(D_TLS, f, true);
		}
		stream_seed(D_HTTP, f, !is_http(f->data, f->len));
		stream_seed(D_STUN, f, (f->data[0] & 0xc0) != 0);
	}
}

static void extract_pcap(const char *path)
{
	static uint8_t frame[1 + 262144];
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct seed_flow **flows = NULL;
	struct pcap_pkthdr *h;
	const u_char *data;
	enum link_type lt;
	size_t nflows = 0;
	unsigned nframes = 0;
	pcap_t *pc;
	struct stat st;
	int rc;

	pc = pcap_open_offline(path, errbuf);
	if (!pc) {
		fprintf(stderr, "extract_seeds: %s: %s (skipped)\n", path, errbuf);
		return;
	}
	if (replay_link_type(pcap_datalink(pc), &lt) < 0) {
		fprintf(stderr,
			"extract_seeds: %s: link type %d is not decoded by dpix (skipped)\n", path,
			pcap_datalink(pc));
		pcap_close(pc);
		return;
	}
	flows = calloc(MAX_FLOWS, sizeof(*flows));
	if (!flows) {
		fprintf(stderr, "extract_seeds: out of memory\n");
		exit(1);
	}
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct packet pkt;
		struct seed_flow *f;
		size_t caplen = h->caplen < sizeof(frame) - 1 ? h->caplen : sizeof(frame) - 1;

		if (nframes++ < MAX_FRAMES) {
			frame[0] = (uint8_t)lt;
			memcpy(frame + 1, data, caplen);
			write_seed(&dirs[D_DECODE], frame, caplen + 1);
		}
		if (decode_frame(lt, data, caplen, &pkt) != DEC_OK)
			continue;
		if (!(f = flow_of(flows, &nflows, &pkt)))
			continue;
		if (pkt.proto == IPPROTO_TCP_)
			add_payload(f, &pkt);
		else
			add_datagram(f, &pkt);
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "extract_seeds: %s: %s (seeds from the frames before it kept)\n",
			path, pcap_geterr(pc));
	pcap_close(pc);
	flow_seeds(flows, nflows);
	for (size_t i = 0; i < nflows; i++) {
		free(flows[i]->dgrams);
		free(flows[i]);
	}
	free(flows);
	if (stat(path, &st) == 0 && st.st_size < MAX_REPLAY)
		copy_file(&dirs[D_REPLAY], path, MAX_REPLAY);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcmp(s + n - m, suffix);
}

int main(int argc, char **argv)
{
	bool rules = false;

	if (argc < 2) {
		fprintf(stderr, "usage: extract_seeds OUTDIR PCAP... [--rules PACK...]\n");
		return 2;
	}
	if (make_dir(argv[1]) < 0)
		return 1;
	for (int d = 0; d < D_COUNT; d++) {
		snprintf(dirs[d].path, sizeof(dirs[d].path), "%s/%s", argv[1], dir_names[d]);
		if (make_dir(dirs[d].path) < 0)
			return 1;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--rules")) {
			rules = true;
		} else if (!rules) {
			extract_pcap(argv[i]);
		} else if (!has_suffix(argv[i], ".rules")) {
			fprintf(stderr, "extract_seeds: %s: not a *.rules file (skipped)\n",
				argv[i]);
		} else if (!copy_file(&dirs[D_RULES], argv[i], MAX_RULES_FILE)) {
			fprintf(stderr,
				"extract_seeds: %s: unreadable or larger than 1 MiB (skipped)\n",
				argv[i]);
		}
	}
	fprintf(stderr,
		"extract_seeds: %s: %u decode, %u connect, %u tls, %u http, %u stun, %u datagram, "
		"%u replay, %u rules seeds\n",
		argv[1], dirs[D_DECODE].count, dirs[D_CONNECT].count, dirs[D_TLS].count,
		dirs[D_HTTP].count, dirs[D_STUN].count, dirs[D_DATAGRAM].count,
		dirs[D_REPLAY].count, dirs[D_RULES].count);
	for (int d = 0; d < D_COUNT; d++)
		free(dirs[d].hashes);
	return write_failed ? 1 : 0;
}
