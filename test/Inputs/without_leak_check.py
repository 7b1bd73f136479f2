"""without_leak_check.py COMMAND...: runs COMMAND with LeakSanitizer's leak
check off (the rest of ASAN_OPTIONS kept) and passes its exit code on.
OpenMPI frees neither its plugins' allocations nor some of its own at
MPI_Finalize, and the plugins are unloaded by then, so LeakSanitizer reports
leaks with frames it cannot name or suppress; everything else the
sanitizers check stays on. Without sanitizers the variable is ignored."""
import os
import subprocess
import sys

env = dict(os.environ)
env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
sys.exit(subprocess.call(sys.argv[1:], env=env))
