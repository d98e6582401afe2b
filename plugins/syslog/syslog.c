/*
 * syslog.c: a dpix plugin output that sends each event to syslog(3).
 *
 *   --output syslog[:OPT[,OPT]...]
 *   OPT: a facility, user (default) or local0 .. local7, or daemon;
 *        perror, to copy every record to stderr too (LOG_PERROR), which is
 *        how the tests see what would be logged.
 *
 * One EVE record per message, ident "dpix", priority info. syslog(3) keeps
 * one connection per process, so the sink can be opened once at a time.
 * An unknown option is refused with a message naming it and the valid ones.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>

#include "dpix/plugin.h"

static const struct dpix_host *host;
static bool is_open;

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "user", LOG_USER },	  { "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};
#define NFACILITIES (sizeof(facilities) / sizeof(facilities[0]))

/* One option of n bytes: 0, or -1 after saying what is wrong. */
static int parse_opt(const char *opt, size_t n, int *facility, int *flags)
{
	if (n == 6 && !strncmp(opt, "perror", 6)) {
		*flags |= LOG_PERROR;
		return 0;
	}
	for (size_t i = 0; i < NFACILITIES; i++) {
		if (strlen(facilities[i].name) == n && !strncmp(opt, facilities[i].name, n)) {
			*facility = facilities[i].facility;
			return 0;
		}
	}
	host->log(DPIX_LOG_ERR,
		  "unknown option '%.*s': expected perror, user, daemon or local0 to local7",
		  (int)(n < 64 ? n : 64), opt);
	return -1;
}

static int syslog_open(const char *arg, void **state)
{
	int facility = LOG_USER, flags = LOG_NDELAY;

	if (is_open) {
		host->log(DPIX_LOG_ERR, "can be opened once only");
		return -1;
	}
	while (arg && *arg) {
		const char *comma = strchr(arg, ',');
		size_t n = comma ? (size_t)(comma - arg) : strlen(arg);

		if (parse_opt(arg, n, &facility, &flags) < 0)
			return -1;
		arg = comma ? comma + 1 : arg + n;
	}
	openlog("dpix", flags, facility);
	is_open = true;
	*state = NULL;
	return 0;
}

static void syslog_event(void *state, const char *line, size_t len)
{
	(void)state;
	syslog(LOG_INFO, "%.*s", (int)(len < 65536 ? len : 65536), line);
}

static void syslog_close(void *state)
{
	(void)state;
	closelog();
	is_open = false;
}

static const struct dpix_output syslog_output = {
	.size = sizeof(struct dpix_output),
	.name = "syslog",
	.open = syslog_open,
	.event = syslog_event,
	.close = syslog_close,
};

static int syslog_init(const struct dpix_host *h)
{
	host = h;
	return h->register_output(&syslog_output);
}

static const struct dpix_plugin syslog_plugin = {
	DPIX_PLUGIN_INIT_HEADER,
	.name = "syslog",
	.version = "1.0",
	.init = syslog_init,
};

const struct dpix_plugin *dpix_plugin_register(void)
{
	return &syslog_plugin;
}
