/* output.h: writing verdict events (EVE JSON lines, a readable table). */
#ifndef DPIX_OUTPUT_H
#define DPIX_OUTPUT_H

#include <stdio.h>

#include "pipeline/pipeline.h"

/* Longest line either format writes (hosts escaped at their worst). */
#define OUTPUT_LINE_MAX 8192

/* Format one event as an EVE JSON object (no newline) into buf. Returns the
 * length. pcap_filename may be NULL. */
size_t output_eve_format(char *buf, size_t size, const struct verdict_event *ev,
			 const char *pcap_filename);

void output_table_header(FILE *out);
size_t output_table_format(char *buf, size_t size, const struct verdict_event *ev);

/* A bounded text buffer: what does not fit is cut, never overrun. */
struct outbuf {
	char *p;
	size_t size, len;
};

void outbuf_put(struct outbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string; bytes outside printable ASCII become \u00XX. */
void outbuf_json_str(struct outbuf *b, const char *s, size_t n);

/* Text form of an address of the given family (4 or 6). */
void output_addr(char *buf, size_t size, uint8_t family, const uint8_t addr[16]);

#endif
