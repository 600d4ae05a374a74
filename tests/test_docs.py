"""The README tells users every command and every setting there is."""

from __future__ import annotations

import re

import typer

from config.delivery import DeliverySettings
from config.limits import LimitsSettings
from config.policy import Policy
from config.settings import _ENV_KEYS, Settings, WebSettings
from engine.app.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: object, prefix: str) -> list[str]:
    found = []
    for name, command in sorted(group.commands.items()):  # type: ignore[attr-defined]
        path = f"{prefix} {name}"
        found.append(path)
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
    return found


def test_every_command_is_in_the_readme() -> None:
    commands = _commands(typer.main.get_command(cli), "duban")
    assert len(commands) > 30
    missing = [c for c in commands if not re.search(re.escape(c) + r"(?![\w-])", README)]
    assert not missing, f"README.md does not mention: {missing}"


def test_every_setting_and_variable_is_in_the_readme() -> None:
    names = [n for n in Settings.model_fields if n not in ("config_file", "web", "delivery", "limits")]
    names += [f"web.{n}" for n in WebSettings.model_fields]
    names += [f"limits.{n}" for n in LimitsSettings.model_fields]
    names += [f"delivery.{n}" for n in DeliverySettings.model_fields]
    for channel in ("file", "smtp", "webhook", "wecom_app", "dingtalk_app"):
        names += [f"delivery.{channel}.{n}" for n in type(getattr(DeliverySettings(), channel)).model_fields]
    missing = [n for n in names if f"`{n.split('.')[-1]}`" not in README and n.split(".")[-1] not in README]
    assert not missing, f"README.md does not document the settings: {missing}"
    missing_env = [
        env for env in (*_ENV_KEYS, "DUBAN_CONFIG", "DUBAN_TODAY", "DUBAN_NOW", "DUBAN_DEBUG") if env not in README
    ]
    assert not missing_env, f"README.md does not name the variables: {missing_env}"


def test_every_policy_setting_is_in_the_readme() -> None:
    missing = [name for name in Policy.model_fields if f"`{name}`" not in README]
    assert not missing, f"README.md does not name the policy settings: {missing}"
