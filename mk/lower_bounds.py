"""Print pip constraints that pin every runtime dependency to its lower bound.

Used by `make test-oldest`: the ranges in pyproject.toml claim the suite passes at both
ends, so the lower end gets its own venv.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)")


def main() -> None:
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        if ";" in requirement:
            continue  # environment markers (tomli on 3.10): this interpreter does not need it
        match = REQUIREMENT.match(requirement)
        if match is None:
            sys.exit(f"mk/lower_bounds.py: no lower bound in {requirement!r}")
        print(f"{match.group(1)}=={match.group(2)}")


if __name__ == "__main__":
    main()
