"""An argparse parser for the project's command lines: bad input is one line on stderr, exit status 2.

argparse's own error() prints the whole usage block before the message; a
kernel developer's CI log should show only what was wrong.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """ArgumentParser whose errors print ``prog: message`` alone and exit with status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(2)
