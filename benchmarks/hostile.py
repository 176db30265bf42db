"""Replay every hostile case against the real code and say which survived.

    python benchmarks/hostile.py [pytest options]

The cases and their asserts live in tests/test_hostile.py; this runs them (in a subprocess, as
CI does) and prints tried / survived.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/test_hostile.py", "-m", "",
                           "-rA", "-q", "-p", "no:cacheprovider", *sys.argv[1:]],
                          cwd=ROOT, capture_output=True, text=True)
    rows = re.findall(r"^(PASSED|FAILED|SKIPPED|ERROR) \S+::(\S+)(.*)$", proc.stdout, re.M)
    for n, (outcome, test, rest) in enumerate(rows, 1):
        print(f"{n:>2}. {outcome.lower():<8} {test}{rest}")
    survived = sum(outcome == "PASSED" for outcome, *_ in rows)
    print(f"\ntried {len(rows)}, survived {survived}")
    if proc.returncode not in (0, 1):
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
    sys.exit(0 if proc.returncode == 0 else 1)


if __name__ == "__main__":
    main()
