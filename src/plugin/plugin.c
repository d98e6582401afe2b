/*
 * plugin.c: the host side of the plugin ABI (include/dpix/plugin.h).
 *
 * Loading, in order, each step able to refuse:
 *   dlopen(RTLD_NOW | RTLD_LOCAL)    every symbol resolved now, none shared
 *   dlsym("dpix_plugin_register")    missing: not a dpix plugin
 *   register()                       NULL: refused
 *   descriptor abi_major             another major: refused, naming both
 *   descriptor size                  smaller than ABI 1.0's: refused
 *   name, init                       missing: refused
 *   init(&plugin_host)               < 0: what it registered is forgotten
 * A refused or failed plugin is dlclose()d; the caller stops (dpix exits 1)
 * rather than run half-loaded.
 *
 * A plugin's structs are read only up to the size they declare and copied
 * into zeroed host structs: a plugin built for a newer minor version has
 * members at the end this host does not know, and they are never read.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dissect/dissect.h"
#include "plugin/plugin.h"

/* Sizes of the structs as ABI 1.0 defined them: nothing smaller is valid. */
#define PLUGIN_V1_SIZE (offsetof(struct dpix_plugin, fini) + sizeof(void (*)(void)))
#define DISSECTOR_V1_SIZE                         \
	(offsetof(struct dpix_dissector, probe) + \
	 sizeof(enum dpix_answer(*)(const struct dpix_input *, struct dpix_facts *)))
#define OUTPUT_V1_SIZE (offsetof(struct dpix_output, close) + sizeof(void (*)(void *)))

struct loaded {
	void *handle;
	struct dpix_plugin desc; /* the plugin's descriptor, as far as we know it */
};

struct output {
	struct dpix_output o;
	unsigned plugin; /* index into plugins[] */
};

struct open_output {
	const struct output *out;
	void *state;
};

static struct loaded plugins[PLUGIN_MAX];
static unsigned nplugins;
static struct output outputs[PLUGIN_OUTPUT_MAX];
static unsigned noutputs;
static struct open_output opened[PLUGIN_OUTPUT_MAX];
static unsigned nopened;

/* The plugin whose code runs now (init, open): its name prefixes its log
 * lines, and only during init may it register. */
static const char *current_name;
static bool in_init;

static void error_set(struct plugin_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void error_set(struct plugin_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static void host_log(enum dpix_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void host_log(enum dpix_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (level == DPIX_LOG_DEBUG)
		return;
	fprintf(stderr, "dpix: %s: %s: ", current_name ? current_name : "plugin",
		(unsigned)level < 4 ? names[level] : "log");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int host_register_dissector(const struct dpix_dissector *pd)
{
	struct dpix_dissector d = { 0 };
	struct dissector in;
	int app;

	if (!in_init || !pd || pd->size < DISSECTOR_V1_SIZE) {
		host_log(DPIX_LOG_ERR, "register_dissector: %s",
			 !in_init ? "called outside init" : "descriptor missing or too small");
		return -1;
	}
	memcpy(&d, pd, pd->size < sizeof(d) ? pd->size : sizeof(d));
	if (!d.name || !d.probe || !d.max_segs || !d.max_bytes || !d.transports ||
	    (d.transports & ~(DPIX_TCP | DPIX_UDP))) {
		host_log(DPIX_LOG_ERR, "register_dissector: %s: incomplete descriptor",
			 d.name ? d.name : "(no name)");
		return -1;
	}
	app = dissect_app_add(d.app);
	if (app < 0) {
		host_log(DPIX_LOG_ERR,
			 "register_dissector: %s: app name '%s' is not 1 to %d of [a-z0-9_-], or "
			 "more than %d app names in all",
			 d.name, d.app ? d.app : "(none)", APP_NAME_MAX, APP_MAX);
		return -1;
	}
	in = (struct dissector){
		.name = d.name,
		.app = (uint8_t)app,
		.transports = d.transports,
		.max_segs = d.max_segs,
		.max_bytes = d.max_bytes,
		.probe = d.probe,
	};
	if (dissect_add(&in) < 0) {
		host_log(DPIX_LOG_ERR, "register_dissector: %s: at most %d dissectors in all",
			 d.name, DISSECT_MAX);
		return -1;
	}
	return 0;
}

static const struct output *output_find(const char *name, size_t n)
{
	for (unsigned i = 0; i < noutputs; i++)
		if (strlen(outputs[i].o.name) == n && !strncmp(outputs[i].o.name, name, n))
			return &outputs[i];
	return NULL;
}

static int host_register_output(const struct dpix_output *po)
{
	struct dpix_output o = { 0 };

	if (!in_init || !po || po->size < OUTPUT_V1_SIZE) {
		host_log(DPIX_LOG_ERR, "register_output: %s",
			 !in_init ? "called outside init" : "descriptor missing or too small");
		return -1;
	}
	memcpy(&o, po, po->size < sizeof(o) ? po->size : sizeof(o));
	if (!o.name || !o.name[0] || strchr(o.name, ':') || !o.open || !o.event || !o.close) {
		host_log(DPIX_LOG_ERR, "register_output: incomplete descriptor");
		return -1;
	}
	if (output_find(o.name, strlen(o.name))) {
		host_log(DPIX_LOG_ERR, "register_output: output '%s' already exists", o.name);
		return -1;
	}
	if (noutputs >= PLUGIN_OUTPUT_MAX) {
		host_log(DPIX_LOG_ERR, "register_output: at most %d outputs", PLUGIN_OUTPUT_MAX);
		return -1;
	}
	outputs[noutputs].o = o;
	outputs[noutputs].plugin = nplugins;
	noutputs++;
	return 0;
}

static bool host_set_host(struct dpix_facts *facts, const char *name, size_t len)
{
	return facts && facts_set_app_host(facts, name, len);
}

const struct dpix_host plugin_host = {
	.size = sizeof(struct dpix_host),
	.abi_major = DPIX_PLUGIN_ABI_MAJOR,
	.abi_minor = DPIX_PLUGIN_ABI_MINOR,
	.log = host_log,
	.register_dissector = host_register_dissector,
	.register_output = host_register_output,
	.tls_client_hello = dissect_tls_client_hello,
	.set_host = host_set_host,
};

/* The descriptor check, before any plugin code but register() runs. */
static int check_descriptor(const char *path, const struct dpix_plugin *p, struct plugin_error *err)
{
	if (!p) {
		error_set(err, "%s: %s returned no descriptor", path, DPIX_PLUGIN_SYMBOL);
		return -1;
	}
	if (p->abi_major != DPIX_PLUGIN_ABI_MAJOR) {
		error_set(err,
			  "%s: plugin ABI %u.%u, dpix has ABI %u.%u: rebuild the plugin against "
			  "this dpix",
			  path, p->abi_major, p->abi_minor, DPIX_PLUGIN_ABI_MAJOR,
			  DPIX_PLUGIN_ABI_MINOR);
		return -1;
	}
	if (p->size < PLUGIN_V1_SIZE) {
		error_set(err,
			  "%s: plugin descriptor is %u bytes, ABI %u.0 needs at least %zu: the "
			  "plugin is broken",
			  path, p->size, DPIX_PLUGIN_ABI_MAJOR, PLUGIN_V1_SIZE);
		return -1;
	}
	if (!p->name || !p->name[0] || !p->init) {
		error_set(err, "%s: plugin descriptor has no %s", path,
			  !p->name || !p->name[0] ? "name" : "init function");
		return -1;
	}
	for (unsigned i = 0; i < nplugins; i++) {
		if (!strcmp(plugins[i].desc.name, p->name)) {
			error_set(err, "%s: a plugin named '%s' is already loaded", path, p->name);
			return -1;
		}
	}
	return 0;
}

int plugin_load(const char *path, struct plugin_error *err)
{
	const struct dpix_plugin *(*reg)(void);
	const struct dpix_plugin *p;
	struct loaded *l;
	unsigned dissectors = dissect_added(), apps = dissect_app_count(), outs = noutputs;
	void *h, *sym;
	int rc;

	if (nplugins >= PLUGIN_MAX) {
		error_set(err, "%s: at most %d plugins can be loaded", path, PLUGIN_MAX);
		return -1;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		error_set(err, "%s: cannot load plugin: %s", path, dlerror());
		return -1;
	}
	sym = dlsym(h, DPIX_PLUGIN_SYMBOL);
	if (!sym) {
		error_set(err, "%s: not a dpix plugin: no %s function", path, DPIX_PLUGIN_SYMBOL);
		goto fail;
	}
	/* POSIX lets a dlsym() result be converted to a function pointer. */
	memcpy(&reg, &sym, sizeof(reg));
	p = reg();
	if (check_descriptor(path, p, err) < 0)
		goto fail;
	l = &plugins[nplugins];
	memset(l, 0, sizeof(*l));
	memcpy(&l->desc, p, p->size < sizeof(l->desc) ? p->size : sizeof(l->desc));
	l->handle = h;
	current_name = l->desc.name;
	in_init = true;
	rc = l->desc.init(&plugin_host);
	in_init = false;
	current_name = NULL;
	if (rc < 0) {
		error_set(err, "%s: plugin %s %s failed to start (init returned %d)", path,
			  l->desc.name, l->desc.version ? l->desc.version : "", rc);
		dissect_truncate(dissectors);
		dissect_app_truncate(apps);
		noutputs = outs;
		memset(l, 0, sizeof(*l));
		goto fail;
	}
	nplugins++;
	return 0;
fail:
	dlclose(h);
	return -1;
}

int plugin_resolve(const char *arg, const char *dir, char *out, size_t size)
{
	size_t n = strlen(arg);
	bool has_so = n > 3 && !strcmp(arg + n - 3, ".so");
	int w;

	if (strchr(arg, '/'))
		w = snprintf(out, size, "%s", arg);
	else
		w = snprintf(out, size, "%s/%s%s", dir, arg, has_so ? "" : ".so");
	return w < 0 || (size_t)w >= size || n == 0 ? -1 : 0;
}

int plugin_output_open(const char *spec, struct plugin_error *err)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	const struct output *out = output_find(spec, n);
	void *state = NULL;
	int rc;

	if (!out) {
		error_set(err, "--output %s: no plugin loaded has an output named '%.*s'", spec,
			  (int)(n < 64 ? n : 64), spec);
		return -1;
	}
	if (nopened >= PLUGIN_OUTPUT_MAX) {
		error_set(err, "--output %s: at most %d outputs", spec, PLUGIN_OUTPUT_MAX);
		return -1;
	}
	current_name = plugins[out->plugin].desc.name;
	rc = out->o.open(colon ? colon + 1 : NULL, &state);
	current_name = NULL;
	if (rc < 0) {
		error_set(err, "--output %s: the output could not start (open returned %d)", spec,
			  rc);
		return -1;
	}
	opened[nopened].out = out;
	opened[nopened].state = state;
	nopened++;
	return 0;
}

void plugin_output_event(const char *line, size_t len)
{
	for (unsigned i = 0; i < nopened; i++)
		opened[i].out->o.event(opened[i].state, line, len);
}

unsigned plugin_count(void)
{
	return nplugins;
}

unsigned plugin_outputs_open(void)
{
	return nopened;
}

void plugin_unload_all(void)
{
	while (nopened > 0) {
		nopened--;
		opened[nopened].out->o.close(opened[nopened].state);
	}
	noutputs = 0;
	dissect_truncate(0);
	dissect_app_truncate(APP_COUNT);
	while (nplugins > 0) {
		struct loaded *l = &plugins[--nplugins];

		if (l->desc.fini)
			l->desc.fini();
		dlclose(l->handle);
		memset(l, 0, sizeof(*l));
	}
}
