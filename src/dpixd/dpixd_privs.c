/*
 * dpixd_privs.c: the worker process gives up root once its queues are
 * bound and its EVE file is open. It keeps CAP_NET_ADMIN alone, effective
 * and permitted: nfnetlink checks that capability on every message it
 * receives, verdicts on an already bound queue included (nfnetlink_rcv();
 * measured: with it dropped, every verdict is refused and traffic stalls),
 * so a worker without it could no longer answer a single packet. The
 * forwarder, started after the switch, needs it too for its TPROXY
 * listeners (IP_TRANSPARENT). Binding anew after a crash is the
 * supervisor's job, which stays root and starts a fresh worker process;
 * the worker never regains root.
 *
 * The raw capset(2) system call, not libcap: one call with a fixed
 * structure does not justify a new library dependency.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "dpixd/dpixd.h"

int dpixd_drop_privileges(const char *user)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	const struct passwd *pw;

	errno = 0;
	if (!(pw = getpwnam(user))) {
		fprintf(stderr, "dpixd: --user %s: %s\n", user,
			errno ? strerror(errno) : "no such user");
		return -1;
	}
	/* Keep the permitted set across setuid(), then trim it. */
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0 || setgroups(1, &pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		goto fail;
	memset(data, 0, sizeof(data));
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
	if (syscall(SYS_capset, &hdr, data) < 0 || prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		goto fail;
	/* Nothing can give root back: a setuid(0) now must fail. */
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		fprintf(stderr, "dpixd: --user %s: could still become root again\n", user);
		return -1;
	}
	fprintf(stderr, "dpixd: running as %s (uid %u, gid %u), keeping CAP_NET_ADMIN only\n", user,
		(unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
fail:
	fprintf(stderr, "dpixd: --user %s: dropping privileges: %s\n", user, strerror(errno));
	return -1;
}
