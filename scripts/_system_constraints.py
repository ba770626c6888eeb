"""pip constraints that keep the system's numpy, Pillow and simplejpeg in a venv.

Raspberry Pi OS's python3-picamera2 imports apt's simplejpeg, which is built against apt's
numpy; a newer numpy from PyPI in front of it breaks `import simplejpeg`. So the venv
(made with --system-site-packages) installs with these pins and never replaces them.

  /usr/bin/python3 -I scripts/_system_constraints.py            # the pins, one a line
  VENV/bin/python -I scripts/_system_constraints.py --shadowed NAME...
                                  # those of NAME... that the venv holds a copy of itself

Packages the system python does not have are left out. Used by scripts/_pi_install.sh
(install-pi and the Bookworm test run); stdlib only, so any python3 can run it.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

PINNED = ("numpy", "Pillow", "simplejpeg")


def pins(names: tuple[str, ...] = PINNED) -> list[str]:
    """`name==version` for each of `names` this python can import, as pip constraints."""
    found = []
    for name in names:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


def shadowed(names: tuple[str, ...] = PINNED) -> list[str]:
    """Those of `names` installed inside this venv itself, hiding the system's copy."""
    if sys.prefix == sys.base_prefix:
        return []
    prefix = Path(sys.prefix).resolve()
    inside = []
    for name in names:
        try:
            location = Path(str(metadata.distribution(name).locate_file(""))).resolve()
        except metadata.PackageNotFoundError:
            continue
        if location.is_relative_to(prefix):
            inside.append(name)
    return inside


def main(argv: list[str]) -> int:
    if argv and argv[0] != "--shadowed":
        print(__doc__, file=sys.stderr)
        return 2
    for line in shadowed(tuple(argv[1:])) if argv else pins():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
