/*
 * dissect.c: the ordered table of dissectors and the loop that asks them.
 *
 * Order matters only for speed: each dissector must say not-mine quickly
 * on bytes that are not its protocol, and no two may match the same bytes.
 * To add a protocol: write dissect_<proto>.c exporting one descriptor and
 * list it here.
 */
#include <string.h>

#include "dissect/dissect.h"

const struct dissector *const dissectors[] = {
	&dissect_connect, &dissect_http, &dissect_tls, &dissect_stun, &dissect_dtls,
};
const unsigned dissector_count = sizeof(dissectors) / sizeof(dissectors[0]);

static const char *const app_names[] = {
#define APP_NAME_(e, s) s,
	APP_PROTOS(APP_NAME_)
#undef APP_NAME_
};

const char *app_proto_name(enum app_proto a)
{
	return (unsigned)a < APP_COUNT ? app_names[a] : "unknown";
}

uint32_t dissect_candidates(uint8_t transport)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < dissector_count; i++)
		if (dissectors[i]->transports & transport)
			m |= 1u << i;
	return m;
}

enum dissect_answer dissect_run(uint32_t *candidates, const struct dissect_input *in,
				uint16_t client_segs, struct flow_facts *facts)
{
	/* After a MATCH_MORE only that dissector is left, and what it
	 * committed stands: it can add facts, never take the match back. */
	bool matched = facts->app != APP_UNKNOWN;

	for (unsigned i = 0; i < dissector_count && *candidates; i++) {
		const struct dissector *d = dissectors[i];
		struct flow_facts found = *facts;
		enum dissect_answer a;

		if (!(*candidates & (1u << i)))
			continue;
		/* A dissector writes into a copy: what it found only counts if it
		 * matches, so a hello that turns out malformed after its SNI was
		 * read cannot leave that SNI behind for a rule to trust. */
		a = d->probe(in, &found);
		if (a == DISSECT_MATCH || a == DISSECT_MATCH_MORE) {
			/* A probe may name a more specific protocol than its
			 * descriptor (the HTTP dissector says websocket). */
			if (found.app == APP_UNKNOWN)
				found.app = d->app;
			*facts = found;
			*candidates = 1u << i;
			return a;
		}
		if (matched)
			return a == DISSECT_NEED_MORE && !in->closed[0] ? DISSECT_MATCH_MORE
									: DISSECT_MATCH;
		/* Out of budget or out of bytes: an unanswered question is a no.
		 * On a flow picked up mid-stream which side is the client is a
		 * guess, so there only both sides closing ends the wait. */
		if (a == DISSECT_NEED_MORE &&
		    (client_segs >= d->max_segs || in->len[0] >= d->max_bytes ||
		     (in->closed[0] && (in->closed[1] || !in->midstream))))
			a = DISSECT_NOT_MINE;
		if (a == DISSECT_NOT_MINE)
			*candidates &= ~(1u << i);
	}
	return *candidates ? DISSECT_NEED_MORE : DISSECT_NOT_MINE;
}

bool facts_set_host(char *dst, uint8_t *dst_len, const uint8_t *src, size_t len)
{
	if (len == 0 || len > HOST_MAX)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	*dst_len = (uint8_t)len;
	return true;
}

bool dissect_is_host_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

bool dissect_is_ipv6_char(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
	       ch == ':' || ch == '.';
}

bool dissect_is_sni(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return false;
	return n > 0;
}
