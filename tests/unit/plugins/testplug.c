/*
 * testplug.c: small plugins for test_plugin.c, one per TESTPLUG_* variant
 * (Makefile.am builds this file once for each), each testing one way the
 * loader must accept or refuse a plugin:
 *
 *   GOOD      ABI 1.0: registers dissector "good" (app "goodproto") and
 *             output "good", which counts the records it hears
 *   NEWER     ABI 1.(minor+1), a descriptor longer than this host knows
 *   ABI2      ABI 2.0; its init would register a dissector if called
 *   SHORT     a descriptor claiming 8 bytes
 *   INITFAIL  registers a dissector and an output, then returns -7
 *   NOSYM     exports no dpix_plugin_register
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpix/plugin.h"

static const struct dpix_host *host;
static unsigned events; /* records the "good" output heard */

static enum dpix_answer never(const struct dpix_input *in, struct dpix_facts *facts)
{
	(void)in;
	(void)facts;
	return DPIX_NOT_MINE;
}

static const struct dpix_dissector dissector = {
	.size = sizeof(struct dpix_dissector),
	.name = "good",
	.app = "goodproto",
	.transports = DPIX_TCP,
	.max_segs = 1,
	.max_bytes = 1,
	.probe = never,
};

static int out_open(const char *arg, void **state)
{
	*state = &events;
	if (arg && arg[0] == 'x')
		return -3;
	return 0;
}

static void out_event(void *state, const char *line, size_t len)
{
	(void)line;
	(void)len;
	(*(unsigned *)state)++;
}

static void out_close(void *state)
{
	(void)state;
	host->log(DPIX_LOG_INFO, "closed after %u records", events);
}

static const struct dpix_output output = {
	.size = sizeof(struct dpix_output),
	.name = TESTPLUG_NAME,
	.open = out_open,
	.event = out_event,
	.close = out_close,
};

static int init(const struct dpix_host *h)
{
	host = h;
	if (h->register_dissector(&dissector) < 0 || h->register_output(&output) < 0)
		return -1;
#ifdef TESTPLUG_INITFAIL
	return -7;
#else
	return 0;
#endif
}

#ifdef TESTPLUG_NEWER
/* What a later minor version might look like: one more member at the end. */
static const struct {
	struct dpix_plugin v1;
	void (*reload)(void);
} plugin = {
	.v1 = {
		.abi_major = DPIX_PLUGIN_ABI_MAJOR,
		.abi_minor = DPIX_PLUGIN_ABI_MINOR + 1,
		.size = sizeof(plugin),
		.name = TESTPLUG_NAME,
		.version = "0.1",
		.init = init,
	},
};
#define DESCRIPTOR (&plugin.v1)
#else
static const struct dpix_plugin plugin = {
#ifdef TESTPLUG_ABI2
	.abi_major = 2,
	.abi_minor = 0,
#else
	.abi_major = DPIX_PLUGIN_ABI_MAJOR,
	.abi_minor = DPIX_PLUGIN_ABI_MINOR,
#endif
#ifdef TESTPLUG_SHORT
	.size = 8,
#else
	.size = sizeof(struct dpix_plugin),
#endif
	.name = TESTPLUG_NAME,
	.version = "0.1",
	.init = init,
};
#define DESCRIPTOR (&plugin)
#endif

#ifdef TESTPLUG_NOSYM
const struct dpix_plugin *dpix_plugin_registr(void);
const struct dpix_plugin *dpix_plugin_registr(void)
#else
const struct dpix_plugin *dpix_plugin_register(void)
#endif
{
	return DESCRIPTOR;
}
