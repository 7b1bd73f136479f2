"""expect_exit.py CODE COMMAND...: runs COMMAND (output passed through) and
succeeds only if it exits with CODE."""
import subprocess
import sys

code = int(sys.argv[1])
result = subprocess.call(sys.argv[2:])
if result != code:
    print(f"expect_exit: exit code {result}, expected {code}", file=sys.stderr)
    sys.exit(1)
