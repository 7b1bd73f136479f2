"""kill_tune.py NET DIR TRIALS: starts `NET tune --trials TRIALS --out DIR`,
kills it with SIGKILL once two trials are logged and the third is running,
then runs the same command with --resume to the end. Prints what it saw."""
import os
import signal
import subprocess
import sys
import time

net, out, trials = sys.argv[1], sys.argv[2], sys.argv[3]
cmd = [net, "tune", "--trials", trials, "--epochs", "1", "--limit", "20000", "--threads", "1",
       "--out", out, "--quiet", "--strategy", "random"]
log = os.path.join(out, "tune.jsonl")
p = subprocess.Popen(cmd)
deadline = time.time() + 120
while time.time() < deadline and p.poll() is None:
    if os.path.exists(log) and sum(1 for _ in open(log)) >= 2:
        time.sleep(0.05)  # into the third trial
        break
    time.sleep(0.01)
if p.poll() is not None:
    sys.exit(f"kill_tune: the run ended before it could be killed (exit {p.returncode})")
p.send_signal(signal.SIGKILL)
p.wait()
before = sum(1 for _ in open(log))
print(f"kill_tune: killed with {before} trials logged")
subprocess.run(cmd + ["--resume"], check=True)
