/* proxy-t.h: the CONNECT forwarder's configuration, requests and counters. */
#ifndef DPIX_PROXY_T_H
#define DPIX_PROXY_T_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dissect/dissect-t.h"

/* Bounds, each a default stated in dpixd(8) (FORWARDER). */
#define PROXY_MAX_LISTEN 8
#define PROXY_HEAD_MAX 8192	       /* request line and headers, bytes */
#define PROXY_HEADERS_MAX 64	       /* header fields in a request */
#define PROXY_HEAD_TIMEOUT_MS 10000    /* to receive the whole head */
#define PROXY_CONNECT_TIMEOUT_MS 10000 /* per upstream address */
#define PROXY_RESOLVE_TIMEOUT_MS 10000 /* for the name's addresses */
#define PROXY_PEEK_TIMEOUT_MS 10000    /* for the client's first bytes */
#define PROXY_PEEK_MAX 16384	       /* bytes of them kept to find an SNI */
#define PROXY_DEFAULT_IDLE_S 3600      /* a bypassed tunnel with no bytes */
#define PROXY_DEFAULT_MAX_TUNNELS 4096u
#define PROXY_MAX_ADDRS 16 /* upstream addresses tried, in resolver order */
#define PROXY_AUTH_MAX 512 /* "Basic " and the base64 of user:password */

struct proxy_endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	bool transparent; /* proxy-transparent or proxy-tproxy: redirected, not asked */
	bool tproxy;	  /* proxy-tproxy: diverted by TPROXY, IP_TRANSPARENT set */
	bool tls;	  /* proxy-listen-tls: the client speaks TLS to us first */
};

struct proxy_config {
	struct proxy_endpoint listen[PROXY_MAX_LISTEN];
	size_t nlisten;
	bool has_parent;
	char parent_host[HOST_MAX + 1];
	char parent_port[6];
	char parent_auth[PROXY_AUTH_MAX]; /* "Basic ..." for the parent when
					   * the client sends none; "": none */
	uint32_t max_tunnels;
	uint32_t idle_s;
	bool fronting_log; /* a fronted tunnel is flagged and counted, not closed */
	uint32_t mark;	   /* SO_MARK of upstream sockets; 0: none */
	/* Seconds to receive a head, or a redirected client's first bytes
	 * (PROXY_HEAD_TIMEOUT_MS by default). */
	uint32_t head_s;
	const char *tls_cert, *tls_key; /* PEM files, read once at start */
};

/* What a redirected client's first bytes were (proxy_sniff). */
enum proxy_sniffed { SNIFF_OTHER, SNIFF_TLS, SNIFF_HTTP };

/* What proxy_head_parse found in a request head. */
enum proxy_method { PROXY_CONNECT, PROXY_ABSOLUTE /* GET http://... and friends */ };

struct proxy_request {
	uint8_t method;	       /* enum proxy_method */
	uint8_t minor;	       /* HTTP/1.minor */
	size_t head_len;       /* bytes of the head, its blank line included */
	struct dpix_facts req; /* app, connect_host/port (CONNECT) or http_host */
	const uint8_t *auth;   /* Proxy-Authorization value, borrowed; NULL: none */
	size_t auth_len;
};

/* proxy_head_parse's answers: a head, more bytes needed, or the status a
 * refused head gets. */
#define PROXY_HEAD_OK 0
#define PROXY_HEAD_MORE 1

/* Why an address is refused as an upstream (proxy_addr_class). */
enum proxy_addr_kind {
	ADDR_PUBLIC,
	ADDR_LOOPBACK,
	ADDR_LINK_LOCAL,
	ADDR_PRIVATE, /* RFC 1918, ULA fc00::/7 */
	ADDR_UNSPECIFIED,
	ADDR_MULTICAST, /* and 255.255.255.255 */
	ADDR_LISTENER,	/* one of the proxy's own listening addresses */
};

/*
 * The forwarder's counters, one list: X(field, words in its stderr
 * report, help of its metric dpix_proxy_FIELD_total). The forwarder's
 * thread counts; the main and control threads read (hence atomic;
 * relaxed order is enough).
 */
#define PROXY_COUNTERS(X)                                                                   \
	X(accepted, "accepted", "Client connections accepted.")                             \
	X(tunnels, "tunnels", "Tunnels the forwarder opened itself (whitelisted).")         \
	X(parent, "to parent", "Requests handed to the parent proxy.")                      \
	X(refused, "refused", "Requests refused with 403 (not whitelisted, no parent).")    \
	X(bad_request, "bad requests", "Request heads refused as malformed (400, 505).")    \
	X(head_too_big, "heads too large", "Request heads over the size bounds (431).")     \
	X(head_timeout, "head timeouts", "Clients that sent no whole head in time.")        \
	X(over_limit, "over limit", "Clients refused over the tunnel or descriptor bound.") \
	X(resolve_fail, "resolve failures", "Names that did not resolve.")                  \
	X(addr_refused, "addresses refused",                                                \
	  "Upstream addresses refused by the address guard (rebinding, private, own).")     \
	X(connect_fail, "connect failures", "Tunnels whose upstream addresses all failed.") \
	X(connect_timeout, "connect timeouts", "Upstream connections that timed out.")      \
	X(fronting, "fronting", "Tunnels whose TLS SNI was not the CONNECT host.")          \
	X(tunnel_refused, "tunnels refused on their bytes",                                 \
	  "Tunnels closed because what they carried was not bypassed (the rules' tunnel).") \
	X(idle, "idle", "Tunnels closed by an idle timeout.")                               \
	X(transparent, "transparent", "Redirected (transparent) connections accepted.")     \
	X(tls, "TLS", "Clients accepted on TLS listeners (proxy-listen-tls).")              \
	X(tls_fail, "TLS handshakes failed", "TLS handshakes that failed (not timed out).")

struct proxy_stats {
#define PROXY_FIELD(f, words, help) atomic_ullong f;
	PROXY_COUNTERS(PROXY_FIELD)
#undef PROXY_FIELD
	atomic_uint open; /* client connections held now */
};

/* The same, read at one moment (proxy_counts). */
struct proxy_counts {
#define PROXY_FIELD(f, words, help) uint64_t f;
	PROXY_COUNTERS(PROXY_FIELD)
#undef PROXY_FIELD
	uint64_t open;
};

#endif
