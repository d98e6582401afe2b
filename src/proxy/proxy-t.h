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

struct proxy_endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	bool transparent; /* proxy-transparent: redirected, not asked */
	bool tls;	  /* proxy-listen-tls: the client speaks TLS to us first */
};

struct proxy_config {
	struct proxy_endpoint listen[PROXY_MAX_LISTEN];
	size_t nlisten;
	bool has_parent;
	char parent_host[HOST_MAX + 1];
	char parent_port[6];
	uint32_t max_tunnels;
	uint32_t idle_s;
	bool fronting_log;		/* a fronted tunnel is flagged and counted, not closed */
	uint32_t mark;			/* SO_MARK of upstream sockets; 0: none */
	uint32_t head_s;		/* to receive a head, or a redirected client's
			    * first bytes (PROXY_HEAD_TIMEOUT_MS by default) */
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

/* Counters: the forwarder's thread counts, SIGUSR1 reads them from the
 * main thread (hence atomic; relaxed order is enough). */
struct proxy_stats {
	atomic_ullong accepted, tunnels, parent, refused, bad_request, head_too_big, head_timeout,
	    over_limit, resolve_fail, addr_refused, connect_fail, connect_timeout, fronting, idle,
	    transparent, tls, tls_fail;
};

#endif
