/*
 * output_eve.c: one JSON object per verdict, with Suricata EVE field names
 * where they exist (DESIGN.md "Events"), so SIEM pipelines ingest it as is.
 * Strings from the wire are escaped; the line is bounded by OUTPUT_LINE_MAX.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dissect/dissect.h"
#include "output/output.h"
#include "rules/rules.h"

void outbuf_put(struct outbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= b->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len = b->len + (size_t)n < b->size ? b->len + (size_t)n : b->size - 1;
}

/* A JSON string; bytes outside printable ASCII become \u00XX. */
void outbuf_json_str(struct outbuf *b, const char *s, size_t n)
{
	outbuf_put(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			outbuf_put(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			outbuf_put(b, "\\u%04x", c);
		else
			outbuf_put(b, "%c", c);
	}
	outbuf_put(b, "\"");
}

static void put_key_str(struct outbuf *b, const char *key, const char *s)
{
	outbuf_put(b, ",\"%s\":", key);
	outbuf_json_str(b, s, strlen(s));
}

void output_addr(char *buf, size_t size, uint8_t family, const uint8_t addr[16])
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

static void put_time(struct outbuf *b, uint64_t ts_us)
{
	time_t sec = (time_t)(ts_us / 1000000u);
	struct tm tm;
	char t[32];

	gmtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	outbuf_put(b, "\"timestamp\":\"%s.%06u+0000\"", t, (unsigned)(ts_us % 1000000u));
}

/* "tls": {...} when a hello was seen: the SNI, ALPN list, JA4, version, ECH. */
static void put_tls(struct outbuf *b, const struct dpix_facts *x)
{
	const char *sep = "";

	if (!x->sni_len && !x->alpn[0] && !x->ja4[0] && !x->tls_version && !(x->flags & FACT_ECH))
		return;
	outbuf_put(b, ",\"tls\":{");
	if (x->sni_len) {
		outbuf_put(b, "\"sni\":");
		outbuf_json_str(b, x->sni, x->sni_len);
		sep = ",";
	}
	if (x->alpn[0]) {
		outbuf_put(b, "%s\"alpn\":", sep);
		outbuf_json_str(b, x->alpn, strlen(x->alpn));
		sep = ",";
	}
	if (x->ja4[0]) {
		outbuf_put(b, "%s\"ja4\":", sep);
		outbuf_json_str(b, x->ja4, strlen(x->ja4));
		sep = ",";
	}
	if (x->tls_version) {
		outbuf_put(b, "%s\"version\":\"0x%04x\"", sep, x->tls_version);
		sep = ",";
	}
	if (x->flags & FACT_ECH)
		outbuf_put(b, "%s\"ech\":true", sep);
	outbuf_put(b, "}");
}

size_t output_eve_format(char *buf, size_t size, const struct verdict_event *ev,
			 const char *pcap_filename)
{
	const struct flow *f = ev->flow;
	const struct dpix_facts *x = ev->facts;
	const struct verdict *v = ev->verdict;
	struct outbuf b = { buf, size, 0 };
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	output_addr(src, sizeof(src), f->key.family, f->key.addr[0]);
	output_addr(dst, sizeof(dst), f->key.family, f->key.addr[1]);
	outbuf_put(&b, "{");
	put_time(&b, ev->ts_us);
	outbuf_put(&b, ",\"flow_id\":%" PRIu64, f->id);
	if (pcap_filename)
		put_key_str(&b, "pcap_filename", pcap_filename);
	outbuf_put(&b, ",\"event_type\":\"flow\"");
	if (f->key.vlan)
		outbuf_put(&b, ",\"vlan\":[%u]", f->key.vlan);
	outbuf_put(&b, ",\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"%s\",\"dest_port\":%u",
		   src, f->key.port[0], dst, f->key.port[1]);
	outbuf_put(&b, ",\"proto\":\"%s\"", f->key.proto == IPPROTO_TCP_ ? "TCP" : "UDP");
	outbuf_put(&b, ",\"app_proto\":\"%s\"", app_proto_name(x->app));
	put_tls(&b, x);
	if (x->app == APP_CONNECT) {
		outbuf_put(&b, ",\"connect\":{");
		if (x->connect_host_len) {
			outbuf_put(&b, "\"host\":");
			outbuf_json_str(&b, x->connect_host, x->connect_host_len);
			outbuf_put(&b, ",\"port\":%u", x->connect_port);
		} else {
			outbuf_put(&b, "\"host\":null");
		}
		if (x->connect_status)
			outbuf_put(&b, ",\"status\":%u", x->connect_status);
		if (x->tunnel != TUNNEL_NONE)
			outbuf_put(&b, ",\"tunnel\":\"%s\"",
				   rules_tunnel_words[x->tunnel < TUNNEL_COUNT ? x->tunnel
									       : TUNNEL_UNKNOWN]);
		if (x->flags & FACT_FRONTING)
			outbuf_put(&b, ",\"fronting\":true");
		outbuf_put(&b, "}");
	}
	if (x->http_host_len || (x->flags & FACT_PROXY_GET)) {
		outbuf_put(&b, ",\"http\":{");
		if (x->http_host_len) {
			outbuf_put(&b, "\"hostname\":");
			outbuf_json_str(&b, x->http_host, x->http_host_len);
		}
		if (x->flags & FACT_PROXY_GET)
			outbuf_put(&b, "%s\"proxy\":true", x->http_host_len ? "," : "");
		outbuf_put(&b, "}");
	}
	/* A host a plugin protocol names, under that protocol's name. */
	if (x->app_host_len) {
		outbuf_put(&b, ",\"%s\":{\"host\":", app_proto_name(x->app));
		outbuf_json_str(&b, x->app_host, x->app_host_len);
		outbuf_put(&b, "}");
	}
	if (x->app == APP_WEBSOCKET || x->tunnel == TUNNEL_WEBSOCKET)
		outbuf_put(&b, ",\"websocket\":{\"accept_ok\":%s}",
			   (x->flags & FACT_WS_ACCEPT_OK) ? "true" : "false");
	if (x->push)
		outbuf_put(&b, ",\"push\":{\"service\":\"%s\"}",
			   x->push == PUSH_APNS ? "apns" : "fcm");
	if (x->flags & FACT_STUN)
		outbuf_put(&b, ",\"stun\":{\"method\":%u,\"turn\":%s%s}", x->stun_method,
			   (x->flags & FACT_TURN) ? "true" : "false",
			   (x->flags & FACT_TURN_DTLS) ? ",\"dtls\":true" : "");
	outbuf_put(&b, ",\"verdict\":{\"action\":\"%s\"", rule_action_name(v->action));
	if (v->rule) {
		put_key_str(&b, "rule", v->rule->id);
		put_key_str(&b, "pack", v->rule->pack->name);
		if (v->rule->service)
			put_key_str(&b, "service", v->rule->service);
		if (v->rule->timeout)
			outbuf_put(&b, ",\"timeout\":%u", v->rule->timeout);
	}
	outbuf_put(&b, ",\"reason\":\"%s\"}}", verdict_reason_name(v->reason));
	return b.len;
}

void output_table_header(FILE *out)
{
	fprintf(out, "%-6s %-47s %-5s %-9s %-34s %-8s %s\n", "FLOW", "CLIENT -> SERVER", "PROTO",
		"APP", "NAME (CONNECT/SNI/HOST)", "VERDICT", "RULE");
}

size_t output_table_format(char *buf, size_t size, const struct verdict_event *ev)
{
	const struct flow *f = ev->flow;
	const struct dpix_facts *x = ev->facts;
	const struct verdict *v = ev->verdict;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], ends[128], name[HOST_MAX + 16];
	const char *lb = f->key.family == 6 ? "[" : "", *rb = f->key.family == 6 ? "]" : "";
	int n;

	output_addr(src, sizeof(src), f->key.family, f->key.addr[0]);
	output_addr(dst, sizeof(dst), f->key.family, f->key.addr[1]);
	snprintf(ends, sizeof(ends), "%s%s%s:%u -> %s%s%s:%u", lb, src, rb, f->key.port[0], lb, dst,
		 rb, f->key.port[1]);
	/* Names were checked to be printable ASCII by the dissectors. */
	if (x->app == APP_CONNECT && x->connect_host_len && strchr(x->connect_host, ':'))
		snprintf(name, sizeof(name), "[%s]:%u", x->connect_host, x->connect_port);
	else if (x->app == APP_CONNECT && x->connect_host_len)
		snprintf(name, sizeof(name), "%s:%u", x->connect_host, x->connect_port);
	else if (x->sni_len)
		snprintf(name, sizeof(name), "%s", x->sni);
	else if (x->http_host_len)
		snprintf(name, sizeof(name), "%s", x->http_host);
	else if (x->app_host_len)
		snprintf(name, sizeof(name), "%s", x->app_host);
	else
		snprintf(name, sizeof(name), "-");
	n = snprintf(buf, size, "%-6" PRIu64 " %-47s %-5s %-9s %-34s %-8s %s (%s)", f->id, ends,
		     f->key.proto == IPPROTO_TCP_ ? "TCP" : "UDP", app_proto_name(x->app), name,
		     rule_action_name(v->action), v->rule ? v->rule->id : "-",
		     verdict_reason_name(v->reason));
	return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}
