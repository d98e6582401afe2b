#ifndef DPIX_DISSECT_H
#define DPIX_DISSECT_H

#include "dissect/dissect-t.h"

/*
 * The dissectors, in the order they are tried (dissect.c): those plugins
 * registered, in registration order, then the built-ins. At most
 * DISSECT_MAX in all. Registration happens before any flow is seen.
 */
unsigned dissect_count(void);
const struct dissector *dissect_at(unsigned i);

/* Add a plugin dissector (copied) in front of the built-ins: 0, or -1 when
 * the table is full. */
int dissect_add(const struct dissector *d);

/* Plugin dissectors registered so far; forget those past n (a plugin that
 * failed to load leaves nothing behind). */
unsigned dissect_added(void);
void dissect_truncate(unsigned n);

/*
 * The app id for a name a plugin gives (1 to APP_NAME_MAX of [a-z0-9_-]):
 * a built-in's id, one given before, or a new one from APP_COUNT up. -1
 * when the name is invalid or APP_MAX ids are taken. dissect_app_count()
 * is one past the highest id; dissect_app_truncate() forgets ids from n up.
 */
int dissect_app_add(const char *name);
unsigned dissect_app_count(void);
void dissect_app_truncate(unsigned n);

/* The descriptors, one per file. */
extern const struct dissector dissect_connect;
extern const struct dissector dissect_http;
extern const struct dissector dissect_tls;
extern const struct dissector dissect_stun;
extern const struct dissector dissect_dtls;

/* Bitmask of dissectors that may apply to a transport. */
uint32_t dissect_candidates(uint8_t transport);

/*
 * Run the candidate dissectors over in. Those that answer not-mine, or run
 * out of budget, are cleared from *candidates. Only a match changes facts:
 * then the matching dissector's findings are copied in and DPIX_MATCH is
 * returned (DPIX_MATCH_MORE if more facts may follow: that dissector is
 * then the only candidate left); DPIX_NOT_MINE means no candidate is
 * left; otherwise DPIX_NEED_MORE.
 */
enum dpix_answer dissect_run(uint32_t *candidates, const struct dpix_input *in,
			     uint16_t client_segs, struct dpix_facts *facts);

/* The name of a built-in or plugin app id, "unknown" for any other. */
const char *app_proto_name(unsigned a);

/* The host's TLS ClientHello parser, the built-in TLS dissector's probe
 * (dissect_tls.c); plugins reach it through their host table. */
enum dpix_answer dissect_tls_client_hello(const struct dpix_input *in, struct dpix_facts *facts);

/* A host name a plugin protocol names (facts->app_host): printable ASCII
 * without spaces, 1 to HOST_MAX bytes; false (facts unchanged) if not. */
bool facts_set_app_host(struct dpix_facts *facts, const char *name, size_t len);

/* Characters of a host name in an HTTP authority (RFC 3986 reg-name, the
 * subset real names use) and of an IPv6 literal between brackets. */
bool dissect_is_host_char(uint8_t ch);
bool dissect_is_ipv6_char(uint8_t ch);

/* A server name worth keeping: printable ASCII without spaces, not empty. */
bool dissect_is_sni(const uint8_t *p, size_t n);

/* Read a TLS/DTLS server_name extension's data (RFC 6066 3): the first
 * valid host_name goes to facts->sni; false if the list is malformed. */
bool dissect_server_name(const uint8_t *p, size_t n, struct dpix_facts *facts);

/* One UDP datagram as DTLS (dissect_dtls.c): a ClientHello if from_client
 * (its SNI to facts), else whole records; MATCH or NOT_MINE. */
enum dpix_answer dissect_dtls_datagram(const uint8_t *p, size_t n, bool from_client,
				       struct dpix_facts *facts);

/* A CONNECT authority, host ":" port or "[" IPv6 "]" ":" port with a
 * port 1..65535 (dissect_connect.c): the target to facts->connect_host and
 * connect_port; false (the target left unset) if it is not one. */
bool dissect_connect_authority(const uint8_t *a, size_t n, struct dpix_facts *facts);

/*
 * What a CONNECT tunnel carries, from the client's first bytes in it
 * (in->data[0]; in->closed[0] once no more will come): facts->tunnel (tls,
 * turn, http, websocket, unknown, none), and for TLS the SNI and
 * FACT_FRONTING against facts->connect_host. DPIX_MATCH_MORE while the
 * bytes may still change the answer (a hello whose name may follow).
 * dissect_connect.c; the forwarder asks it of the tunnels it opens.
 */
enum dpix_answer dissect_connect_tunnel(const struct dpix_input *in, struct dpix_facts *facts);

/* Copy a host name into a bounded facts field; false if it does not fit. */
bool facts_set_host(char *dst, uint8_t *dst_len, const uint8_t *src, size_t len);

#endif
