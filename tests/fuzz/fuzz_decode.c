/*
 * fuzz_decode.c: libFuzzer harness for the frame decoder (src/decode/).
 *
 *   input = link[1] frame[...]     link % 8 is an enum link_type
 *
 * On DEC_OK every payload byte is read, so ASan proves that the payload
 * pointer and length the decoder hands out lie inside the frame; the
 * pointer bounds are also checked directly, with the other facts a
 * decoded packet promises (family, protocol).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the payload sum goes, so the reads cannot be optimized away. */
static volatile uint8_t fuzz_decode_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *frame;
	struct packet pkt;
	enum decode_reason r;
	enum link_type link;
	size_t len;
	uint8_t sum = 0;

	if (size < 1)
		return 0;
	link = (enum link_type)(data[0] % 8);
	frame = data + 1;
	len = size - 1;
	/* Poison the packet so a field the decoder forgot to set shows. */
	memset(&pkt, 0xa5, sizeof(pkt));
	r = decode_frame(link, frame, len, &pkt);
	if ((unsigned)r >= DEC_REASON_COUNT || !strcmp(decode_reason_name(r), "invalid"))
		abort();
	if (r != DEC_OK)
		return 0;
	if (pkt.family != 4 && pkt.family != 6)
		abort();
	if (pkt.proto != IPPROTO_TCP_ && pkt.proto != IPPROTO_UDP_)
		abort();
	if (pkt.payload < frame || pkt.payload > frame + len ||
	    pkt.payload_len > (size_t)(frame + len - pkt.payload))
		abort();
	for (size_t i = 0; i < pkt.payload_len; i++)
		sum = (uint8_t)(sum + pkt.payload[i]);
	fuzz_decode_sink = sum;
	return 0;
}
