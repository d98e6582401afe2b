#ifndef DPIX_STREAM_H
#define DPIX_STREAM_H

#include <stdbool.h>

#include "stream/stream-t.h"

void stream_config_init(struct stream_config *cfg, uint32_t window, size_t memcap);

/* A SYN carries the initial sequence number; data starts at isn + 1. */
void stream_syn(struct stream_dir *sd, uint32_t isn);

/*
 * Add a segment. Bytes before the base or already held are dropped (the first
 * copy wins); bytes past the window are dropped; a segment that starts past
 * the window while a hole remains stops the direction (STREAM_GAP). Returns
 * true when the contiguous prefix grew.
 */
bool stream_add(struct stream_dir *sd, struct stream_config *cfg, uint32_t seq, const uint8_t *data,
		size_t len);

void stream_fin(struct stream_dir *sd);

/* The contiguous prefix, borrowed until the next stream_add or free. */
static inline const uint8_t *stream_data(const struct stream_dir *sd, size_t *len)
{
	*len = sd->contig;
	return sd->buf;
}

void stream_free(struct stream_dir *sd, struct stream_config *cfg);

#endif
