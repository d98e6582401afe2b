#!/usr/bin/env python3
"""ptime.py OUTFILE COMMAND...: run COMMAND (stdout and stderr passed on)
and write "wall_s user_s sys_s maxrss_kb" of it to OUTFILE, microsecond
precision (GNU time prints only 10 ms). Exits with COMMAND's status."""
import os
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
rc = subprocess.call(sys.argv[2:])
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], 'w') as f:
    f.write('%.6f %.6f %.6f %d\n' % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
sys.exit(rc)
