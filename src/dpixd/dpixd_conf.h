/*
 * dpixd_conf.h: dpixd's settings, one table for the command line and
 * dpixd.conf(5): the same names, the same bounds, the same checks.
 */
#ifndef DPIX_DPIXD_CONF_H
#define DPIX_DPIXD_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "dpixd/dpixd.h"

#define DPIXD_DEFAULT_CONF "/etc/dpix/dpixd.conf"
#define DPIXD_DEFAULT_CTL "/run/dpix/dpixd.sock"
/* A configuration line longer than this is an error. */
#define DPIXD_CONF_LINE_MAX 1024

/* One setting of the table, as getopt and the file parser see it. */
struct dpixd_conf_key {
	const char *name; /* the key, and the long flag */
	bool flag_only;	  /* takes no value on the command line ("yes") */
	bool live;	  /* takes effect on reload; others need a restart */
};

/* The i-th key of the table, NULL past the last. */
const struct dpixd_conf_key *dpixd_conf_key(size_t i);

/* Every default into c (rules_dir from $DPIX_RULES_DIR or dir). */
void dpixd_conf_defaults(struct dpixd_config *c, const char *rules_dir);

/*
 * Set key to value. 0; -1 for an unknown key; -2 for a bad value, with
 * what was expected in why. A list key (rules, hook) adds to the list.
 */
int dpixd_conf_set(struct dpixd_config *c, const char *key, const char *value, char *why,
		   size_t whylen);

/*
 * Read a dpixd.conf(5) file into c. A missing file is fine unless
 * required. 0, or -1 with "FILE:LINE:COLUMN: ..." in err.
 */
int dpixd_conf_read(struct dpixd_config *c, const char *path, bool required, char *err,
		    size_t errlen);

/* The checks across settings (marks, last queue number); 0 or -1 with err. */
int dpixd_conf_check(const struct dpixd_config *c, char *err, size_t errlen);

/*
 * The whole configuration: defaults, then c->conf_path, then c->args
 * (which replace a list read from the file rather than add to it), then
 * the checks. c->conf_path, conf_required, args and nargs are kept.
 */
int dpixd_conf_build(struct dpixd_config *c, const char *rules_dir, char *err, size_t errlen);

/* The keys whose values differ between a and b, comma-separated, into
 * out (empty: none), skipping the live ones. */
void dpixd_conf_diff(const struct dpixd_config *a, const struct dpixd_config *b, char *out,
		     size_t outlen);

/* Free what c owns; c->packs_owned entries set to NULL are not freed. */
void dpixd_conf_free(struct dpixd_config *c);

#endif
