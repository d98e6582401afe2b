/*
 * fuzz_probe.c: libFuzzer harness for one stream dissector's probe, built
 * once per dissector (Makefile.am; a plugin's with fuzz_plugin.c) with
 *   FUZZ_DISSECTOR    the descriptor, e.g. dissect_tls
 *   FUZZ_HOST         the facts field it fills, e.g. sni (with sni_len)
 *   FUZZ_SERVER_PORT  the port the client talks to
 *   FUZZ_HOST_NONE    (optional) the dissector fills no host field on TCP
 *                     (STUN): FUZZ_HOST is then checked to stay unset
 *   FUZZ_FIXUP        (optional) a fix-up of fuzz_fixup.h, run after most
 *                     mutations (a custom mutator)
 *
 * The input is the client's byte stream. The probe sees it the way the
 * pipeline shows it: as a growing prefix, here cut every `step` bytes
 * (step = 1 + the last byte % 64, widened so there are at most MAX_CUTS
 * cuts) and once more at the full length. Not the first byte: the
 * protocol fixes that one (0x16 TLS, 'C' CONNECT, 0x00 or 0x01 STUN), so
 * each dissector had one step, and STUN a cut at nearly every byte (a
 * third of the executions per second it gets with the last byte). Each
 * prefix is copied into a heap block of exactly its size, so a read past
 * it is an ASan error; a prefix of zero bytes is handed over as NULL, as
 * the pipeline does for a client that closed before sending anything.
 *
 * Checked on every answer:
 *   - it is one of the four answers (MATCH_MORE: a match, more facts to come);
 *   - on a match, FUZZ_HOST's length is at most HOST_MAX and the field is a
 *     string of exactly that length (facts are poisoned before each call,
 *     so only what the probe wrote can pass);
 *   - once a prefix is not mine, every longer prefix is not mine.
 *
 * With FUZZ_HOST_NONE the poison would make the host check fail although
 * the dissector is right: a probe leaves the facts it does not own as
 * dissect_run() handed them over (a copy of the flow's facts, zeroed when
 * the flow began). So FUZZ_HOST starts out unset, as on a new flow, and on
 * a match it must still be unset: nothing may write a field it does not
 * own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"

#if !defined(FUZZ_DISSECTOR) || !defined(FUZZ_HOST) || !defined(FUZZ_SERVER_PORT)
#error "build with -DFUZZ_DISSECTOR=... -DFUZZ_HOST=... -DFUZZ_SERVER_PORT=..."
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define HOST_LEN CAT(FUZZ_HOST, _len)

/* A plugin's dissector is not a constant: fuzz_plugin.c fills it in. */
#ifdef FUZZ_PLUGIN
extern struct dissector FUZZ_DISSECTOR;
#endif

#define SCRATCH_LEN 16384
#define MAX_CUTS 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Noreturn void fail(const char *what, size_t len, size_t size)
{
	fprintf(stderr, "fuzz %s: %s (prefix %zu of %zu bytes)\n", STR(FUZZ_DISSECTOR), what, len,
		size);
	abort();
}

static enum dpix_answer probe_prefix(const uint8_t *data, size_t len, size_t size, uint8_t *scratch)
{
	uint8_t *copy = len ? malloc(len) : NULL;
	struct dpix_facts facts;
	struct dpix_input in = {
		.transport = DPIX_TCP,
		.client_port = 40000,
		.server_port = FUZZ_SERVER_PORT,
		.scratch = scratch,
		.scratch_len = SCRATCH_LEN,
	};
	enum dpix_answer a;

	if (len && !copy)
		abort();
	if (len)
		memcpy(copy, data, len);
	in.data[0] = copy;
	in.len[0] = len;
	in.closed[0] = len == size;
	memset(&facts, 0xa5, sizeof(facts));
#if defined(FUZZ_PLUGIN) || defined(FUZZ_HOST_NONE)
	/* The host field starts empty, as on a new flow (the pipeline's facts
	 * start zeroed): a plugin writes it only through set_host, which adds
	 * and never clears; STUN over TCP never writes it. */
	facts.HOST_LEN = 0;
	facts.FUZZ_HOST[0] = '\0';
#endif
	a = FUZZ_DISSECTOR.probe(&in, &facts);
	free(copy);
	if (a != DPIX_NEED_MORE && a != DPIX_NOT_MINE && a != DPIX_MATCH && a != DPIX_MATCH_MORE)
		fail("answer is not one of the four", len, size);
	if (a == DPIX_MATCH || a == DPIX_MATCH_MORE) {
		size_t n = facts.HOST_LEN; /* widened: the bound holds whatever its type */

		if (n > HOST_MAX)
			fail("host name length > HOST_MAX", len, size);
		if (n && (facts.FUZZ_HOST[n] != '\0' || strlen(facts.FUZZ_HOST) != n))
			fail("host name is not a string of its recorded length", len, size);
#ifdef FUZZ_HOST_NONE
		if (n || facts.FUZZ_HOST[0] != '\0')
			fail("a host field it does not fill was written", len, size);
#endif
	}
	return a;
}

#ifdef FUZZ_FIXUP
#include "fuzz_fixup.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* libFuzzer's mutation (dictionary included), then for three in four the
 * lengths made to agree (fuzz_fixup.h): FUZZ_FIXUP names the fix-up. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size = LLVMFuzzerMutate(data, size, max_size);
	if (seed % 4)
		FUZZ_FIXUP(data, size);
	return size;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step = size ? 1 + (size_t)data[size - 1] % 64 : 1, len = 0;
	bool not_mine = false;
	uint8_t *scratch = malloc(SCRATCH_LEN);

	if (!scratch)
		abort();
	while (size / step > MAX_CUTS)
		step *= 2;
	for (;;) {
		enum dpix_answer a = probe_prefix(data, len, size, scratch);

		if (not_mine && a != DPIX_NOT_MINE)
			fail("a longer prefix of a not-mine stream is no longer not-mine", len,
			     size);
		not_mine = a == DPIX_NOT_MINE;
		if (len == size)
			break;
		len = size - len > step ? len + step : size;
	}
	free(scratch);
	return 0;
}
