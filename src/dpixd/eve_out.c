/* eve_out.c: dpixd's EVE lines to a file, stdout or syslog. */
#include <fcntl.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "dpixd/eve_out.h"

static int out_fd = -1;
static bool out_syslog;

int eve_out_open(const char *spec)
{
	if (!strcmp(spec, "syslog")) {
		openlog("dpixd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		out_syslog = true;
		return 0;
	}
	out_fd = strcmp(spec, "-") ? open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)
				   : STDOUT_FILENO;
	return out_fd < 0 ? -1 : 0;
}

bool eve_out_enabled(void)
{
	return out_fd >= 0 || out_syslog;
}

int eve_out_write(const char *lines, size_t len)
{
	if (out_fd >= 0)
		return write(out_fd, lines, len) == (ssize_t)len ? 0 : -1;
	if (!out_syslog)
		return 0;
	while (len) {
		const char *nl = memchr(lines, '\n', len);
		size_t n = nl ? (size_t)(nl - lines) : len;

		syslog(LOG_INFO, "%.*s", (int)n, lines);
		n += nl != NULL;
		lines += n;
		len -= n;
	}
	return 0;
}

void eve_out_close(void)
{
	if (out_fd > STDERR_FILENO)
		close(out_fd);
	out_fd = -1;
	if (out_syslog)
		closelog();
	out_syslog = false;
}
