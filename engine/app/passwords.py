"""The password rules of web accounts: long, not common, not derived from the account or from duban.

A strike on record can end a career, and the accounts that record decisions are reachable from the
intranet, so a password must resist guessing without lock-outs (the sign-in throttle slows guessing
but never stops it for good). The rules, in the order they are checked (the first broken one is
named, in Chinese):

* the published demo password (``duban-demo``) only on the demo database;
* not only whitespace; at least ``MIN_LENGTH`` characters (any characters: 中文 counts one each);
* not only digits (dates, phone numbers, ID numbers are the first things guessed);
* not one character or a short run repeated (``aaaaaaaaaaaa``, ``abcabcabcabc``), not a run along the
  alphabet, the digits or the keyboard (``abcdefghijkl``, ``qwertyuiopas``, ``1qaz2wsx3edc``);
* not one of the common passwords shipped in ``common-passwords.txt`` (5,000, case ignored), nor one of
  them with digits or symbols before or after it (``Password2024!``);
* not containing the account's name, its display name, or duban's own words (``duban``, ``督办`` …).

No rule asks for a mix of character kinds: length is what makes a password hard to guess, and a
passphrase of plain words is allowed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

MIN_LENGTH = 12
#: The password the demo's accounts have, printed in the README: it protects nothing anywhere else.
DEMO_PASSWORD = "duban-demo"
COMMON_FILE = Path(__file__).with_name("common-passwords.txt")
#: Words of this system and this bureau that a password must not be built on.
CONTEXT_WORDS = ("duban", "督办", "lvliang", "吕梁", "zhujian", "住建", "laojiuxiaoqu", "老旧小区")
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "qwertyuiopasdfghjklzxcvbnm",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1q2w3e4r5t6y7u8i9o0p",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7",
)


@cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords, lower case."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _along_a_run(text: str) -> bool:
    """Whether the text is a stretch of the alphabet, the digits or the keyboard (either way, wrapping once)."""
    for run in _RUNS:
        twice = run + run
        if text in twice or text[::-1] in twice:
            return True
    return False


def _repeated(text: str) -> bool:
    """Whether the text is a short unit repeated, or uses fewer than five different characters."""
    if len(set(text)) < 5:
        return True
    return any(
        len(text) % size == 0 and text == text[:size] * (len(text) // size) for size in range(1, len(text) // 2 + 1)
    )


def _core(text: str) -> str:
    """The text without the digits, symbols and spaces people add before or after a word."""
    return text.strip("0123456789!@#$%^&*()_+-=[]{};:'\",.<>/?\\|`~ \t　！￥…（）—，。？、；：")


def password_problem(
    password: str, *, name: str | None = None, display_name: str | None = None, demo_database: bool = False
) -> str | None:
    """Return why a password is refused (in Chinese), or None when it may be used."""
    if password == DEMO_PASSWORD:
        return None if demo_database else f"{DEMO_PASSWORD} 是公开的演示密码，只能用于演示数据库"
    if not password.strip():
        return "密码不能全是空格等空白字符"
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 个字符（现为 {len(password)} 个）"
    lowered = password.casefold()
    squeezed = "".join(lowered.split())
    if squeezed.isdigit():
        return "密码不能全是数字（日期、电话号码、证件号码最先被猜到）"
    if _repeated(squeezed):
        return "密码不能由一个或几个字符重复组成（如 aaaaaaaaaaaa、abcabcabcabc）"
    if _along_a_run(squeezed):
        return "密码不能是字母表、数字或键盘上的连续字符（如 abcdefghijkl、qwertyuiopas）"
    common = common_passwords()
    if squeezed in common or lowered in common:
        return "这是最常见的密码之一，很容易被猜到"
    core = _core(squeezed)
    if len(core) < 4:
        return "密码几乎全是数字或符号，请用更长的字词组合"
    if core in common or _along_a_run(core) or _repeated(core):
        return "这是常见密码加上数字或符号，很容易被猜到"
    for word in (name, display_name):
        if word and len(word.strip()) >= 2 and word.strip().casefold() in lowered:
            return "密码不能包含用户名或姓名"
    if any(word in lowered for word in CONTEXT_WORDS):
        return "密码不能包含 duban、督办等与本系统、本单位相关的词"
    return None
