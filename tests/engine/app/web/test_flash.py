"""The flash cookie (a form's one-time message) is signed: the site's own is shown, a forged one is ignored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import sqlalchemy as sa

from engine.app.flash_key import KEY
from engine.app.web.flash import FLASH_COOKIE
from tests.engine.app.web.conftest import Site, csrf_of

FORGED = "请立即致电 400-000-0000 核实账号"


def _payload(message: str) -> str:
    text = json.dumps({"kind": "ok", "message": message, "lines": []}, ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode()


def _refused_exemption(site: Site) -> tuple[str, str]:
    """Leave a genuine message: an exemption without a reason is refused. Return its cookie and the strike page."""
    strike = site.strike_of("P1", "2024-07-01")["id"]
    client = site.signed_in("bangong")
    response = client.post(
        f"/strikes/{strike}/exempt", data={"csrf": csrf_of(client), "reason": " ", "back": f"/strikes/{strike}"}
    )
    assert response.status_code == 303
    cookie = response.cookies.get(FLASH_COOKIE)
    assert cookie
    return cookie, f"/strikes/{strike}"


def test_a_genuine_flash_message_is_shown_once_on_any_worker(site: Site) -> None:
    cookie, page = _refused_exemption(site)
    other_worker = site.signed_in("bangong")  # another create_app: its own state, the same database
    other_worker.cookies.set(FLASH_COOKIE, cookie)
    shown = other_worker.get(page)
    assert shown.status_code == 200
    assert '<div class="flash error"' in shown.text and "豁免必须写明理由" in shown.text
    assert f'{FLASH_COOKIE}=""' in shown.headers["set-cookie"]  # read once: the page deletes it


def test_a_forged_or_altered_flash_cookie_shows_nothing(site: Site) -> None:
    cookie, page = _refused_exemption(site)
    payload, _, signature = cookie.rpartition(".")
    wrong_key = base64.urlsafe_b64encode(
        hmac.new(b"not the site's key", _payload(FORGED).encode(), hashlib.sha256).digest()
    ).decode()
    forgeries = {
        "unsigned, as before signing": _payload(FORGED),
        "another key": f"{_payload(FORGED)}.{wrong_key.rstrip('=')}",
        "the message replaced, the signature kept": f"{_payload(FORGED)}.{signature}",
        "the signature altered": f"{payload}.{signature[:-1]}{'B' if signature.endswith('A') else 'A'}",
        "not base64 at all": "%%%.@@@",
    }
    for what, value in forgeries.items():
        client = site.signed_in("bangong")
        client.cookies.set(FLASH_COOKIE, value)
        response = client.get(page)
        assert response.status_code == 200, what
        assert '<div class="flash' not in response.text and FORGED not in response.text, what


def _keys(site: Site) -> list[str]:
    engine = sa.create_engine(site.duban.url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(sa.text("SELECT value FROM meta WHERE key = :k"), {"k": KEY}).scalars().all()
            )
    finally:
        engine.dispose()


def test_duban_init_makes_the_key_once_in_the_database(site: Site) -> None:
    made = _keys(site)  # the site's database was made by duban init: nobody has signed in yet
    assert len(made) == 1 and len(bytes.fromhex(made[0])) == 32
    site.signed_in("lingdao")
    _refused_exemption(site)
    assert site.duban("init").code == 0
    assert _keys(site) == made


def test_a_flash_cookie_with_bytes_past_ascii_shows_nothing_and_breaks_nothing(site: Site) -> None:
    cookie, page = _refused_exemption(site)
    payload, _, signature = cookie.rpartition(".")
    client = site.signed_in("bangong")
    session = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    raw = f"{session}; {FLASH_COOKIE}={payload}.{signature[:-2]}".encode() + b"\xe9\xe9"  # read as Latin-1
    response = client.get(page, headers={"cookie": raw})
    assert response.status_code == 200 and '<div class="flash' not in response.text
