"""Stand-in for the pip bootstrap script that ``ansible-test`` downloads.

``ansible-test`` creates a virtual environment per sanity test and bootstraps
pip in it with a ``get-pip.py`` it downloads from a host of its own. Where only
the package index can be reached, ``scripts/sanity.sh`` puts this file in
``ansible-test``'s cache instead (the manual step its error message
describes). It does what ``get-pip.py`` does, from the standard library's
``ensurepip`` and the package index:

    python this-file.py [pip options] pip==X setuptools==Y wheel==Z [--no-setuptools] [--no-wheel]
"""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str]) -> int:
    args = [arg for arg in argv if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
