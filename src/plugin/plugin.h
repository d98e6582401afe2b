/*
 * plugin.h: loading plugins (include/dpix/plugin.h is their side of it).
 *
 * A plugin is refused before any of its code but dpix_plugin_register runs
 * when its descriptor is missing, of another ABI major version, or too
 * small; a plugin whose init fails is unloaded with whatever it had
 * registered. Either way the caller gets one message naming the file and
 * the reason, and nothing of that plugin stays behind.
 *
 * Not thread-safe: plugins are loaded, outputs opened and everything
 * unloaded on the main thread, before and after packets are classified.
 */
#ifndef DPIX_PLUGIN_PLUGIN_H
#define DPIX_PLUGIN_PLUGIN_H

#include <stddef.h>

#include "dpix/plugin.h"

#define PLUGIN_MAX 8	    /* plugins loaded at once */
#define PLUGIN_OUTPUT_MAX 8 /* outputs registered, and open, at once */
#define PLUGIN_MSG_MAX 512

struct plugin_error {
	char msg[PLUGIN_MSG_MAX];
};

/* Load the plugin at path and run its init. 0, or -1 with err->msg set. */
int plugin_load(const char *path, struct plugin_error *err);

/* The file a --plugin argument names: itself when it holds a '/', else
 * <dir>/<name>.so (".so" not added twice). 0, or -1 if it does not fit. */
int plugin_resolve(const char *arg, const char *dir, char *out, size_t size);

/* Open a registered output by "name" or "name:arg". 0, or -1 with err set. */
int plugin_output_open(const char *spec, struct plugin_error *err);

/* Hand one EVE record (no newline) to every open output. */
void plugin_output_event(const char *line, size_t len);

unsigned plugin_count(void);
unsigned plugin_outputs_open(void);

/* Close the outputs, call each plugin's fini (last loaded first), unload
 * them and forget what they registered. Safe to call when none is loaded. */
void plugin_unload_all(void);

/* The host table plugins get; for tests that call a plugin's code without
 * loading it. */
extern const struct dpix_host plugin_host;

#endif
