/*
 * test_plugin.c: the plugin loader (src/plugin/plugin.c), with the small
 * plugins of tests/unit/plugins/testplug.c. Each refusal is checked for its
 * exact message, for not having run the plugin's init (the refused ones
 * would register a dissector), and for leaving nothing registered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dissect/dissect.h"
#include "plugin/plugin.h"

#define PLUG(name) TESTPLUG_BUILDDIR LT_OBJDIR name ".so"

/* Nothing of any plugin is left: no dissector, app name, output, plugin. */
static void assert_clean(void)
{
	struct plugin_error err;

	assert_int_equal(plugin_count(), 0);
	assert_int_equal(dissect_added(), 0);
	assert_int_equal(dissect_count(), 5);
	assert_int_equal(dissect_app_count(), APP_COUNT);
	assert_string_equal(app_proto_name(APP_COUNT), "unknown");
	assert_int_equal(plugin_output_open("good", &err), -1);
	assert_int_equal(plugin_outputs_open(), 0);
}

static int teardown(void **state)
{
	(void)state;
	plugin_unload_all();
	return 0;
}

static void assert_refused(const char *path, const char *msg)
{
	struct plugin_error err;
	char want[PLUGIN_MSG_MAX];

	snprintf(want, sizeof(want), "%s: %s", path, msg);
	memset(err.msg, 'x', sizeof(err.msg));
	assert_int_equal(plugin_load(path, &err), -1);
	assert_string_equal(err.msg, want);
	assert_clean();
}

static void test_good(void **state)
{
	struct plugin_error err;
	const struct dissector *d;

	(void)state;
	assert_int_equal(plugin_load(PLUG("good"), &err), 0);
	assert_int_equal(plugin_count(), 1);
	/* Plugin dissectors are tried before the built-ins. */
	assert_int_equal(dissect_added(), 1);
	assert_int_equal(dissect_count(), 6);
	d = dissect_at(0);
	assert_string_equal(d->name, "good");
	assert_int_equal(d->app, APP_COUNT);
	assert_int_equal(d->transports, DPIX_TCP);
	assert_ptr_equal(dissect_at(1), &dissect_connect);
	assert_string_equal(app_proto_name(d->app), "goodproto");
	assert_int_equal(dissect_app_count(), APP_COUNT + 1);
	assert_int_equal(dissect_candidates(DPIX_TCP) & 1u, 1u);
	assert_int_equal(dissect_candidates(DPIX_UDP) & 1u, 0u);
	/* Its output: unknown names refused, a failing open reported. */
	assert_int_equal(plugin_output_open("nope", &err), -1);
	assert_string_equal(err.msg, "--output nope: no plugin loaded has an output named 'nope'");
	assert_int_equal(plugin_output_open("good:x", &err), -1);
	assert_string_equal(err.msg,
			    "--output good:x: the output could not start (open returned -3)");
	assert_int_equal(plugin_output_open("good", &err), 0);
	assert_int_equal(plugin_output_open("good:y", &err), 0);
	assert_int_equal(plugin_outputs_open(), 2);
	plugin_output_event("{}", 2);
	/* The same plugin twice is refused, by name. */
	assert_int_equal(plugin_load(PLUG("good"), &err), -1);
	assert_string_equal(err.msg, PLUG("good") ": a plugin named 'good' is already loaded");
	assert_int_equal(dissect_added(), 1);
	plugin_unload_all();
	assert_clean();
}

static void test_newer_minor(void **state)
{
	struct plugin_error err;

	(void)state;
	assert_int_equal(plugin_load(PLUG("newer"), &err), 0);
	assert_int_equal(dissect_added(), 1);
	assert_int_equal(plugin_output_open("newer", &err), 0);
	plugin_unload_all();
	assert_clean();
}

static void test_abi_major(void **state)
{
	char msg[200];

	(void)state;
	snprintf(msg, sizeof(msg),
		 "plugin ABI 2.0, dpix has ABI %d.%d: rebuild the plugin against this dpix",
		 DPIX_PLUGIN_ABI_MAJOR, DPIX_PLUGIN_ABI_MINOR);
	assert_refused(PLUG("abi2"), msg);
}

static void test_short_descriptor(void **state)
{
	char msg[200];

	(void)state;
	snprintf(msg, sizeof(msg),
		 "plugin descriptor is 8 bytes, ABI 1.0 needs at least %zu: the plugin is broken",
		 sizeof(struct dpix_plugin));
	assert_refused(PLUG("short"), msg);
}

static void test_init_fails(void **state)
{
	(void)state;
	/* It registered a dissector, an app name and an output first. */
	assert_refused(PLUG("initfail"), "plugin initfail 0.1 failed to start (init returned -7)");
}

static void test_no_symbol(void **state)
{
	(void)state;
	assert_refused(PLUG("nosym"), "not a dpix plugin: no dpix_plugin_register function");
}

static void test_no_file(void **state)
{
	struct plugin_error err;
	const char *path = TESTPLUG_BUILDDIR "missing.so";

	(void)state;
	assert_int_equal(plugin_load(path, &err), -1);
	assert_true(!strncmp(err.msg, path, strlen(path)));
	assert_non_null(strstr(err.msg, ": cannot load plugin: "));
	assert_clean();
}

/* A refusal among good plugins takes nothing of theirs away. */
static void test_refusal_keeps_others(void **state)
{
	struct plugin_error err;

	(void)state;
	assert_int_equal(plugin_load(PLUG("good"), &err), 0);
	assert_int_equal(plugin_load(PLUG("initfail"), &err), -1);
	assert_int_equal(plugin_load(PLUG("abi2"), &err), -1);
	assert_int_equal(plugin_count(), 1);
	assert_int_equal(dissect_added(), 1);
	assert_int_equal(dissect_app_count(), APP_COUNT + 1);
	assert_int_equal(plugin_output_open("initfail", &err), -1);
	assert_int_equal(plugin_output_open("good", &err), 0);
	plugin_unload_all();
	assert_clean();
}

/* Registering is for init only. */
static void test_register_outside_init(void **state)
{
	static const struct dpix_output o = { sizeof(o), "late", NULL, NULL, NULL };

	(void)state;
	assert_int_equal(plugin_host.register_output(&o), -1);
	assert_int_equal(plugin_host.register_dissector(NULL), -1);
	assert_clean();
}

static void test_app_names(void **state)
{
	(void)state;
	assert_int_equal(dissect_app_add("tls"), APP_TLS);
	assert_int_equal(dissect_app_add("sip"), APP_COUNT);
	assert_int_equal(dissect_app_add("sip"), APP_COUNT);
	assert_int_equal(dissect_app_add(""), -1);
	assert_int_equal(dissect_app_add("SIP"), -1);
	assert_int_equal(dissect_app_add("a\"b"), -1);
	assert_int_equal(dissect_app_add("sixteen-chars-xx"), -1);
	for (unsigned i = APP_COUNT + 1; i < APP_MAX; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%u", i);
		assert_int_equal(dissect_app_add(name), (int)i);
	}
	assert_int_equal(dissect_app_add("onemore"), -1);
	assert_string_equal(app_proto_name(APP_MAX - 1), "p31");
	dissect_app_truncate(APP_COUNT);
	assert_int_equal(dissect_app_count(), APP_COUNT);
}

static void test_resolve(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(plugin_resolve("sip", "/usr/lib/dpix", out, sizeof(out)), 0);
	assert_string_equal(out, "/usr/lib/dpix/sip.so");
	assert_int_equal(plugin_resolve("sip.so", "/usr/lib/dpix", out, sizeof(out)), 0);
	assert_string_equal(out, "/usr/lib/dpix/sip.so");
	assert_int_equal(plugin_resolve("./x/sip.so", "/usr/lib/dpix", out, sizeof(out)), 0);
	assert_string_equal(out, "./x/sip.so");
	assert_int_equal(plugin_resolve("", "/usr/lib/dpix", out, sizeof(out)), -1);
	assert_int_equal(plugin_resolve("sip", "/a/very/long/directory/name/that/does/not/fit/here",
					out, 40),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_good, teardown),
		cmocka_unit_test_teardown(test_newer_minor, teardown),
		cmocka_unit_test_teardown(test_abi_major, teardown),
		cmocka_unit_test_teardown(test_short_descriptor, teardown),
		cmocka_unit_test_teardown(test_init_fails, teardown),
		cmocka_unit_test_teardown(test_no_symbol, teardown),
		cmocka_unit_test_teardown(test_no_file, teardown),
		cmocka_unit_test_teardown(test_refusal_keeps_others, teardown),
		cmocka_unit_test_teardown(test_register_outside_init, teardown),
		cmocka_unit_test_teardown(test_app_names, teardown),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
