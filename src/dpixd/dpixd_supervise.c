/*
 * dpixd_supervise.c: the supervisor and its watchdog. A stalled worker is
 * worse than a dead one: the kernel bypasses a queue (--queue-bypass) only
 * when nothing is bound to it, so a reader that hangs (SIGSTOP, a
 * deadlock, a loop in a dissector) stalls every queued flow, even in
 * fail-open mode. So dpixd runs as two processes:
 *
 *   supervisor (stays root, no packs, no queues)
 *     `- worker process: loads the packs, binds the queues, drops
 *        privileges, one thread per queue
 *
 * Each worker thread writes a monotonic timestamp into a shared anonymous
 * mapping after every poll (it wakes at least every 200 ms, idle or not).
 * The supervisor looks every 250 ms; a timestamp older than --watchdog
 * seconds gets the worker process SIGKILL: its queues are unbound, the
 * kernel applies the fail mode (traffic passes with --queue-bypass, is
 * dropped without), and a new worker process is started. Restarts back
 * off, and after MAX_RESTARTS in RESTART_WINDOW_MS the supervisor gives up
 * with status 1 (systemd's Restart= takes over from there).
 *
 * A worker that exits on its own (a bad pack at start-up, a queue another
 * program holds, SIGTERM) ends the supervisor with its status; one killed
 * by a signal the supervisor did not send (a crash, kill -9) is restarted.
 * SIGTERM, SIGINT, SIGHUP and SIGUSR1 to the supervisor are passed on.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dpixd/dpixd.h"

#define CHECK_MS 250		 /* how often the supervisor looks */
#define MAX_RESTARTS 5		 /* restarts allowed in RESTART_WINDOW_MS */
#define RESTART_WINDOW_MS 60000u /* then the supervisor gives up */
#define BACKOFF_MAX_MS 4000u

_Atomic uint64_t *dpixd_heartbeat;

uint64_t dpixd_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const int fwd_sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };

/* The worker process: signals as a lone dpixd would have them, then run. */
static pid_t spawn(struct dpixd_config *c, const sigset_t *orig)
{
	pid_t pid;

	for (unsigned i = 0; i < c->nqueues; i++)
		atomic_store(&dpixd_heartbeat[i], 0);
	pid = fork();
	if (pid != 0)
		return pid;
	/* Until dpixd_run() has its handlers, a passed-on SIGHUP or SIGUSR1
	 * must not end the worker; a supervisor gone for good ends it. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(1);
	sigprocmask(SIG_SETMASK, orig, NULL);
	_exit(dpixd_run(c));
}

/* The worker whose heartbeat is older than the watchdog; -1 if none. A
 * worker that has not beaten yet is still starting (loading packs). */
static int stalled(const struct dpixd_config *c, uint64_t *age)
{
	uint64_t now = dpixd_mono_ms();

	for (unsigned i = 0; i < c->nqueues; i++) {
		uint64_t b = atomic_load(&dpixd_heartbeat[i]);

		if (b && now > b && now - b > c->watchdog * 1000u) {
			*age = now - b;
			return (int)i;
		}
	}
	return -1;
}

/* Exit status of the supervisor for a worker that ended on its own. */
static int status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/*
 * When to start the next worker: at once the first time (while no worker
 * runs, a fail-closed gateway drops new flows), then 250 ms, 500 ms, ...
 * for each restart within RESTART_WINDOW_MS; -1 when that would be the
 * (MAX_RESTARTS + 1)th in the window. restarts is a ring of the last
 * MAX_RESTARTS restart times, *n counts them all.
 */
static int restart_delay(uint64_t *restarts, unsigned *n, uint64_t *at)
{
	uint64_t now = dpixd_mono_ms(), delay;
	unsigned recent = 0;

	for (unsigned i = 0; i < MAX_RESTARTS; i++)
		recent += restarts[i] && now - restarts[i] < RESTART_WINDOW_MS;
	if (recent >= MAX_RESTARTS)
		return -1;
	delay = recent ? 250u << (recent - 1) : 0;
	*at = now + (delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS);
	restarts[(*n)++ % MAX_RESTARTS] = now;
	return 0;
}

int dpixd_supervise(struct dpixd_config *c)
{
	struct timespec tick = { CHECK_MS / 1000, (CHECK_MS % 1000) * 1000000L };
	uint64_t restarts[MAX_RESTARTS] = { 0 }; /* when, ring */
	unsigned nrestarts = 0;
	sigset_t set, orig;
	bool stopping = false, killed = false;
	uint64_t restart_at = 0;
	pid_t child;

	/* A slot per queue; one at least, as the forwarder alone has none. */
	dpixd_heartbeat =
	    mmap(NULL, (size_t)(c->nqueues ? c->nqueues : 1) * sizeof(*dpixd_heartbeat),
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (dpixd_heartbeat == MAP_FAILED) {
		dpixd_log("supervisor: mmap: %s", strerror(errno));
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(fwd_sigs) / sizeof(fwd_sigs[0]); i++)
		sigaddset(&set, fwd_sigs[i]);
	sigprocmask(SIG_BLOCK, &set, &orig);
	if ((child = spawn(c, &orig)) < 0) {
		dpixd_log("supervisor: fork: %s", strerror(errno));
		return 1;
	}
	dpixd_log("supervisor %d: worker process %d started, watchdog %s%u ms", (int)getpid(),
		  (int)child, c->watchdog ? "" : "off, ", c->watchdog * 1000u);
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &tick), st;
		uint64_t age;
		pid_t p;
		int w;

		if (sig > 0 && sig != SIGCHLD) {
			if (sig == SIGTERM || sig == SIGINT)
				stopping = true;
			if (child > 0)
				kill(child, sig);
			else if (stopping)
				return 0; /* waiting to restart: nothing to stop */
		}
		while (child > 0 && (p = waitpid(child, &st, WNOHANG)) == child) {
			child = 0;
			if (stopping)
				return WIFEXITED(st) ? WEXITSTATUS(st) : 0;
			if (!killed && !WIFSIGNALED(st))
				return status_of(st);
			if (!killed)
				dpixd_log("supervisor: worker process %d ended by signal %d (%s)",
					  (int)p, WTERMSIG(st), strsignal(WTERMSIG(st)));
			killed = false;
			if (restart_delay(restarts, &nrestarts, &restart_at) < 0) {
				dpixd_log("supervisor: %d restarts in %u s: giving up",
					  MAX_RESTARTS, RESTART_WINDOW_MS / 1000);
				return 1;
			}
		}
		if (!child && dpixd_mono_ms() >= restart_at) {
			if ((child = spawn(c, &orig)) < 0) {
				dpixd_log("supervisor: fork: %s", strerror(errno));
				return 1;
			}
			dpixd_log("supervisor: worker process %d started (restart %u)", (int)child,
				  nrestarts);
		}
		if (child > 0 && !killed && c->watchdog && (w = stalled(c, &age)) >= 0) {
			dpixd_log("supervisor: queue %u has not been read for %llu ms (watchdog %u "
				  "ms): killing worker process %d",
				  c->queue + (unsigned)w, (unsigned long long)age,
				  c->watchdog * 1000u, (int)child);
			kill(child, SIGKILL);
			killed = true;
		}
	}
}
