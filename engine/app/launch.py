"""The `duban` command's entry point: import quickly, then run the command line.

Importing SQLAlchemy, SQLModel and pydantic makes some hundred thousand long-lived objects and
no garbage, yet the cyclic collector walks them again and again while they are made (a quarter
of a command's start-up here). It is paused for the imports, and what they made is frozen out
of later collections; a long command (an import, the scheduler, the web server) collects as usual.
"""

from __future__ import annotations

import gc
import sys
from importlib.util import find_spec
from pathlib import Path

#: duban's other top-level packages and a module each holds (installed beside ``engine``: ARCHITECTURE.md, "Installed names").
SIBLINGS = {"config": "vocabulary.py", "rules": "escalation.py", "notifications": "kinds.py"}


def shadowed() -> str | None:
    """Why a top-level package of duban is not duban's own (another ``config`` earlier on the path …), or None."""
    home = Path(__file__).resolve().parents[2]  # the folder holding engine/
    for name, module in SIBLINGS.items():
        spec = find_spec(name)
        places = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
        if home / name not in places or not (home / name / module).is_file():
            found = spec.origin if spec and spec.origin else "（未找到）"
            return (
                f"duban 的包 {name} 不是 duban 自己的：导入的是 {found}，应为 {home / name}。"
                "另一个同名的包遮住了它；请把 duban 装在它自己的虚拟环境中（见 README）"
            )
    return None


def main() -> None:
    """Run `duban` with the arguments it was given."""
    problem = shadowed()
    if problem is not None:
        sys.stderr.write(problem + "\n")
        sys.exit(1)
    gc.disable()
    try:
        from engine.app.cli import run
    finally:
        gc.freeze()
        gc.enable()
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
