"""hold_lock.py FILE COMMAND...: runs COMMAND while holding an exclusive
flock on FILE (as a running net tune holds its log), and passes its exit
code on."""
import fcntl
import subprocess
import sys

with open(sys.argv[1]) as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    sys.exit(subprocess.call(sys.argv[2:]))
