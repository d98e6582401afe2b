#!/usr/bin/env python3
"""ptime.py OUTFILE COMMAND...: run COMMAND (stdout and stderr passed on)
and write "wall_s user_s sys_s maxrss_kb" of it to OUTFILE, microsecond
precision (GNU time prints only 10 ms). Exits with COMMAND's status.

The times are COMMAND's own, from wait4() on it: not getrusage(
RUSAGE_CHILDREN), which also counts every child this process inherited
across exec. Started through a pyenv shim (a bash script that runs pyenv's
helpers, then execs python), that added some 45 ms of CPU to every
figure."""
import os
import subprocess
import sys
import time

t0 = time.monotonic()
child = subprocess.Popen(sys.argv[2:])
_, status, ru = os.wait4(child.pid, 0)
wall = time.monotonic() - t0
child.returncode = rc = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], 'w') as f:
    f.write('%.6f %.6f %.6f %d\n' % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
sys.exit(rc if rc >= 0 else 128 - rc)
