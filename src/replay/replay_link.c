/*
 * replay_link.c: pcap link types (DLT_*) onto the decoder's link types. Kept
 * apart from replay.c so the fuzz harnesses and the seed extractor, which
 * read captures without the replay driver, use the same mapping.
 */
#include <pcap/pcap.h>

#include "replay/replay.h"

int replay_link_type(int dlt, enum link_type *lt)
{
	static const struct {
		int dlt;
		enum link_type lt;
	} map[] = {
		{ DLT_EN10MB, LINK_ETHERNET }, { DLT_LINUX_SLL, LINK_SLL },
		{ DLT_LINUX_SLL2, LINK_SLL2 }, { DLT_RAW, LINK_RAW },
		{ DLT_IPV4, LINK_IPV4 },       { DLT_IPV6, LINK_IPV6 },
		{ DLT_NULL, LINK_NULL },       { DLT_LOOP, LINK_LOOP },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].dlt == dlt) {
			*lt = map[i].lt;
			return 0;
		}
	}
	return -1;
}
