/*
 * proxy_sniff.c: what a transparently redirected connection is for. The
 * client did not say (no CONNECT): its first bytes do. They are read, not
 * consumed, up to PROXY_PEEK_MAX bytes or the head timeout, and replayed
 * upstream as they came.
 *
 *   TLS record 0x16 0x03 ..  ClientHello -> server_name  (dissect_tls.c)
 *   "METHOD target HTTP/1.x\r\n ... Host: name[:port]"   (dissect_http.c)
 *   anything else, or neither names a host -> the original destination
 *                                             address as an IP literal
 *
 * The name found and the original destination port become the target the
 * rules decide on, as facts app connect with connect_host/connect_port:
 * the same rules as for an explicit CONNECT to that name apply. A partial
 * hello or head is "more", never a guess, until the caller says the bytes
 * are final (buffer full, client EOF, or timeout).
 */
#include <arpa/inet.h>
#include <string.h>

#include "dissect/dissect.h"
#include "proxy/proxy.h"

/* The original destination as a target: its address text and port. */
static void target_address(const struct sockaddr_storage *orig, struct dpix_facts *f)
{
	char text[INET6_ADDRSTRLEN];
	const void *a;

	if (orig->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)orig)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)(const void *)orig)->sin_addr;
	if (!inet_ntop(orig->ss_family, a, text, sizeof(text)))
		return;
	facts_set_host(f->connect_host, &f->connect_host_len, (const uint8_t *)text, strlen(text));
}

static uint16_t orig_port(const struct sockaddr_storage *orig)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	if (orig->ss_family == AF_INET6) {
		memcpy(&in6, orig, sizeof(in6));
		return ntohs(in6.sin6_port);
	}
	memcpy(&in, orig, sizeof(in));
	return ntohs(in.sin_port);
}

int proxy_sniff(const uint8_t *buf, size_t len, bool final, const struct sockaddr_storage *orig,
		struct proxy_request *r, enum proxy_sniffed *kind)
{
	struct dpix_facts f = { 0 };
	uint8_t scratch[PROXY_PEEK_MAX];
	struct dpix_input in = { .transport = DPIX_TCP,
				 .dir = 0,
				 .server_port = orig_port(orig),
				 .data = { buf, NULL },
				 .len = { len, 0 },
				 .closed = { final, false },
				 .scratch = scratch,
				 .scratch_len = sizeof(scratch) };
	enum dpix_answer tls = len ? dissect_tls_client_hello(&in, &f) : DPIX_NEED_MORE;
	enum dpix_answer http = DPIX_NOT_MINE;

	memset(r, 0, sizeof(*r));
	r->method = PROXY_CONNECT;
	r->req.app = APP_CONNECT;
	r->req.connect_port = orig_port(orig);
	*kind = SNIFF_OTHER;
	if ((tls == DPIX_MATCH || tls == DPIX_MATCH_MORE) && f.sni_len) {
		*kind = SNIFF_TLS;
		memcpy(r->req.sni, f.sni, sizeof(r->req.sni));
		r->req.sni_len = f.sni_len;
		facts_set_host(r->req.connect_host, &r->req.connect_host_len,
			       (const uint8_t *)f.sni, f.sni_len);
		r->req.tunnel = TUNNEL_TLS;
		return PROXY_HEAD_OK;
	}
	if (tls == DPIX_MATCH || tls == DPIX_MATCH_MORE) {
		*kind = SNIFF_TLS; /* a hello without a name */
	} else if (tls == DPIX_NOT_MINE && len) {
		memset(&f, 0, sizeof(f));
		http = dissect_http.probe(&in, &f);
		if (http == DPIX_MATCH || http == DPIX_MATCH_MORE) {
			*kind = SNIFF_HTTP;
			if (f.http_host_len) {
				memcpy(r->req.http_host, f.http_host, sizeof(r->req.http_host));
				r->req.http_host_len = f.http_host_len;
				facts_set_host(r->req.connect_host, &r->req.connect_host_len,
					       (const uint8_t *)f.http_host, f.http_host_len);
				r->req.tunnel =
				    f.app == APP_WEBSOCKET ? TUNNEL_WEBSOCKET : TUNNEL_HTTP;
				return PROXY_HEAD_OK;
			}
		}
	}
	if (!final && len < PROXY_PEEK_MAX &&
	    (tls == DPIX_NEED_MORE || tls == DPIX_MATCH_MORE || http == DPIX_NEED_MORE))
		return PROXY_HEAD_MORE;
	/* No name: the address the client chose is the target. */
	target_address(orig, &r->req);
	r->req.tunnel = *kind == SNIFF_TLS    ? TUNNEL_TLS
			: *kind == SNIFF_HTTP ? TUNNEL_HTTP
			: len		      ? TUNNEL_UNKNOWN
					      : TUNNEL_NONE;
	return PROXY_HEAD_OK;
}
