"""The entry point refuses to run when another package of the same name shadows one of duban's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.app.launch import shadowed

DUBAN = Path(sys.executable).with_name("duban")


def test_duban_finds_its_own_packages() -> None:
    assert shadowed() is None


def test_a_foreign_config_package_earlier_on_the_path_is_named_not_imported(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "__init__.py").write_text("raise SystemExit('imported the foreign config')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([str(DUBAN), "--help"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(
        "duban 的包 config 不是 duban 自己的：导入的是 " + str(tmp_path / "config" / "__init__.py")
    )
    assert "Traceback" not in done.stderr and done.stdout == ""
