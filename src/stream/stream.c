/*
 * stream.c: bounded in-order reassembly of a direction's first bytes.
 *
 * Offsets are sequence numbers minus the base, computed modulo 2^32 and read
 * as signed, so wrap-around works. The window bounds every offset we store,
 * so the arithmetic never leaves uint32_t. A hostile sender can make us hold
 * at most window bytes (plus window/8 bitmap) per direction, and the shared
 * memcap bounds all directions together.
 */
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"

#define BIT_TEST(m, i) ((m)[(i) >> 3] & (1u << ((i)&7)))
#define BIT_SET(m, i) ((m)[(i) >> 3] |= (uint8_t)(1u << ((i)&7)))

void stream_config_init(struct stream_config *cfg, uint32_t window, size_t memcap)
{
	memset(cfg, 0, sizeof(*cfg));
	if (window == 0)
		window = STREAM_DEFAULT_WINDOW;
	if (window > STREAM_MAX_WINDOW)
		window = STREAM_MAX_WINDOW;
	cfg->window = window;
	cfg->memcap = memcap ? memcap : STREAM_DEFAULT_MEMCAP;
}

static size_t block_size(uint32_t cap)
{
	return (size_t)cap + (cap + 7) / 8;
}

static uint8_t *have_map(const struct stream_dir *sd)
{
	return sd->buf + sd->cap;
}

/* Set bits [from, to) of the have map: whole bytes at once (bit by bit, a
 * 1,400-byte segment took 1,400 read-modify-writes). */
static void set_range(uint8_t *m, uint32_t from, uint32_t to)
{
	while (from < to && (from & 7))
		BIT_SET(m, from), from++;
	if (to - from >= 8) {
		memset(m + (from >> 3), 0xff, (to - from) >> 3);
		from += (to - from) & ~7u;
	}
	while (from < to)
		BIT_SET(m, from), from++;
}

void stream_syn(struct stream_dir *sd, uint32_t isn)
{
	/* Retransmitted SYNs repeat the same ISN; only the first sets the base
	 * (a second SYN with another ISN is hostile or a new connection, which
	 * the flow table handles). */
	if (sd->flags & STREAM_BASE_SET)
		return;
	sd->base = isn + 1;
	sd->flags |= STREAM_BASE_SET;
}

void stream_fin(struct stream_dir *sd)
{
	sd->flags |= STREAM_FIN;
}

/* Make room for offsets below need; false if the memcap refuses. */
static bool reserve(struct stream_dir *sd, struct stream_config *cfg, uint32_t need)
{
	uint32_t ncap = sd->cap ? sd->cap : 2048;
	uint8_t *nb;

	if (need <= sd->cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	if (ncap > cfg->window)
		ncap = cfg->window;
	if (cfg->used - block_size(sd->cap) + block_size(ncap) > cfg->memcap) {
		sd->flags |= STREAM_MEMCAP;
		cfg->memcap_hits++;
		return false;
	}
	nb = malloc(block_size(ncap));
	if (!nb) {
		sd->flags |= STREAM_MEMCAP;
		cfg->memcap_hits++;
		return false;
	}
	/* Only the have map needs zeros: a data byte is read only once its
	 * bit says it was written. */
	memset(nb + ncap, 0, (ncap + 7) / 8);
	if (sd->buf) {
		memcpy(nb, sd->buf, sd->cap);
		memcpy(nb + ncap, have_map(sd), (sd->cap + 7) / 8);
		free(sd->buf);
	}
	cfg->used += block_size(ncap) - block_size(sd->cap);
	sd->buf = nb;
	sd->cap = ncap;
	return true;
}

bool stream_add(struct stream_dir *sd, struct stream_config *cfg, uint32_t seq, const uint8_t *data,
		size_t len)
{
	uint32_t off, end, old = sd->contig;
	int32_t rel;
	uint8_t *have;
	bool overlap = false;

	if (len == 0 || (sd->flags & STREAM_STOPPED))
		return false;
	sd->segs++;
	if (!(sd->flags & STREAM_BASE_SET)) {
		/* Midstream: the first segment we see defines byte 0. */
		sd->base = seq;
		sd->flags |= STREAM_BASE_SET;
	}
	rel = (int32_t)(seq - sd->base);
	if (rel < 0) {
		/* Starts before byte 0: keep only the part after it. */
		uint32_t before = (uint32_t) - (int64_t)rel;

		if (len <= before)
			return false;
		data += before;
		len -= before;
		rel = 0;
	}
	off = (uint32_t)rel;
	if (off >= cfg->window) {
		if (sd->contig < cfg->window && !(sd->flags & STREAM_GAP)) {
			sd->flags |= STREAM_GAP;
			cfg->gaps++;
		}
		return false;
	}
	end = len > cfg->window - off ? cfg->window : off + (uint32_t)len;
	if (!reserve(sd, cfg, end))
		return false;
	have = have_map(sd);
	if (off == sd->contig && sd->hi <= off) {
		/* In order with nothing held beyond: the common case. */
		memcpy(sd->buf + off, data, end - off);
		set_range(have, off, end);
		sd->contig = sd->hi = end;
	} else {
		for (uint32_t i = off; i < end; i++) {
			if (BIT_TEST(have, i)) {
				overlap = true;
				continue;
			}
			sd->buf[i] = data[i - off];
			BIT_SET(have, i);
		}
		if (end > sd->hi)
			sd->hi = end;
		while (sd->contig < sd->hi && BIT_TEST(have, sd->contig))
			sd->contig++;
	}
	if (overlap)
		cfg->overlaps++;
	if (sd->contig == cfg->window)
		sd->flags |= STREAM_FULL;
	return sd->contig > old;
}

void stream_free(struct stream_dir *sd, struct stream_config *cfg)
{
	if (sd->buf) {
		cfg->used -= block_size(sd->cap);
		free(sd->buf);
	}
	memset(sd, 0, sizeof(*sd));
}
