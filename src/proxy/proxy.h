/* proxy.h: the CONNECT forwarder (explicit HTTP/1.1 proxy) of dpixd. */
#ifndef DPIX_PROXY_H
#define DPIX_PROXY_H

#include <stdatomic.h>

#include "proxy/proxy-t.h"
#include "rules/rules-t.h"

/*
 * Parse a request head (proxy_head.c) from the first len bytes a client
 * sent. PROXY_HEAD_OK with *r filled in; PROXY_HEAD_MORE while the bytes
 * are a valid prefix shorter than PROXY_HEAD_MAX; otherwise the HTTP status
 * to refuse it with (400, 431, 505) and *why a short reason.
 */
int proxy_head_parse(const uint8_t *buf, size_t len, struct proxy_request *r, const char **why);

/*
 * The target of a redirected connection from its first len bytes
 * (proxy_sniff.c): a TLS ClientHello's SNI, a plain HTTP request's Host,
 * else (once final: no more bytes will come) the original destination
 * address orig; its port always. PROXY_HEAD_OK with r->req filled in as
 * for CONNECT name:port, its tunnel (tls, http, ...) and *kind what the
 * bytes were; PROXY_HEAD_MORE
 * while a hello or head is still partial.
 */
int proxy_sniff(const uint8_t *buf, size_t len, bool final, const struct sockaddr_storage *orig,
		struct proxy_request *r, enum proxy_sniffed *kind);

/* The class of an upstream address (proxy_guard.c); listeners may be NULL. */
enum proxy_addr_kind proxy_addr_class(const struct sockaddr *sa, const struct proxy_config *c);
const char *proxy_addr_kind_name(enum proxy_addr_kind k);

/* "ADDR:PORT" or "[V6]:PORT" -> an endpoint; -1 if it is not one. */
int proxy_parse_endpoint(const char *text, struct proxy_endpoint *e);
/* "HOST:PORT" -> the parent's name and port; -1 if it is not one. */
int proxy_parse_parent(const char *text, struct proxy_config *c);
/*
 * The parent's credentials from a file (proxy_guard.c): one line
 * "user:password" (RFC 7617: the user without a colon), kept as the
 * Proxy-Authorization value "Basic ..." in c->parent_auth. A file that
 * group or others may read is refused. 0, or -1 and why in err.
 */
int proxy_read_parent_auth(const char *path, struct proxy_config *c, char *err, size_t errlen);

/*
 * The forwarder in two steps, around dropping privileges: proxy_open binds
 * c's listening addresses and loads the TLS certificate (root may be
 * needed: a port below 1024, IP_TRANSPARENT, a key only root reads), NULL
 * after saying why on stderr; proxy_go then starts its threads, which
 * inherit the dropped privileges (0, or -1 after saying why; proxy_stop
 * frees it either way). It reads the ruleset the way the NFQUEUE workers
 * do: when *gen changes it loads *rules and stores the generation in its
 * seen_gen (proxy_seen_gen), after which it no longer touches the one
 * before. Tunnel events go where dpixd's do (eve_out.h).
 */
struct proxy;
struct ruleset;
struct proxy *proxy_open(const struct proxy_config *c, _Atomic(struct ruleset *) *rules,
			 atomic_uint *gen);
int proxy_go(struct proxy *p);
unsigned proxy_seen_gen(struct proxy *p);
/*
 * A reload's forwarder settings (the parent, its credentials, the tunnel
 * bound, the timeouts, fronting, the mark; not the listeners nor TLS),
 * taken by the forwarder with the next ruleset generation: call it before
 * publishing that generation, and not again until the forwarder has seen
 * it (proxy_seen_gen).
 */
void proxy_settings(struct proxy *p, const struct proxy_config *c);
/* Counters to stderr. */
void proxy_report(struct proxy *p);
/* The counters now, for the control socket; false (and zeros) without a
 * forwarder. */
bool proxy_counts(struct proxy *p, struct proxy_counts *out);
/* Close every tunnel, stop the thread, free p; NULL is a no-op. */
void proxy_stop(struct proxy *p);

#endif
