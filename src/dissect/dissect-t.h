/* dissect-t.h: what dissectors are given, what they answer, what they find. */
#ifndef DPIX_DISSECT_T_H
#define DPIX_DISSECT_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Detected application protocol, as written in events (app_proto). */
#define APP_PROTOS(X)             \
	X(APP_UNKNOWN, "unknown") \
	X(APP_CONNECT, "connect") \
	X(APP_TLS, "tls")

#define APP_ENUM_(e, s) e,
enum app_proto { APP_PROTOS(APP_ENUM_) APP_COUNT };
#undef APP_ENUM_

/* The three answers of a classifier (STYLE.md). */
enum dissect_answer {
	DISSECT_NEED_MORE, /* a valid prefix so far: show me more bytes */
	DISSECT_NOT_MINE,  /* these bytes are not this protocol */
	DISSECT_MATCH,	   /* this protocol; facts are filled in */
};

/* A DNS name is at most 253 characters; one byte more gives room. */
#define HOST_MAX 255

/* Facts a flow keeps once dissectors have spoken; bounded copies. */
struct flow_facts {
	uint8_t app;		  /* enum app_proto */
	uint8_t sni_len;	  /* 0: no SNI */
	uint8_t connect_host_len; /* 0: no CONNECT target (or an invalid one) */
	uint16_t connect_port;
	char sni[HOST_MAX + 1];
	char connect_host[HOST_MAX + 1]; /* IPv6 literals without brackets */
};

#define DISSECT_TCP 0x01
#define DISSECT_UDP 0x02

/*
 * What a dissector sees: for TCP the contiguous first bytes of each
 * direction (stream), for UDP the current datagram in its direction.
 * Index 0 is the client (initiator) side. Borrowed for the call only.
 */
struct dissect_input {
	uint8_t transport; /* DISSECT_TCP or DISSECT_UDP */
	uint16_t client_port, server_port;
	const uint8_t *data[2];
	size_t len[2];
	bool closed[2];	    /* no further bytes will come that way */
	uint8_t *scratch;   /* per-pipeline work buffer for reassembling */
	size_t scratch_len; /* records; at least the stream window */
};

struct dissector {
	const char *name;
	uint8_t app;	    /* enum app_proto reported on a match */
	uint8_t transports; /* DISSECT_TCP | DISSECT_UDP */
	uint16_t max_segs;  /* gives up after this many client payload segments */
	uint32_t max_bytes; /* and past this many client bytes without an answer */
	enum dissect_answer (*probe)(const struct dissect_input *in, struct flow_facts *facts);
};

#endif
