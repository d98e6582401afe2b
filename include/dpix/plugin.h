/*
 * dpix/plugin.h: the one header a dpix plugin is built against.
 *
 * Self-contained (only <stdbool.h>, <stddef.h>, <stdint.h>), installed as
 * $(includedir)/dpix/plugin.h. A plugin is a shared object exporting one
 * function, dpix_plugin_register(), that returns a const descriptor. The
 * host checks the descriptor's ABI version and size before it calls
 * anything else; then it calls init() with a table of host services, the
 * only way a plugin reaches dpix. See docs/plugins.md.
 *
 * ABI rules:
 *   - DPIX_PLUGIN_ABI_MAJOR changes when a struct member moves, changes
 *     type or meaning, or a function's signature changes. The host refuses
 *     a plugin of another major version, naming both.
 *   - DPIX_PLUGIN_ABI_MINOR grows when members are appended. Every struct
 *     that crosses the boundary starts with its size, so each side reads
 *     only the members the other one has: a host reads a plugin's struct
 *     only up to its size, a plugin checks host->size (or
 *     DPIX_HOST_HAS(host, member)) before it calls a newer service.
 *   - Nothing is ever removed or reordered within a major version.
 *
 * Threads: init, fini and registration happen on the host's main thread
 * before any packet is seen. A dissector's probe may be called from
 * several worker threads at once: it must keep no state of its own.
 */
#ifndef DPIX_PLUGIN_H
#define DPIX_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DPIX_PLUGIN_ABI_MAJOR 1
#define DPIX_PLUGIN_ABI_MINOR 0

#if defined(__GNUC__) || defined(__clang__)
#define DPIX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DPIX_PRINTF(f, a)
#endif

/* Transports a dissector handles (struct dpix_dissector.transports). */
#define DPIX_TCP 0x01
#define DPIX_UDP 0x02

/*
 * A classifier's answer: need more, not mine, match. A match may be final
 * (MATCH) or say that more facts follow from later bytes (MATCH_MORE):
 * then only that dissector is asked again, and what it found stands.
 */
enum dpix_answer {
	DPIX_NEED_MORE,	 /* a valid prefix so far: show me more bytes */
	DPIX_NOT_MINE,	 /* these bytes are not this protocol */
	DPIX_MATCH,	 /* this protocol; facts are filled in */
	DPIX_MATCH_MORE, /* this protocol; more facts may follow */
};

/*
 * What a dissector sees: for TCP the contiguous first bytes of each
 * direction (stream), for UDP the current datagram in its direction (dir;
 * the other direction's data is NULL). Index 0 is the client (initiator)
 * side. Everything is borrowed for the call only.
 */
struct dpix_input {
	uint8_t transport; /* DPIX_TCP or DPIX_UDP */
	uint8_t dir;	   /* direction of the newest bytes: 0 client, 1 server */
	uint16_t client_port, server_port;
	const uint8_t *data[2];
	size_t len[2];
	bool closed[2];	    /* no further bytes will come that way */
	uint8_t *scratch;   /* per-pipeline work buffer for reassembling */
	size_t scratch_len; /* records; at least the stream window */
	bool midstream;	    /* TCP: picked up after its start (no SYN seen), so
			     * which side is the client is a guess */
};

/* What the host knows about a flow. Opaque: a plugin writes facts only
 * through host services, and only the copy it was handed. */
struct dpix_facts;

/*
 * A dissector. The host copies it at registration, so it may live on the
 * plugin's stack; the strings must stay valid until fini.
 */
struct dpix_dissector {
	uint32_t size;	    /* sizeof(struct dpix_dissector) */
	const char *name;   /* for messages, e.g. "sip" */
	const char *app;    /* app_proto written in events on a match, e.g. "sip":
			   * [a-z0-9_-], 1 to 15 characters */
	uint8_t transports; /* DPIX_TCP | DPIX_UDP */
	uint16_t max_segs;  /* gives up after this many client payload segments */
	uint32_t max_bytes; /* and past this many client bytes without an answer */
	enum dpix_answer (*probe)(const struct dpix_input *in, struct dpix_facts *facts);
};

/*
 * An output sink: it hears every event the host writes. open() parses its
 * argument (the text after "name:" in --output name:arg, NULL without one)
 * and returns 0, or a negative number after logging why. event() gets one
 * EVE JSON record without its newline, borrowed for the call.
 */
struct dpix_output {
	uint32_t size; /* sizeof(struct dpix_output) */
	const char *name;
	int (*open)(const char *arg, void **state);
	void (*event)(void *state, const char *line, size_t len);
	void (*close)(void *state);
};

enum dpix_log_level { DPIX_LOG_ERR, DPIX_LOG_WARN, DPIX_LOG_INFO, DPIX_LOG_DEBUG };

/* Host services, handed to init. Valid until fini returns. */
struct dpix_host {
	uint32_t size; /* sizeof(struct dpix_host) as the host knows it */
	uint16_t abi_major, abi_minor;
	/* A message on the host's log, prefixed with the plugin's name. */
	void (*log)(enum dpix_log_level level, const char *fmt, ...) DPIX_PRINTF(2, 3);
	/* From init only. 0, or negative (table full, bad descriptor). */
	int (*register_dissector)(const struct dpix_dissector *d);
	int (*register_output)(const struct dpix_output *o);
	/* The host's TLS ClientHello parser over the client's bytes (in->data[0]):
	 * NEED_MORE, NOT_MINE or MATCH; on a match the SNI, ALPN, JA4 and version
	 * are in facts. A hello spanning records is gathered in in->scratch. */
	enum dpix_answer (*tls_client_hello)(const struct dpix_input *in, struct dpix_facts *facts);
	/* Keep a host name the protocol names (a SIP Request-URI host), written
	 * in events as "<app_proto>":{"host":...}. false if it is not a
	 * printable name of 1 to 255 bytes; facts are then unchanged. */
	bool (*set_host)(struct dpix_facts *facts, const char *name, size_t len);
};

/* Whether the host table h has the member m (appended in a later minor). */
#define DPIX_HOST_HAS(h, m) \
	((h)->size >= offsetof(struct dpix_host, m) + sizeof((h)->m) && (h)->m != NULL)

/* The plugin, as dpix_plugin_register returns it. */
struct dpix_plugin {
	uint16_t abi_major; /* DPIX_PLUGIN_ABI_MAJOR */
	uint16_t abi_minor; /* DPIX_PLUGIN_ABI_MINOR */
	uint32_t size;	    /* sizeof(struct dpix_plugin) */
	const char *name;
	const char *version;
	/* 0, or a negative number: the host then unloads the plugin and stops. */
	int (*init)(const struct dpix_host *host);
	void (*fini)(void); /* may be NULL */
};

/* The one symbol a plugin exports. */
#define DPIX_PLUGIN_SYMBOL "dpix_plugin_register"
const struct dpix_plugin *dpix_plugin_register(void);

/* Fill the version fields of a descriptor. */
#define DPIX_PLUGIN_INIT_HEADER                                                 \
	.abi_major = DPIX_PLUGIN_ABI_MAJOR, .abi_minor = DPIX_PLUGIN_ABI_MINOR, \
	.size = sizeof(struct dpix_plugin)

#endif
