"""The web view end to end on a real database: the same results, history and seal as the command line."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from engine.app.users import FIRST_DELAY, PAIR_FAILURES
from tests.engine.app.web.conftest import PASSWORD, TODAY, Site, add_account, csrf_of, login
from tests.engine.app.web.test_permissions import SIGN_IN_TABLES

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def rows(site: Site, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(site.duban.url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def board_codes(html: str) -> list[str]:
    return re.findall(r'<a href="/projects/([A-Z]+-\d+)[^"]*">', html)


# ------------------------------------------------------------------------------------------ board


def test_board_shows_every_light_as_of_the_last_evaluated_day(site: Site) -> None:
    html = site.signed_in("lingdao").get("/board").text
    assert "截至 2024年7月8日" in html
    lights = dict(zip(board_codes(html), re.findall(r'<tr class="row-(\w+)">', html), strict=True))
    assert lights == {"BH-1": "red", "LF-1": "red", "LF-2": "red", "LF-3": "red", "BH-2": "yellow", "BH-3": "green"}


def test_board_filters_by_district_batch_colour_and_person(site: Site) -> None:
    client = site.signed_in("lingdao")

    def codes(**params: str) -> set[str]:
        return set(board_codes(client.get("/board", params=params).text))

    assert codes(district="龙凤片区") == {"LF-1", "LF-2", "LF-3"}
    assert codes(batch="2024-08") == {"LF-2"}
    assert codes(colour="yellow") == {"BH-2"}
    assert codes(colour="red", district="滨河片区") == {"BH-1"}
    assert codes(person="P3") == {"LF-1", "LF-2"}
    assert codes(q="BH-") == {"BH-1", "BH-2", "BH-3"}
    partial = client.get("/board", params={"colour": "green"}, headers={"HX-Request": "true"}).text
    assert "<html" not in partial and board_codes(partial) == ["BH-3"]  # htmx gets the results only


def test_a_red_fixed_late_shows_it_was_red_not_plain_green(site: Site) -> None:
    client = site.signed_in("lingdao")
    html = client.get("/board", params={"colour": "was_red"}).text
    assert board_codes(html) == ["BH-3"]
    assert "曾红" in html and "N1 于 2024年7月3日 起亮红灯，至 2024年7月3日（1 天，补完成）" in html
    page = client.get("/projects/BH-3").text
    assert "自 2024年7月3日 起亮红灯，至 2024年7月3日 止（1 天，补完成）" in page
    assert client.get("/projects/BH-2").text.count("未曾亮红灯") == 1
    # The board as of an earlier day shows it red that day.
    earlier = client.get("/board", params={"on": "2024-07-03", "colour": "red"}).text
    assert "BH-3" in board_codes(earlier)


def test_rankings_by_district_contractor_and_person(site: Site) -> None:
    html = site.signed_in("lingdao").get("/board/rankings").text
    for heading in ("按片区", "按施工单位", "按负责人"):
        assert heading in html
    assert "开工率" in html and "完工率" in html
    assert "王五（P3）" in html and "（无负责人）" in html


# ------------------------------------------------------------------------------------------ persons


def test_a_persons_ladder_explains_every_strike_as_strike_explain_does(site: Site) -> None:
    client = site.signed_in("bangong")
    html = client.get("/persons/P3").text
    assert "永不使用" in html
    # Nothing is confirmed in this site: every rung is a proposal awaiting the meeting, and says so.
    for level, action in ((1, "做检查"), (2, "免职留用"), (3, "永不使用")):
        assert f"第 {level} 次 · 拟{action}（待 " in html
    strike = site.strike_of("P3", "2024-07-05")
    explained = site.duban("strike", "explain", strike["id"]).out.splitlines()
    for line in explained:
        assert line.strip() in html.replace("&#34;", '"'), line
    register = client.get("/register").text
    confirmed, proposed = register.split("提请党组会研究（尚未列入名册）")
    assert "名册为空" in confirmed and "/persons/P3" not in confirmed  # a link, not a CSRF token's letters
    assert "P3" in proposed and f"问责记录 #{strike['id']}</a>，拟永不使用" in proposed


def test_contact_details_only_for_the_office(site: Site) -> None:
    phone = "13800000000"
    assert phone in site.signed_in("bangong").get("/persons/P1").text
    assert phone not in site.signed_in("lingdao").get("/persons/P1").text
    assert phone not in site.signed_in("binhe").get("/persons/P1").text


def test_persons_list_filters_by_status(site: Site) -> None:
    html = site.signed_in("lingdao").get("/persons", params={"status": "dismissed"}).text
    assert re.findall(r'href="/persons/(P\d)"', html) == ["P3"]


# ------------------------------------------------------------------------------------------ meeting


def _history_shape(site: Site, strike_id: int) -> list[tuple[Any, ...]]:
    events = rows(
        site,
        "SELECT kind, meeting_date, text, old_level, new_level FROM strike_event "
        "WHERE strike_id = :s AND kind <> 'proposed' ORDER BY id",
        s=strike_id,
    )
    log = rows(
        site,
        "SELECT entity, action, detail, reason FROM change_log WHERE entity = 'strike' AND key = :k ORDER BY id",
        k=str(strike_id),
    )
    return [*events, *log]


def test_confirming_on_the_web_is_the_cli_confirmation(site: Site) -> None:
    by_web = site.strike_of("P1", "2024-07-01")["id"]
    by_cli = site.strike_of("P2", "2024-07-02")["id"]
    client = site.signed_in("bangong")
    page = client.get("/meeting", params={"date": TODAY}).text
    assert f'id="strike-{by_web}"' in page and "党组会研究同意" in page
    response = client.post(
        f"/strikes/{by_web}/confirm",
        data={"csrf": csrf_of(client), "meeting": TODAY, "text": "党组会研究同意", "back": f"/meeting?date={TODAY}"},
    )
    assert response.status_code == 303 and response.headers["location"] == f"/meeting?date={TODAY}#strike-{by_web}"
    site.duban("strike", "confirm", by_cli, "--meeting", TODAY, "--text", "党组会研究同意")
    strikes = {s["id"]: s for s in site.duban.json("strikes")}
    assert strikes[by_web]["decision"] == strikes[by_cli]["decision"] == "confirmed"
    assert _history_shape(site, by_web) == _history_shape(site, by_cli)
    actors = rows(site, "SELECT actor FROM strike_event WHERE strike_id = :s AND kind = 'confirmed'", s=by_web)
    assert actors == [("web:bangong",)]
    assert site.duban("audit", "verify").code == 0
    follow = client.get(response.headers["location"].split("#")[0]).text
    assert f"问责记录 #{by_web} 已由 {TODAY} 党组会确认" in follow


def test_exempting_on_the_web_moves_later_levels_down_with_corrections(site: Site) -> None:
    first = site.strike_of("P3", "2024-07-02")
    assert first["level"] == 1
    client = site.signed_in("bangong")
    response = client.post(
        f"/strikes/{first['id']}/exempt",
        data={"csrf": csrf_of(client), "reason": "特大暴雨，不可抗力", "meeting": TODAY, "back": "/meeting"},
    )
    assert response.status_code == 303
    levels = {
        s["planned_date"]: (s["status"], s["level"]) for s in site.duban.json("strikes") if s["person_id"] == "P3"
    }
    assert levels == {"2024-07-02": ("exempted", None), "2024-07-04": ("counted", 1), "2024-07-05": ("counted", 2)}
    assert next(p for p in site.duban.json("persons") if p["person_id"] == "P3")["status"] == "suspended"
    # One exemption, one correction notice, to P3, about the exempted strike.
    corrections = rows(site, "SELECT strike_id FROM notice WHERE kind = 'correction_notice'")
    assert corrections == [(first["id"],)]
    assert site.duban("audit", "verify").code == 0


def test_an_exemption_without_a_reason_is_refused_and_changes_nothing(site: Site) -> None:
    strike = site.strike_of("P1", "2024-07-01")["id"]
    client = site.signed_in("bangong")
    token = csrf_of(client)
    before = {k: v for k, v in site.duban.dump().items() if k not in SIGN_IN_TABLES}
    response = client.post(
        f"/strikes/{strike}/exempt", data={"csrf": token, "reason": "  ", "back": f"/strikes/{strike}"}
    )
    assert response.status_code == 303
    assert "豁免必须写明理由" in client.get(f"/strikes/{strike}").text
    assert {k: v for k, v in site.duban.dump().items() if k not in SIGN_IN_TABLES} == before


def test_district_staff_correct_their_own_projects(site: Site) -> None:
    client = site.signed_in("binhe")
    token = csrf_of(client)
    response = client.post("/projects/BH-2/nodes/N2/complete", data={"csrf": token, "on": TODAY})
    assert response.status_code == 303
    assert next(n for n in site.duban.json("nodes", "BH-2") if n["node_code"] == "N2")["completed_on"] == TODAY
    assert rows(site, "SELECT actor FROM node_history WHERE kind = 'completion' ORDER BY id DESC LIMIT 1") == [
        ("web:binhe",)
    ]
    strike = site.strike_of("P1", "2024-07-01")["id"]
    assert (
        client.post(
            f"/strikes/{strike}/request-exemption", data={"csrf": token, "reason": "管线产权单位协调"}
        ).status_code
        == 303
    )
    assert "管线产权单位协调" in site.signed_in("bangong").get("/meeting", params={"date": TODAY}).text


def test_a_backdated_completion_on_the_web_revokes_the_strike(site: Site) -> None:
    strike = site.strike_of("P1", "2024-07-01")
    client = site.signed_in("bangong")
    client.post("/projects/BH-1/nodes/N1/complete", data={"csrf": csrf_of(client), "on": "2024-07-01"})
    assert {s["id"]: s["status"] for s in site.duban.json("strikes")}[strike["id"]] == "revoked"


def test_assigning_a_dismissed_person_is_refused_naming_the_strike(site: Site) -> None:
    client = site.signed_in("bangong")
    response = client.post(
        "/projects/BH-2/assign", data={"csrf": csrf_of(client), "person": "P3", "effective_from": TODAY}
    )
    page = client.get(response.headers["location"]).text
    dismissal = site.strike_of("P3", "2024-07-05")["id"]
    assert f"问责记录 #{dismissal}" in page and "永不使用" in page


# ------------------------------------------------------------------------------------------ ledger


def _workbook(path: Path, nodes: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, header, data in (
        ("人员", ["人员编号", "姓名"], [["P1", "张三"]]),
        ("项目", ["项目编号", "项目名称", "片区", "负责人编号"], [["BH-1", "BH-1小区", "滨河片区", "P1"]]),
        ("节点", ["项目编号", "节点编号", "节点名称", "计划完成日期", "实际完成日期"], nodes),
    ):
        sheet = book.create_sheet(name)
        sheet.append(header)
        for row in data:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_uploading_a_good_ledger_says_what_changed(site: Site) -> None:
    client = site.signed_in("bangong")
    data = _workbook(
        site.tmp_path,
        [["BH-1", "N3", "节点N3", "2024-08-30", "2024-07-07"], ["BH-1", "N4", "竣工验收", "2024-09-30", None]],
    )
    response = client.post(
        "/ledger",
        data={"csrf": csrf_of(client), "as_of": TODAY},
        files={"workbook": ("工作台账.xlsx", data, "application/octet-stream")},
    )
    assert response.status_code == 200
    assert "已导入 工作台账.xlsx：" in response.text and "新增节点 1" in response.text and "完成 1" in response.text
    assert {n["node_code"] for n in site.duban.json("nodes", "BH-1")} == {"N1", "N2", "N3", "N4"}
    assert rows(site, "SELECT actor, key FROM change_log WHERE entity = 'ledger' ORDER BY id")[-1] == (
        "web:bangong",
        "工作台账.xlsx",
    )


def test_uploading_a_bad_ledger_shows_every_problem_and_changes_nothing(site: Site) -> None:
    client = site.signed_in("bangong")
    token = csrf_of(client)
    before = {k: v for k, v in site.duban.dump().items() if k not in SIGN_IN_TABLES}
    data = _workbook(
        site.tmp_path,
        [
            ["BH-1", "N4", "竣工验收", "2024-13-45", None],
            ["XX-9", "N1", "进场", "2024-09-30", None],
            ["BH-1", "N5", "路面", "2024-09-30", "2099-01-01"],
        ],
    )
    response = client.post(
        "/ledger",
        data={"csrf": token, "as_of": TODAY},
        files={"workbook": ("工作台账.xlsx", data, "application/octet-stream")},
    )
    assert response.status_code == 422
    problems = re.findall(
        r"<tr><td>([^<]*)</td><td>(\d*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>"
        r"<td>([^<]*)</td></tr>",
        response.text,
    )
    assert [(p[0], p[1], p[2], p[3], p[4]) for p in problems] == [
        ("工作台账.xlsx[节点]", "2", "D", "计划完成日期", "2024-13-45"),
        ("工作台账.xlsx[节点]", "3", "A", "项目编号", "XX-9"),
        ("工作台账.xlsx[节点]", "4", "E", "实际完成日期", "2099-01-01"),
    ]
    assert "数据库没有任何变化" in response.text
    assert {k: v for k, v in site.duban.dump().items() if k not in SIGN_IN_TABLES} == before
    not_a_workbook = client.post(
        "/ledger", data={"csrf": token}, files={"workbook": ("台账.xlsx", b"not a zip", "application/octet-stream")}
    )
    assert not_a_workbook.status_code == 422 and "不是有效的 .xlsx 文件" in not_a_workbook.text
    wrong_type = client.post("/ledger", data={"csrf": token}, files={"workbook": ("台账.csv", b"a,b", "text/csv")})
    assert wrong_type.status_code == 400 and ".xlsx" in wrong_type.text
    assert {k: v for k, v in site.duban.dump().items() if k not in SIGN_IN_TABLES} == before


# ------------------------------------------------------------------------------------------ documents


def test_downloads_are_the_documents_the_cli_writes(site: Site) -> None:
    client = site.signed_in("bangong")
    agenda = client.get("/documents/agenda", params={"meeting": TODAY, "format": "md"})
    assert agenda.status_code == 200 and agenda.headers["content-type"].startswith("text/markdown")
    assert agenda.text == site.duban("agenda", "--meeting", TODAY).out
    docx = client.get("/documents/agenda", params={"meeting": TODAY, "format": "docx"})
    assert zipfile.ZipFile(io.BytesIO(docx.content)).read("word/document.xml").decode().count("党组会") > 0
    notice_id = rows(site, "SELECT min(id) FROM notice")[0][0]
    notice = client.get(f"/documents/notices/{notice_id}", params={"format": "docx"})
    assert notice.status_code == 200 and "filename*=utf-8''" in notice.headers["content-disposition"]
    assert "检查" in zipfile.ZipFile(io.BytesIO(notice.content)).read("word/document.xml").decode()
    assert rows(site, "SELECT rendered_at FROM notice WHERE id = :n", n=notice_id) == [
        (None,)
    ]  # a download is no delivery
    daily = client.get("/documents/daily", params={"date": TODAY, "format": "md"}).text
    assert daily == site.duban("report", "daily", "--date", TODAY).out
    bulletin = client.get("/documents/bulletin", params={"week": TODAY, "format": "html"})
    assert (bulletin.status_code == 200 and "每周" in bulletin.text) or "通报" in bulletin.text
    chart = client.get("/documents/chart", params={"week": TODAY})
    assert chart.status_code == 200 and chart.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/documents/daily", params={"date": TODAY, "format": "docx"}).status_code == 404


# ------------------------------------------------------------------------------------------ record


def test_the_record_shows_who_did_what_and_the_chain(site: Site) -> None:
    client = site.signed_in("bangong")
    strike = site.strike_of("P1", "2024-07-01")["id"]
    client.post(f"/strikes/{strike}/exempt", data={"csrf": csrf_of(client), "reason": "特大暴雨，不可抗力"})
    html = client.get("/record").text
    assert "web:bangong" in html and "豁免" in html and "特大暴雨，不可抗力" in html
    events = client.get("/record", params={"section": "strikes", "actor": "web:bangong"}).text
    assert f"问责记录 #{strike}" in events
    verified = client.get("/record/audit").text
    assert "审计链完整" in verified
    site.duban("audit", "verify")


def test_a_tampered_record_shows_on_the_audit_page(site: Site) -> None:
    engine = sa.create_engine(site.duban.url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE strike_event SET text = '篡改' WHERE id = 1"))
    engine.dispose()
    assert "审计链校验未通过" in site.signed_in("lingdao").get("/record/audit").text


# ------------------------------------------------------------------------------------------ sign-in


def test_a_wrong_password_gets_a_clear_message_and_is_rate_limited(site: Site) -> None:
    client = site.client()
    response = login(client, "bangong", "wrong-password")
    assert response.status_code == 401 and "用户名或密码错误" in response.text
    assert login(client, "nobody", "wrong-password").text.count("用户名或密码错误") == 1  # names are not revealed
    for _ in range(PAIR_FAILURES - 1):
        login(client, "bangong", "wrong-password")
    locked = login(client, "bangong", PASSWORD)
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text
    later = dt.datetime.now(SHANGHAI) + FIRST_DELAY + dt.timedelta(seconds=5)
    with time_machine.travel(later, tick=False):
        assert login(site.client(), "bangong", PASSWORD).status_code == 303


def test_signing_out_ends_the_session_in_the_database(site: Site) -> None:
    client = site.signed_in("bangong")
    cookie = client.cookies.get("duban_session")
    assert client.post("/logout", data={"csrf": csrf_of(client)}).status_code == 303
    stale = site.client()
    stale.cookies.set("duban_session", cookie)
    assert stale.get("/board").status_code == 303


def test_a_disabled_account_is_signed_out(site: Site) -> None:
    client = site.signed_in("binhe")
    site.duban("user", "disable", "binhe")
    assert client.get("/board").status_code == 303
    assert "已停用" in login(site.client(), "binhe", PASSWORD).text


def test_pages_carry_the_renderer_hint_and_security_headers(site: Site) -> None:
    response = site.signed_in("lingdao").get("/board")
    assert '<meta name="renderer" content="webkit">' in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "HttpOnly" in site.client().post("/login").headers.get("set-cookie", "HttpOnly")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_user_add_refuses_bad_input(duban: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    result = duban("user", "add", "x", "--role", "boss", ok=False)
    assert result.code == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert "密码至少" in duban("user", "add", "zhang", "--role", "office", "--password-stdin", ok=False).err
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-please\n"))
    assert "必须用 --district" in duban("user", "add", "zhang", "--role", "district", "--password-stdin", ok=False).err
    add_account(duban, monkeypatch, "zhang", "office", None)
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough-please\n"))
    assert "已存在" in duban("user", "add", "zhang", "--role", "office", "--password-stdin", ok=False).err
    listed = duban.json("user", "list")
    assert [(u["name"], u["role"]) for u in listed] == [("zhang", "office")]
    assert "password" not in str(listed) and "argon2" not in str(listed)


def test_an_upload_beyond_the_limit_is_refused_before_it_is_read(site: Site) -> None:
    client = site.signed_in("bangong")
    limit = site.app.settings.web.max_upload_mb
    response = client.post(
        "/ledger",
        content=b"x" * 10,
        headers={"content-length": str((limit + 2) * 1024 * 1024), "content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413 and f"{limit} MB" in response.text


def test_a_session_in_use_is_extended_in_the_background(site: Site) -> None:
    client = site.signed_in("lingdao")
    [(first,)] = rows(site, "SELECT last_seen_at FROM web_session")
    with time_machine.travel(dt.datetime.now(SHANGHAI) + dt.timedelta(minutes=30), tick=True):
        assert client.get("/board").status_code == 200
        # The touch runs in a thread of its own: watched for, with a bound that only a lost touch reaches.
        deadline = dt.datetime.now(SHANGHAI) + dt.timedelta(seconds=120)
        while rows(site, "SELECT last_seen_at FROM web_session") == [(first,)]:
            assert dt.datetime.now(SHANGHAI) < deadline, "the session was not touched"
            time.sleep(0.02)
    assert rows(site, "SELECT last_seen_at FROM web_session") != [(first,)]


# ------------------------------------------------------------------------------- 待评估 on the board


def test_a_project_imported_with_overdue_nodes_waits_for_evaluation_instead_of_an_unexplained_red(site: Site) -> None:
    from tests.conftest import node, write_ledger
    from tests.engine.app.web.conftest import PERSONS, project_row

    late, reserve = project_row("BH-9", "滨河片区", "P5"), project_row("BH-8", "滨河片区", "P5")
    reserve[5] = "储备"
    site.duban(
        "import",
        "ledger",
        write_ledger(
            site.tmp_path / "later",
            PERSONS,
            [late, reserve],
            [node("BH-9", "N1", "2024-07-04"), node("BH-8", "N1", "2024-07-04")],
        ),
    )
    client = site.signed_in("bangong")
    whole = client.get("/board").text
    assert "待评估 1" in whole and "未纳入评估（储备、取消）1" in whole  # the legend counts every project
    board = client.get("/board", params={"q": "BH-9"}).text
    row = board.split('<tr class="row-pending">')[1].split("</tr>")[0]
    assert "BH-9" in row and "待评估：N1（计划 2024年7月4日） 已过期限，尚未经每日评估认定" in row
    assert "row-red" not in board  # no red without a miss behind it
    page = client.get("/projects/BH-9").text
    assert "未曾亮红灯" not in page and "待评估：N1 节点N1（计划 2024年7月4日） 已过期限" in page
    assert "不纳入每日评估，不亮灯" in client.get("/projects/BH-8").text
    # The next evaluation decides it: red, with the miss and the strike behind it.
    site.duban.today("2024-07-09")
    site.duban("evaluate", "--through", "2024-07-09")
    board = client.get("/board", params={"q": "BH-9", "on": "2024-07-09"}).text
    assert '<tr class="row-red">' in board and "待评估：" not in board
    assert site.strike_of("P5", "2024-07-04")["detected_on"] == "2024-07-09"


def test_the_record_shows_labels_never_raw_keys_or_none(site: Site) -> None:
    client = site.signed_in("bangong")
    token = csrf_of(client)
    client.post("/projects/BH-1/nodes/N1/complete", data={"csrf": token, "on": "2024-07-06"})
    client.post("/projects/BH-1/nodes/N3/extend", data={"csrf": token, "to": "2024-09-15", "reason": "管线迁改协调"})
    strike = site.strike_of("P2", "2024-07-02")["id"]
    client.post(f"/strikes/{strike}/exempt", data={"csrf": token, "reason": "特大暴雨，不可抗力", "back": "/meeting"})
    for section in ("changes", "strikes", "statuses", "days"):
        html = client.get("/record", params={"section": section}).text
        body = html.split("<tbody>")[1].split("</tbody>")[0]
        assert "None" not in body, section
        assert not re.search(r"[a-z_]{2,}：", body), (section, re.findall(r"[a-z_]{2,}：", body))
    changes = client.get("/record", params={"section": "changes"}).text
    assert "原日期：" in changes and "来源：网页" in changes and "完成日期：2024-07-06" in changes
    assert "党组会日期：（无）" in changes  # an exemption recorded without a meeting date says so in words


def test_a_document_of_a_day_not_evaluated_is_refused_with_the_command_to_run(site: Site) -> None:
    client = site.signed_in("bangong")
    for path, params in (
        ("/documents/daily", {"date": "2024-07-20", "format": "md"}),
        ("/documents/bulletin", {"week": "2024-07-20", "format": "md"}),
    ):
        response = client.get(path, params=params)
        assert response.status_code == 409, (path, response.status_code)
        assert "尚未评估" in response.text and "duban evaluate --through" in response.text
    assert client.get("/board").status_code == 200  # and the server goes on answering
