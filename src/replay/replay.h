#ifndef DPIX_REPLAY_H
#define DPIX_REPLAY_H

#include <stdbool.h>

#include "decode/decode-t.h"
#include "pipeline/pipeline.h"

enum replay_format { REPLAY_EVE, REPLAY_TABLE, REPLAY_NONE /* plugin outputs only */ };

struct replay_opts {
	char **files;
	int nfiles;
	enum replay_format format;
	struct pipeline_config cfg;
	const struct ruleset *rules;
	bool progress; /* a progress line on stderr when it is a terminal */
	bool summary;  /* the closing summary on stderr */
};

/* The decoder's link type for a pcap DLT value: 0, or -1 if unsupported. */
int replay_link_type(int dlt, enum link_type *lt);

/* Replay the files in order. Returns 0, or 1 if any file could not be read
 * in full (what was read is still classified and reported). */
int replay_run(const struct replay_opts *o);

#endif
