/*
 * dissect.c: the ordered table of dissectors and the loop that asks them.
 *
 * Each dissector must say not-mine quickly on bytes that are not its
 * protocol. When two could match the same bytes, the first in the table
 * wins: plugin dissectors come first, in the order they were registered,
 * so a plugin can claim what a built-in would also take (SIP over TLS to
 * port 5061 is a TLS ClientHello too). Then the built-ins, in the order
 * below. To add a built-in protocol: write dissect_<proto>.c exporting
 * one descriptor and list it here; see docs/plugins.md for plugins.
 *
 * The table and the app names plugins add change only while plugins load,
 * before the first flow: candidate sets are bit positions in this table.
 */
#include <string.h>

#include "dissect/dissect.h"

static const struct dissector *const builtins[] = {
	&dissect_connect, &dissect_http, &dissect_tls, &dissect_stun, &dissect_dtls,
};
#define BUILTIN_COUNT (sizeof(builtins) / sizeof(builtins[0]))

static struct dissector added[DISSECT_MAX - BUILTIN_COUNT];
static unsigned added_count;

unsigned dissect_count(void)
{
	return added_count + BUILTIN_COUNT;
}

const struct dissector *dissect_at(unsigned i)
{
	if (i < added_count)
		return &added[i];
	i -= added_count;
	return i < BUILTIN_COUNT ? builtins[i] : NULL;
}

int dissect_add(const struct dissector *d)
{
	if (added_count >= DISSECT_MAX - BUILTIN_COUNT)
		return -1;
	added[added_count++] = *d;
	return 0;
}

unsigned dissect_added(void)
{
	return added_count;
}

void dissect_truncate(unsigned n)
{
	if (n < added_count)
		added_count = n;
}

static const char *const app_names[] = {
#define APP_NAME_(e, s) s,
	APP_PROTOS(APP_NAME_)
#undef APP_NAME_
};

static char app_added[APP_MAX - APP_COUNT][APP_NAME_MAX + 1];
static unsigned app_added_count;

const char *app_proto_name(unsigned a)
{
	if (a < APP_COUNT)
		return app_names[a];
	if (a - APP_COUNT < app_added_count)
		return app_added[a - APP_COUNT];
	return "unknown";
}

static bool is_app_name(const char *name)
{
	size_t n = strnlen(name, APP_NAME_MAX + 1);

	if (n == 0 || n > APP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_' || name[i] == '-'))
			return false;
	return true;
}

int dissect_app_add(const char *name)
{
	size_t n;

	if (!name || !is_app_name(name))
		return -1;
	for (unsigned a = 0; a < APP_COUNT + app_added_count; a++)
		if (!strcmp(app_proto_name(a), name))
			return (int)a;
	if (app_added_count >= APP_MAX - APP_COUNT)
		return -1;
	n = strlen(name);
	memcpy(app_added[app_added_count], name, n + 1);
	return (int)(APP_COUNT + app_added_count++);
}

unsigned dissect_app_count(void)
{
	return APP_COUNT + app_added_count;
}

void dissect_app_truncate(unsigned n)
{
	if (n >= APP_COUNT && n - APP_COUNT < app_added_count)
		app_added_count = n - APP_COUNT;
}

uint32_t dissect_candidates(uint8_t transport)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < dissect_count(); i++)
		if (dissect_at(i)->transports & transport)
			m |= 1u << i;
	return m;
}

enum dpix_answer dissect_run(uint32_t *candidates, const struct dpix_input *in,
			     uint16_t client_segs, struct dpix_facts *facts)
{
	/* After a MATCH_MORE only that dissector is left, and what it
	 * committed stands: it can add facts, never take the match back. */
	bool matched = facts->app != APP_UNKNOWN;

	for (unsigned i = 0; i < dissect_count() && *candidates; i++) {
		const struct dissector *d = dissect_at(i);
		struct dpix_facts found;
		enum dpix_answer a;

		if (!(*candidates & (1u << i)))
			continue;
		/* A dissector writes into a copy: what it found only counts if it
		 * matches, so a hello that turns out malformed after its SNI was
		 * read cannot leave that SNI behind for a rule to trust. The copy
		 * (1.1 KiB) is made for candidates only: made for every
		 * dissector, it was two thirds of this function's time. */
		found = *facts;
		a = d->probe(in, &found);
		if (a == DPIX_MATCH || a == DPIX_MATCH_MORE) {
			/* A probe may name a more specific protocol than its
			 * descriptor (the HTTP dissector says websocket). */
			if (found.app == APP_UNKNOWN)
				found.app = d->app;
			*facts = found;
			*candidates = 1u << i;
			return a;
		}
		if (matched)
			return a == DPIX_NEED_MORE && !in->closed[0] ? DPIX_MATCH_MORE : DPIX_MATCH;
		/* Out of budget or out of bytes: an unanswered question is a no.
		 * On a flow picked up mid-stream which side is the client is a
		 * guess, so there only both sides closing ends the wait. */
		if (a == DPIX_NEED_MORE &&
		    (client_segs >= d->max_segs || in->len[0] >= d->max_bytes ||
		     (in->closed[0] && (in->closed[1] || !in->midstream))))
			a = DPIX_NOT_MINE;
		if (a == DPIX_NOT_MINE)
			*candidates &= ~(1u << i);
	}
	return *candidates ? DPIX_NEED_MORE : DPIX_NOT_MINE;
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

bool facts_set_app_host(struct dpix_facts *facts, const char *name, size_t len)
{
	if (!name || !dissect_is_sni((const uint8_t *)name, len))
		return false;
	return facts_set_host(facts->app_host, &facts->app_host_len, (const uint8_t *)name, len);
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
