"""kill_tune.py [--launcher "mpirun -np 2"] NET DIR TRIALS: starts
`NET tune --trials TRIALS --out DIR` (under the launcher, if given), kills
its whole process group with SIGKILL once two trials are logged and more are
running, waits until nothing holds the log's lock (the ranks of a killed
mpirun exit after it), then runs the same command with --resume to the end.
Prints what it saw."""
import fcntl
import os
import shlex
import signal
import subprocess
import sys
import time

args = sys.argv[1:]
launcher = []
if args[0] == "--launcher":
    launcher, args = shlex.split(args[1]), args[2:]
net, out, trials = args
cmd = launcher + [net, "tune", "--trials", trials, "--epochs", "1", "--limit", "20000",
                  "--threads", "1", "--out", out, "--quiet", "--strategy", "random"]
log = os.path.join(out, "tune.jsonl")


def logged():
    return sum(1 for _ in open(log)) if os.path.exists(log) else 0


# Its own session: the group is the launcher and whatever stays in it.
p = subprocess.Popen(cmd, start_new_session=True)
deadline = time.time() + 120
while time.time() < deadline and p.poll() is None:
    if logged() >= 2:
        time.sleep(0.05)  # into the next trials
        break
    time.sleep(0.01)
if p.poll() is not None:
    sys.exit(f"kill_tune: the run ended before it could be killed (exit {p.returncode})")
os.killpg(p.pid, signal.SIGKILL)
p.wait()
with open(log) as f:
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.time() > deadline:
                sys.exit("kill_tune: the killed run still holds the log")
            time.sleep(0.01)
before = logged()
if before >= int(trials):
    sys.exit(f"kill_tune: all {before} trials were logged before the kill")
print(f"kill_tune: killed with {before} trials logged")
subprocess.run(cmd + ["--resume"], check=True)
