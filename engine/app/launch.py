"""The `duban` command's entry point: import quickly, then run the command line.

Importing SQLAlchemy, SQLModel and pydantic makes some hundred thousand long-lived objects and
no garbage, yet the cyclic collector walks them again and again while they are made (a quarter
of a command's start-up here). It is paused for the imports, and what they made is frozen out
of later collections; a long command (an import, the scheduler, the web server) collects as usual.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    """Run `duban` with the arguments it was given."""
    gc.disable()
    try:
        from engine.app.cli import run
    finally:
        gc.freeze()
        gc.enable()
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
