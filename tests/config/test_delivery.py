"""Delivery settings: the robot's kind, DingTalk's secret, the pace."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.delivery import WebhookSettings
from tests.conftest import Duban


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://oapi.dingtalk.com/robot/send?access_token=abc", "dingtalk"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "wecom"),
        ("http://10.0.0.8:8080/robot/send?access_token=abc", "wecom"),  # a relay: say kind = "dingtalk" if it is one
    ],
)
def test_the_robot_kind_is_guessed_from_the_host(url: str, kind: str) -> None:
    assert WebhookSettings(url=url).robot == kind


def test_the_configured_robot_kind_wins() -> None:
    assert WebhookSettings(url="http://10.0.0.8/robot", kind="dingtalk", secret="SECx").robot == "dingtalk"


def test_the_pace_defaults_to_20_a_minute_and_a_10_minute_block() -> None:
    settings = WebhookSettings()
    assert (settings.per_minute, settings.block_minutes) == (20, 10)
    with pytest.raises(ValidationError):
        WebhookSettings(per_minute=0)


def test_a_secret_for_a_wecom_robot_is_refused_without_printing_it(duban: Duban, tmp_path: Path) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(
        '[duban.delivery.webhook]\nurl = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"\n'
        'secret = "SECdo-not-print"\n',
        encoding="utf-8",
    )
    duban._monkeypatch.setenv("DUBAN_CONFIG", str(config))
    result = duban("deliver", ok=False)
    assert result.code == 1
    assert "delivery.webhook.kind" in result.err and "钉钉" in result.err
    assert "SECdo-not-print" not in result.err + result.out
