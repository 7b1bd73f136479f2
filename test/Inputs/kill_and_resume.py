"""kill_and_resume.py NET OUT ARG...: starts `NET train ARG... --out OUT`,
kills it with SIGKILL as soon as OUT/checkpoint/checkpoint.bdlckpt appears,
then runs `NET train --resume OUT` and exits with its status. Fails if the
first run ended before it could be killed (the test would prove nothing)."""
import os
import signal
import subprocess
import sys
import time

net, out, args = sys.argv[1], sys.argv[2], sys.argv[3:]
checkpoint = os.path.join(out, "checkpoint", "checkpoint.bdlckpt")
with open(out + ".killed.log", "w") as log:
    first = subprocess.Popen([net, "train", *args, "--out", out], stdout=log, stderr=log)
    deadline = time.monotonic() + 600
    while not os.path.exists(checkpoint) and first.poll() is None:
        if time.monotonic() > deadline:
            first.kill()
            sys.exit("kill_and_resume: no checkpoint after 600 s")
        time.sleep(0.001)
    first.send_signal(signal.SIGKILL)
    first.wait()
if first.returncode != -signal.SIGKILL:
    sys.exit(f"kill_and_resume: the run ended by itself (exit {first.returncode}) before it "
             f"could be killed; see {out}.killed.log")
if os.path.exists(os.path.join(out, "summary.json")):
    sys.exit("kill_and_resume: the killed run had already written summary.json")
print(f"killed after {checkpoint} appeared", flush=True)
sys.exit(subprocess.call([net, "train", "--resume", out]))
