/*
 * fuzz_plugin.c: hands a plugin's dissector to fuzz_probe.c. The plugin's
 * source is compiled into the harness (Makefile.am) and started the way
 * dpix starts it, with the host's own services (plugin_host: the TLS
 * parser, set_host), except that its registration is caught here: the
 * dissector it registers becomes FUZZ_DISSECTOR, fuzz_plugin_dissector.
 */
#include <stdlib.h>

#include "dissect/dissect.h"
#include "plugin/plugin.h"

struct dissector fuzz_plugin_dissector;

int LLVMFuzzerInitialize(int *argc, char ***argv);

static int take(const struct dpix_dissector *d)
{
	fuzz_plugin_dissector = (struct dissector){
		.name = d->name,
		.app = APP_COUNT,
		.transports = d->transports,
		.max_segs = d->max_segs,
		.max_bytes = d->max_bytes,
		.probe = d->probe,
	};
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct dpix_host host; /* the plugin keeps a pointer to it */

	(void)argc;
	(void)argv;
	host = plugin_host;
	host.register_dissector = take;
	if (dpix_plugin_register()->init(&host) < 0 || !fuzz_plugin_dissector.probe)
		abort();
	return 0;
}
