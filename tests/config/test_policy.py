"""The shipped policy is the spec's defaults; a bad policy or config names file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_policy, load_settings
from config.policy import DEFAULT_POLICY_FILE


def test_shipped_policy_has_the_spec_defaults() -> None:
    policy = load_policy()
    assert (
        policy.grace_days,
        policy.strike_grouping,
        policy.strike_window_days,
        policy.warning_days,
        policy.shift_deadlines_to_workday,
    ) == (0, "per_due_date", None, 3, False)
    assert [(r.level, r.action, r.status) for r in policy.ladder] == [
        (1, "review", "reviewed"),
        (2, "suspension", "suspended"),
        (3, "dismissal", "dismissed"),
    ]
    assert policy.rung_for(7).action == "dismissal"
    assert policy.meetings.weekday == "monday"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("grace_days = 0", "grace_days = -1", "grace_days"),
        ('strike_grouping = "per_due_date"', 'strike_grouping = "per_person"', "strike_grouping"),
        ("warning_days = 3", 'warning_days = "three"', "warning_days"),
        ('action = "suspension"', 'action = "fine"', "ladder.1.action"),
    ],
)
def test_bad_policy_names_file_key_and_value(tmp_path: Path, old: str, new: str, key: str) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_policy(bad)
    message = str(error.value)
    assert str(bad) in message and key in message and new.split(" = ")[1].strip('"') in message


def test_policy_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("grace_days = = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML"):
        load_policy(bad)


def test_settings_precedence_cli_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(
        '[duban]\ndatabase_url = "sqlite:///from-file.db"\ntimezone = "Asia/Shanghai"\n', encoding="utf-8"
    )
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    assert load_settings(config_file=config).database_url == "sqlite:///from-file.db"
    monkeypatch.setenv("DUBAN_DATABASE_URL", "sqlite:///from-env.db")
    assert load_settings(config_file=config).database_url == "sqlite:///from-env.db"
    assert load_settings("sqlite:///from-cli.db", config).database_url == "sqlite:///from-cli.db"


def test_default_database_is_the_embedded_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    assert load_settings().database_url == "sqlite:///duban.db"


def test_bad_config_file_names_key_and_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "duban.toml"
    config.write_text('[duban]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    monkeypatch.delenv("DUBAN_TIMEZONE", raising=False)
    with pytest.raises(ConfigError) as error:
        load_settings(config_file=config)
    assert "timezone" in str(error.value) and "Mars/Olympus" in str(error.value) and str(config) in str(error.value)
