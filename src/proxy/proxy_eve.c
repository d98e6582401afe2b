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
#include "output/output.h"
#include "proxy/proxy_int.h"
#include "rules/rules.h"

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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
	struct outbuf b = { line, sizeof(line) - 1, 0 };
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
	outbuf_put(
	    &b, "{\"timestamp\":\"%s.%06u+0000\",\"flow_id\":%" PRIu64 ",\"event_type\":\"flow\"",
	    t, (unsigned)(us % 1000000u), c->id);
	outbuf_put(&b, ",\"src_ip\":\"%s\",\"src_port\":%u", src, sport);
	if (c->uplen)
		outbuf_put(&b, ",\"dest_ip\":\"%s\",\"dest_port\":%u", dst, dport);
	outbuf_put(&b, ",\"proto\":\"TCP\",\"app_proto\":\"%s\"",
		   x->app == APP_HTTP ? "http" : "connect");
	if (x->sni_len) {
		outbuf_put(&b, ",\"tls\":{\"sni\":");
		outbuf_json_str(&b, x->sni, x->sni_len);
		outbuf_put(&b, "}");
	}
	outbuf_put(&b, ",\"connect\":{\"host\":");
	if (x->connect_host_len) {
		outbuf_json_str(&b, x->connect_host, x->connect_host_len);
		outbuf_put(&b, ",\"port\":%u", x->connect_port);
	} else if (x->http_host_len) {
		outbuf_json_str(&b, x->http_host, x->http_host_len);
	} else {
		outbuf_put(&b, "null");
	}
	if (c->status)
		outbuf_put(&b, ",\"status\":%u", c->status);
	if (x->tunnel != TUNNEL_NONE && x->tunnel < TUNNEL_COUNT)
		outbuf_put(&b, ",\"tunnel\":\"%s\"", rules_tunnel_words[x->tunnel]);
	if (x->flags & FACT_FRONTING)
		outbuf_put(&b, ",\"fronting\":true");
	outbuf_put(&b, "}");
	outbuf_put(&b, ",\"proxy\":{\"mode\":\"%s\"", c->transparent ? "transparent" : "explicit");
	if (c->tls)
		outbuf_put(&b, ",\"tls\":true");
	if (c->tls_error) {
		outbuf_put(&b, ",\"tls_error\":");
		outbuf_json_str(&b, c->tls_error, strlen(c->tls_error));
	}
	outbuf_put(&b, ",\"decision\":\"%s\",\"close\":\"%s\"", c->decision ? c->decision : "none",
		   c->close_reason ? c->close_reason : "closed");
	outbuf_put(&b,
		   ",\"bytes_toserver\":%" PRIu64 ",\"bytes_toclient\":%" PRIu64
		   ",\"duration_ms\":%" PRIu64 "}",
		   c->d[0].bytes, c->d[1].bytes, proxy_now_ms() - c->start_ms);
	outbuf_put(&b, ",\"verdict\":{\"action\":\"%s\"", rule_action_name(c->action));
	if (c->rule[0]) {
		outbuf_put(&b, ",\"rule\":");
		outbuf_json_str(&b, c->rule, strlen(c->rule));
		outbuf_put(&b, ",\"pack\":");
		outbuf_json_str(&b, c->pack, strlen(c->pack));
	}
	outbuf_put(&b, "}}\n");
	if (eve_out_write(line, b.len) < 0)
		proxy_log("event not written: %s", strerror(errno));
}
