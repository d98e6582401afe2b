/* dissect-t.h: what dissectors are given, what they answer, what they find. */
#ifndef DPIX_DISSECT_T_H
#define DPIX_DISSECT_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpix/plugin.h"

/* Detected application protocol, as written in events (app_proto). */
#define APP_PROTOS(X)                 \
	X(APP_UNKNOWN, "unknown")     \
	X(APP_CONNECT, "connect")     \
	X(APP_TLS, "tls")             \
	X(APP_HTTP, "http")           \
	X(APP_WEBSOCKET, "websocket") \
	X(APP_STUN, "stun")           \
	X(APP_DTLS, "dtls")

#define APP_ENUM_(e, s) e,
enum app_proto { APP_PROTOS(APP_ENUM_) APP_COUNT };
#undef APP_ENUM_

/* Plugin protocols get the ids from APP_COUNT up (dissect_app_add). */
#define APP_MAX 32
#define APP_NAME_MAX 15

/*
 * The push service a TLS flow's port suggests: APNS 5223 and 2197, FCM
 * 5228-5230 (seed 001 3.2). A hint, not proof (XMPP over TLS uses 5223
 * too): packs confirm it with the SNI or the provider's addresses. On 443
 * only the SNI can tell, so no hint is given there.
 */
enum push_service { PUSH_NONE, PUSH_APNS, PUSH_FCM };

/* What a CONNECT tunnel carries after the proxy's 2xx. */
enum tunnel_kind {
	TUNNEL_NONE,
	TUNNEL_TURN,
	TUNNEL_TLS,
	TUNNEL_UNKNOWN,
	TUNNEL_HTTP,	  /* plain HTTP through a CONNECT to port 80 */
	TUNNEL_WEBSOCKET, /* a WebSocket upgrade (ws://) through it */
	TUNNEL_COUNT
};

/* dpix_facts.flags */
#define FACT_FRONTING 0x01     /* the tunnel's SNI differs from the CONNECT host */
#define FACT_ECH 0x02	       /* the hello carries encrypted_client_hello */
#define FACT_WS_ACCEPT_OK 0x04 /* the 101's Sec-WebSocket-Accept matches the key */
#define FACT_TURN 0x08	       /* a TURN method or ChannelData was seen */
#define FACT_PROXY_GET 0x10    /* a plain proxy request (GET http://host/...) */
#define FACT_STUN 0x20	       /* STUN/TURN messages were seen (stun_method) */
#define FACT_TURN_DTLS 0x40    /* DTLS inside TURN ChannelData or Send/Data */

#define ALPN_MAX 63 /* the ALPN list as "h2,http/1.1", truncated at a comma */
#define JA4_MAX 39  /* a JA4 fingerprint is 36 characters */

/* A DNS name is at most 253 characters; one byte more gives room. */
#define HOST_MAX 255

/* Facts a flow keeps once dissectors have spoken; bounded copies. Plugins
 * see this type only by name (struct dpix_facts in dpix/plugin.h). */
struct dpix_facts {
	uint8_t app;		  /* enum app_proto */
	uint8_t flags;		  /* FACT_* */
	uint8_t sni_len;	  /* 0: no SNI */
	uint8_t connect_host_len; /* 0: no CONNECT target (or an invalid one) */
	uint8_t http_host_len;	  /* 0: no Host header (or proxy request host) */
	uint8_t app_host_len;	  /* 0: no host named by a plugin protocol */
	uint8_t tunnel;		  /* enum tunnel_kind */
	uint8_t push;		  /* enum push_service */
	uint16_t connect_port;
	uint16_t connect_status; /* the proxy's status code, 0 if not seen */
	uint16_t tls_version;	 /* highest offered: 0x0304 for TLS 1.3 */
	uint16_t stun_method;	 /* STUN/TURN method of the first message */
	char sni[HOST_MAX + 1];
	char connect_host[HOST_MAX + 1]; /* IPv6 literals without brackets */
	char http_host[HOST_MAX + 1];
	char app_host[HOST_MAX + 1]; /* a SIP Request-URI host, set_host() */
	char alpn[ALPN_MAX + 1];
	char ja4[JA4_MAX + 1];
};

/*
 * What a dissector is shown (struct dpix_input) and what it answers (enum
 * dpix_answer) are the plugin ABI's types (include/dpix/plugin.h), so
 * built-in and plugin dissectors share one probe signature. After
 * MATCH_MORE only that dissector is asked again; whatever it answers then,
 * the facts it committed stand, and the flow is decided at the latest when
 * its packet budget runs out (a CONNECT waits for the proxy's status and
 * the tunnel's first bytes, a WebSocket upgrade for the server's 101, STUN
 * over UDP for the DTLS that may follow).
 *
 * A dissector as dissect.c keeps it: built-in, or copied from a plugin's
 * struct dpix_dissector with its app name turned into an id.
 */
#define DISSECT_MAX 32 /* candidate sets are uint32_t bitmasks */

struct dissector {
	const char *name;
	uint8_t app;	    /* enum app_proto reported on a match, unless the
			     * probe set facts->app to a more specific one */
	uint8_t transports; /* DPIX_TCP | DPIX_UDP */
	uint16_t max_segs;  /* gives up after this many client payload segments */
	uint32_t max_bytes; /* and past this many client bytes without an answer */
	enum dpix_answer (*probe)(const struct dpix_input *in, struct dpix_facts *facts);
};

#endif
