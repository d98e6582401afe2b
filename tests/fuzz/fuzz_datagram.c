/*
 * fuzz_datagram.c: libFuzzer harness for the UDP dissectors (STUN/TURN,
 * DTLS) as the pipeline drives them: one flow's datagrams, one at a time.
 *
 *   input   = record*
 *   record  = dir[1] len_hi[1] len_lo[1] bytes[len]
 *             dir bit 0: 0 client, 1 server; a final partial record is cut
 *             to the bytes that are left
 *   first byte, other bits (the flow's setup):
 *             bit 1      client_segs counts the client's datagrams; clear:
 *                        it stays 0, as pipeline.c passes it for UDP (its
 *                        segment counts grow only in TCP streams)
 *             bits 2-4   server port, bits 5-7 client port, from ports[]:
 *                        with and without the STUN port hints
 *
 * Like classify() in src/pipeline/pipeline.c: the candidates start as
 * dissect_candidates(DPIX_UDP) and one struct dpix_facts, zeroed, is
 * carried across calls; each call sees only the current datagram, in
 * data[dir]/len[dir]; an empty datagram is not shown (nothing new); the
 * loop ends on MATCH or NOT_MINE, or after MAX_DATAGRAMS datagrams with
 * payload (a generous packet budget: the pipeline's default is 8). Each
 * datagram is copied into a heap block of exactly its size, so a read past
 * it is an ASan error.
 *
 * Checked after every call (abort() with a message on a violation):
 *   - the answer is one of the four;
 *   - candidates only shrink; NOT_MINE leaves none, so nothing would be
 *     asked again, and nothing is; MATCH_MORE leaves exactly one;
 *   - facts change only on a match (dissect.h);
 *   - from the first match on, app is not APP_UNKNOWN and is below
 *     APP_COUNT, and it stays so on every later call;
 *   - the string facts (sni, connect_host, http_host) are strings of
 *     exactly their *_len, at most HOST_MAX; alpn and ja4 are terminated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"
#include "fuzz_fixup.h"

#define MAX_DATAGRAMS 16
#define SCRATCH_LEN 16384
#define REC_HDR 3

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* libFuzzer's mutation, then for three in four each record's STUN message
 * made consistent (fuzz_fixup.h), FINGERPRINT included. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size = LLVMFuzzerMutate(data, size, max_size);
	if (seed % 4)
		fixup_datagrams(data, size);
	return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t ports[8] = { 3478, 3479, 5349, 19302, 443, 53, 50000, 61000 };

static _Noreturn void fail(const char *what, unsigned n)
{
	fprintf(stderr, "fuzz_datagram: %s (datagram %u)\n", what, n);
	abort();
}

/* A host field: a string of exactly its recorded length. */
static bool host_ok(const char *s, size_t len)
{
	return len <= HOST_MAX && s[len] == '\0' && strlen(s) == len;
}

static void check_facts(const struct dpix_facts *f, unsigned n)
{
	if (!host_ok(f->sni, f->sni_len))
		fail("sni is not a string of sni_len", n);
	if (!host_ok(f->connect_host, f->connect_host_len))
		fail("connect_host is not a string of connect_host_len", n);
	if (!host_ok(f->http_host, f->http_host_len))
		fail("http_host is not a string of http_host_len", n);
	if (!memchr(f->alpn, '\0', sizeof(f->alpn)) || !memchr(f->ja4, '\0', sizeof(f->ja4)))
		fail("alpn or ja4 is not terminated", n);
}

static bool one_bit(uint32_t m)
{
	return m && !(m & (m - 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dpix_facts facts, before;
	uint32_t candidates = dissect_candidates(DPIX_UDP), had;
	uint8_t *scratch;
	size_t off = 0;
	uint16_t client_segs = 0;
	unsigned shown = 0;
	bool count_segs, matched = false;

	if (size == 0)
		return 0;
	count_segs = (data[0] & 0x02) != 0;
	scratch = malloc(SCRATCH_LEN);
	if (!scratch)
		abort();
	memset(&facts, 0, sizeof(facts));
	while (off < size && shown < MAX_DATAGRAMS) {
		struct dpix_input in = {
			.transport = DPIX_UDP,
			.client_port = ports[data[0] >> 5 & 7],
			.server_port = ports[data[0] >> 2 & 7],
			.scratch = scratch,
			.scratch_len = SCRATCH_LEN,
		};
		uint8_t dir = data[off] & 1;
		size_t len = 0;
		uint8_t *copy;
		enum dpix_answer a;

		if (size - off >= REC_HDR)
			len = (size_t)data[off + 1] << 8 | data[off + 2];
		off = size - off >= REC_HDR ? off + REC_HDR : size;
		if (len > size - off)
			len = size - off;
		if (len == 0)
			continue; /* the pipeline asks nothing of an empty datagram */
		if (!(copy = malloc(len)))
			abort();
		memcpy(copy, data + off, len);
		off += len;
		shown++;
		if (dir == 0 && count_segs)
			client_segs++;
		in.dir = dir;
		in.data[dir] = copy;
		in.len[dir] = len;
		memcpy(&before, &facts, sizeof(facts)); /* padding too, for memcmp */
		had = candidates;
		a = dissect_run(&candidates, &in, client_segs, &facts);
		free(copy);

		if (a != DPIX_NEED_MORE && a != DPIX_NOT_MINE && a != DPIX_MATCH &&
		    a != DPIX_MATCH_MORE)
			fail("answer is not one of the four", shown);
		if (candidates & ~had)
			fail("a candidate came back", shown);
		if (a == DPIX_NOT_MINE && candidates)
			fail("not mine with candidates left", shown);
		if (a == DPIX_MATCH_MORE && !one_bit(candidates))
			fail("match-more without exactly one candidate left", shown);
		if ((a == DPIX_NEED_MORE || a == DPIX_NOT_MINE) &&
		    memcmp(&before, &facts, sizeof(facts)) != 0)
			fail("facts changed without a match", shown);
		if (a == DPIX_MATCH || a == DPIX_MATCH_MORE)
			matched = true;
		if (matched && (facts.app == APP_UNKNOWN || facts.app >= APP_COUNT))
			fail("a matched flow's app is unknown or out of range", shown);
		check_facts(&facts, shown);
		if (a == DPIX_MATCH || a == DPIX_NOT_MINE)
			break;
	}
	free(scratch);
	return 0;
}
