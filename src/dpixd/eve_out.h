/*
 * eve_out.h: where dpixd's EVE lines go, for the queue workers and the
 * forwarder alike: a file (opened for appending), standard output, or
 * syslog.
 */
#ifndef DPIX_EVE_OUT_H
#define DPIX_EVE_OUT_H

#include <stdbool.h>
#include <stddef.h>

/* "-": stdout; "syslog": syslog(3), facility daemon, priority info; else a
 * file, created with mode 0640. 0, or -1 with errno. */
int eve_out_open(const char *spec);

/* Is there anywhere to write? */
bool eve_out_enabled(void);

/*
 * Write whole lines (each ending in '\n'). To a file, one write(2): lines
 * from several threads never interleave. To syslog, one message a line.
 * 0, or -1 if any was not written.
 */
int eve_out_write(const char *lines, size_t len);

void eve_out_close(void);

#endif
