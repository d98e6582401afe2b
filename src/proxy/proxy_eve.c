/*
 * proxy_eve.c: the forwarder's events: one EVE line per client connection
 * at its close, with the field names of the queue's events (DESIGN.md
 * "Events") and a "proxy" object of its own (dpixd(8), FORWARDER). Strings
 * are escaped; the line is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpixd/eve_out.h"
#include "proxy/proxy_int.h"
#include "rules/rules.h"

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct sbuf {
	char *p;
	size_t size, len;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len = b->len + (size_t)n < b->size ? b->len + (size_t)n : b->size - 1;
}

/* A JSON string; bytes outside printable ASCII become \u00XX. */
static void put_str(struct sbuf *b, const char *s, size_t n)
{
	put(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			put(b, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			put(b, "\\u%04x", ch);
		else
			put(b, "%c", ch);
	}
	put(b, "\"");
}

void proxy_addr_text(const struct sockaddr_storage *ss, char *buf, size_t n, unsigned *port)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	*port = 0;
	snprintf(buf, n, "-");
	if (ss->ss_family == AF_INET) {
		memcpy(&in, ss, sizeof(in));
		inet_ntop(AF_INET, &in.sin_addr, buf, (socklen_t)n);
		*port = ntohs(in.sin_port);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(&in6, ss, sizeof(in6));
		inet_ntop(AF_INET6, &in6.sin6_addr, buf, (socklen_t)n);
		*port = ntohs(in6.sin6_port);
	}
}

/* One line per connection at its close, one write(2) to the O_APPEND file. */
void proxy_eve_close(const struct conn *c)
{
	char line[4096], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], t[32];
	struct sbuf b = { line, sizeof(line) - 1, 0 };
	const struct dpix_facts *x = &c->facts;
	uint64_t us = wall_us();
	time_t sec = (time_t)(us / 1000000u);
	unsigned sport, dport;
	struct tm tm;

	if (!eve_out_enabled())
		return;
	gmtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	proxy_addr_text(&c->peer, src, sizeof(src), &sport);
	proxy_addr_text(&c->up, dst, sizeof(dst), &dport);
	put(&b, "{\"timestamp\":\"%s.%06u+0000\",\"flow_id\":%" PRIu64 ",\"event_type\":\"flow\"",
	    t, (unsigned)(us % 1000000u), c->id);
	put(&b, ",\"src_ip\":\"%s\",\"src_port\":%u", src, sport);
	if (c->uplen)
		put(&b, ",\"dest_ip\":\"%s\",\"dest_port\":%u", dst, dport);
	put(&b, ",\"proto\":\"TCP\",\"app_proto\":\"%s\"", x->app == APP_HTTP ? "http" : "connect");
	if (x->sni_len) {
		put(&b, ",\"tls\":{\"sni\":");
		put_str(&b, x->sni, x->sni_len);
		put(&b, "}");
	}
	put(&b, ",\"connect\":{\"host\":");
	if (x->connect_host_len) {
		put_str(&b, x->connect_host, x->connect_host_len);
		put(&b, ",\"port\":%u", x->connect_port);
	} else if (x->http_host_len) {
		put_str(&b, x->http_host, x->http_host_len);
	} else {
		put(&b, "null");
	}
	if (c->status)
		put(&b, ",\"status\":%u", c->status);
	if (x->flags & FACT_FRONTING)
		put(&b, ",\"fronting\":true");
	put(&b, "}");
	put(&b, ",\"proxy\":{\"mode\":\"%s\",\"decision\":\"%s\",\"close\":\"%s\"",
	    c->transparent ? "transparent" : "explicit", c->decision ? c->decision : "none",
	    c->close_reason ? c->close_reason : "closed");
	put(&b,
	    ",\"bytes_toserver\":%" PRIu64 ",\"bytes_toclient\":%" PRIu64
	    ",\"duration_ms\":%" PRIu64 "}",
	    c->d[0].bytes, c->d[1].bytes, proxy_now_ms() - c->start_ms);
	put(&b, ",\"verdict\":{\"action\":\"%s\"", rule_action_name(c->action));
	if (c->rule[0]) {
		put(&b, ",\"rule\":");
		put_str(&b, c->rule, strlen(c->rule));
		put(&b, ",\"pack\":");
		put_str(&b, c->pack, strlen(c->pack));
	}
	put(&b, "}}\n");
	if (eve_out_write(line, b.len) < 0)
		proxy_log("event not written: %s", strerror(errno));
}
