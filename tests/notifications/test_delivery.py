"""The robot webhook's message: DingTalk's 加签 and markdown, WeCom's markdown within 4096 bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import pytest

from config.delivery import WebhookSettings
from notifications.delivery import TRUNCATED, Message, Webhook, truncate_utf8

DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=abc"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"


def _message(body: str = "正文") -> Message:
    return Message("notice:1:webhook", "张三", "关于张三同志作出检查的通知", body)


def test_dingtalk_signs_with_the_injected_clock_and_the_secret() -> None:
    hook = Webhook(WebhookSettings(url=DINGTALK, secret="SEC0123"), clock=lambda: 1720573200.1236)
    url = hook.signed_url()
    assert url.startswith(f"{DINGTALK}&timestamp=1720573200124&sign=")
    query = parse_qs(urlsplit(url).query)
    digest = hmac.new(b"SEC0123", b"1720573200124\nSEC0123", hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    assert url.endswith("%3D")  # base64 of 32 bytes ends in "=": url-encoded, as DingTalk asks


def test_dingtalk_does_not_sign_without_a_secret() -> None:
    assert Webhook(WebhookSettings(url=DINGTALK), clock=lambda: 1.0).signed_url() == DINGTALK


def test_wecom_does_not_sign() -> None:
    assert Webhook(WebhookSettings(url=WECOM), clock=lambda: 1.0).signed_url() == WECOM


def test_dingtalk_markdown_has_a_title_and_a_text() -> None:
    payload = Webhook(WebhookSettings(url=DINGTALK)).payload(_message())
    assert payload == {
        "msgtype": "markdown",
        "markdown": {"title": "关于张三同志作出检查的通知", "text": "#### 关于张三同志作出检查的通知\n\n正文"},
    }


def test_wecom_markdown_has_a_content() -> None:
    payload = Webhook(WebhookSettings(url=WECOM)).payload(_message())
    assert payload == {"msgtype": "markdown", "markdown": {"content": "**关于张三同志作出检查的通知**\n\n正文"}}


def _content(body: str) -> str:
    content: str = Webhook(WebhookSettings(url=WECOM)).payload(_message(body))["markdown"]["content"]
    return content


def test_wecom_markdown_of_4096_bytes_is_not_cut() -> None:
    head = len("**关于张三同志作出检查的通知**\n\n".encode())
    content = _content("a" * (4096 - head))
    assert len(content.encode()) == 4096 and not content.endswith(TRUNCATED)


@pytest.mark.parametrize("filler", ["a", "检"])  # one byte, three bytes: a cut never splits a character
def test_wecom_markdown_of_4097_bytes_is_cut_with_a_note(filler: str) -> None:
    head = len("**关于张三同志作出检查的通知**\n\n".encode())
    body = filler * ((4097 - head) // len(filler.encode()) + 1)
    content = _content(body)
    assert len(content.encode()) <= 4096 and content.endswith("……（全文见附件/系统）")
    assert content.startswith("**关于张三同志作出检查的通知**")
    assert len(content.encode()) > 4096 - len(TRUNCATED.encode()) - len(filler.encode())  # nothing more cut than needed


def test_truncate_utf8_leaves_short_text_alone() -> None:
    assert truncate_utf8("检查", 6, "…") == "检查"
    assert truncate_utf8("检查通知", 7, "…") == "检…"  # 3 + 3 bytes, the note's 3 leave room for one character
