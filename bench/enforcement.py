"""The enforcement benchmark of issue 5, in three parts (each also runs on its own):

1. one sweep over 100,000 customers with 10 % overdue on PostgreSQL: time and the number of
   SQL statements (bench/enforcement_sweep.py);
2. FreeRADIUS authorize through the app with radclient in parallel: accepts/s and lost
   requests (bench/enforcement_radius.py);
3. 1,000 Disconnect-Requests to the test NAS (bench/enforcement_coa.py).

    .venv/bin/python bench/enforcement.py            # all three
    .venv/bin/python bench/enforcement.py sweep coa  # some of them

Extra arguments after ``--`` go to every part.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {
    "sweep": HERE / "enforcement_sweep.py",
    "radius": HERE / "enforcement_radius.py",
    "coa": HERE / "enforcement_coa.py",
}


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    chosen = argv or list(PARTS)
    unknown = [name for name in chosen if name not in PARTS]
    if unknown:
        print(f"unknown part(s): {', '.join(unknown)}; choose from {', '.join(PARTS)}")
        return 2
    status = 0
    for name in chosen:
        print(f"== {name}: {PARTS[name].name}", flush=True)
        result = subprocess.run([sys.executable, str(PARTS[name]), *extra], cwd=HERE.parent)
        status = status or result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
