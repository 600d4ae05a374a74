"""The web view in a real browser (Debian's Chromium through chromedriver): what the office does in a day.

Screenshots of every page go under the test's tmp dir (``screenshots/``). Without Chromium the
tests skip, except under CI=true, where they must run (`make browser` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from engine.app.web import create_app
from tests.engine.app.web.conftest import PASSWORD, TODAY, Site

CHROMIUM = os.environ.get("DUBAN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DUBAN_CHROMEDRIVER", "/usr/bin/chromedriver")

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _have_browser() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


@pytest.fixture
def live(site: Site) -> Iterator[str]:
    """The site served by uvicorn on a free port, in a thread of this process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(site.app), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # an upper bound for a server that cannot start, not a measure
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium that downloads into tmp_path/downloads."""
    if not _have_browser():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed under CI: run `make browser`")
        pytest.skip("browser tests need Debian's chromium and chromium-driver (make browser)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # Finding an element waits for it up to this long: a bound for one that never comes, reached by nothing else.
    driver.implicitly_wait(60)
    try:
        yield driver
    finally:
        driver.quit()


class Pages:
    """Drives the browser and keeps a screenshot of every page it stops at."""

    def __init__(self, driver: object, base: str, folder: Path) -> None:
        from selenium.webdriver.common.by import By

        self.d, self.base, self.folder, self.By = driver, base, folder, By
        folder.mkdir(exist_ok=True)
        self.shots: list[Path] = []

    def go(self, path: str) -> None:
        self.d.get(self.base + path)  # type: ignore[attr-defined]

    def find(self, css: str) -> object:
        return self.d.find_element(self.By.CSS_SELECTOR, css)  # type: ignore[attr-defined]

    def all(self, css: str) -> list[object]:
        """The elements on the page as it is now (after a wait_for): none found is an answer, not a wait."""
        self.d.implicitly_wait(0)  # type: ignore[attr-defined]
        try:
            return self.d.find_elements(self.By.CSS_SELECTOR, css)  # type: ignore[attr-defined]
        finally:
            self.d.implicitly_wait(60)  # type: ignore[attr-defined]

    def text(self) -> str:
        return str(self.find("body").text)  # type: ignore[attr-defined]

    def shot(self, name: str) -> None:
        height = self.d.execute_script("return document.body.scrollHeight")  # type: ignore[attr-defined]
        self.d.set_window_size(1400, min(max(int(height) + 40, 700), 6000))  # type: ignore[attr-defined]
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        assert self.d.save_screenshot(str(path)), name  # type: ignore[attr-defined]
        self.shots.append(path)

    def wait_for(self, check: object, timeout: float = 120) -> None:
        (
            """Wait until check() holds; a page being replaced (a form's redirect, an htmx swap) is retried.

        The timeout is an upper bound for a page that never changes, generous for a loaded machine.
        """
            ""
        )
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
            WebDriverException,
        )

        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():  # type: ignore[operator]
                    return
            except (StaleElementReferenceException, NoSuchElementException):
                pass  # the element was read while its page or fragment was being replaced
            except WebDriverException as exc:
                if "does not belong to the document" not in str(exc):
                    raise
                # the same race, as Chromium's inspector reports it when the page went away mid-read
            assert time.monotonic() < deadline, "the page did not change in time"
            time.sleep(0.1)

    def sign_in(self, name: str, password: str) -> None:
        self.go("/login")
        self.find("input[name=name]").send_keys(name)  # type: ignore[attr-defined]
        self.find("input[name=password]").send_keys(password)  # type: ignore[attr-defined]
        self.find("form button[type=submit]").click()  # type: ignore[attr-defined]


def _ledger(path: Path, nodes: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, header, rows in (
        ("人员", ["人员编号", "姓名"], [["P1", "张三"]]),
        ("项目", ["项目编号", "项目名称", "片区", "负责人编号"], [["BH-1", "BH-1小区", "滨河片区", "P1"]]),
        ("节点", ["项目编号", "节点编号", "节点名称", "计划完成日期"], nodes),
    ):
        sheet = book.create_sheet(name)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_the_office_works_through_a_meeting_in_the_browser(
    site: Site, live: str, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import Select

    pages = Pages(browser, live, tmp_path / "screenshots")
    pages.go("/board")
    assert "/login" in browser.current_url  # type: ignore[attr-defined]
    pages.sign_in("bangong", "not-the-password")
    pages.wait_for(lambda: "用户名或密码错误" in pages.text())  # the form's answer, once it has come
    pages.shot("login-refused")
    pages.sign_in("bangong", PASSWORD)
    pages.wait_for(lambda: "挂图作战" in pages.text())
    pages.shot("board")

    # Filter the board: htmx swaps the results in place, and the address follows.
    Select(pages.find("select[name=colour]")).select_by_value("yellow")
    pages.wait_for(lambda: "符合条件 1 个项目" in pages.text())
    assert "BH-2" in pages.find("#board-results").text and "LF-1" not in pages.find("#board-results").text  # type: ignore[attr-defined]
    # htmx pushes the address when the swap settles, a moment after the new results show.
    pages.wait_for(lambda: "colour=yellow" in browser.current_url)  # type: ignore[attr-defined]
    pages.shot("board-yellow")
    Select(pages.find("select[name=colour]")).select_by_value("was_red")
    pages.wait_for(lambda: "曾红" in pages.find("#board-results").text)  # type: ignore[attr-defined]
    pages.shot("board-was-red")

    pages.go("/board/rankings")
    pages.shot("rankings")
    pages.go("/persons/P3")
    assert "永不使用" in pages.text()
    pages.shot("person-ladder")
    pages.go("/register")
    pages.shot("never-use-register")

    # The meeting: confirm one strike, exempt another.
    to_confirm = site.strike_of("P1", "2024-07-01")["id"]
    to_exempt = site.strike_of("P2", "2024-07-02")["id"]
    pages.go(f"/meeting?date={TODAY}")
    pages.shot("meeting")
    pages.find(f"#strike-{to_confirm} button.confirm").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: f"问责记录 #{to_confirm} 已由 {TODAY} 党组会确认" in pages.text())
    pages.find(f"#strike-{to_exempt} input[name=reason]").send_keys("特大暴雨，不可抗力")  # type: ignore[attr-defined]
    pages.find(f"#strike-{to_exempt} button.exempt").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: f"问责记录 #{to_exempt} 已豁免" in pages.text())
    # A suspension asks again before it is recorded; the second page says what will be decided.
    to_suspend = site.strike_of("P3", "2024-07-04")["id"]
    pages.find(f"#strike-{to_suspend} button.confirm").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: "请再次确认" in pages.text())
    assert "免除负责人职务，留用整改" in pages.text() and f"问责记录 #{to_suspend}" in pages.text()
    assert {s["id"]: s for s in site.duban.json("strikes")}[to_suspend]["decision"] == "proposed"  # not yet
    pages.shot("confirm-suspension")
    pages.find("button.confirm.danger").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: f"问责记录 #{to_suspend} 已由 {TODAY} 党组会确认；正式决定已生成" in pages.text())
    # An exemption request: its buttons say what they do, and 驳回申请 turns it down with a reason.
    to_reject = site.strike_of("P3", "2024-07-05")["id"]
    site.duban("strike", "request-exemption", to_reject, "--reason", "施工单位称材料延误")
    pages.go(f"/meeting?date={TODAY}")
    request = pages.find(f"#request-{to_reject}")
    assert "同意豁免（不计入问责次数）" in request.text and "驳回申请（问责记录维持）" in request.text  # type: ignore[attr-defined]
    pages.find(f"#request-{to_reject} form[action$='reject-exemption'] input[name=reason]").send_keys(  # type: ignore[attr-defined]
        "材料延误属施工单位自身原因"
    )
    pages.find(f"#request-{to_reject} button.reject").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: f"问责记录 #{to_reject} 的免责申请已驳回" in pages.text())
    pages.shot("meeting-after-decisions")
    # 已决定: what, about whom, who recorded it; a decided strike offers no form any more.
    table = pages.find("table.decided").text  # type: ignore[attr-defined]
    for strike_id in (to_confirm, to_exempt, to_suspend, to_reject):
        assert f"#{strike_id}" in table, strike_id
    assert "驳回免责申请" in table and "web:bangong" in table
    for strike_id in (to_confirm, to_suspend):
        assert not pages.all(f"#strike-{strike_id} button"), strike_id
        assert "党组会确认，不再需要决定" in pages.find(f"#strike-{strike_id}").text  # type: ignore[attr-defined]
    decided = {s["id"]: s for s in site.duban.json("strikes")}
    assert decided[to_confirm]["decision"] == decided[to_suspend]["decision"] == "confirmed"
    assert decided[to_exempt]["status"] == "exempted"
    assert decided[to_reject]["status"] == "counted" and decided[to_reject]["decision"] == "proposed"
    notices = site.duban.json("notices")
    final = [n for n in notices if n["strike_id"] == to_suspend and n["status"] == "final"]
    assert [n["kind"] for n in final] == ["suspension_decision"] and final[0]["doc_number"]
    assert {n["status"] for n in notices if n["strike_id"] == to_suspend and n["kind"] == "suspension_decision"} == {
        "final",
        "superseded",
    }
    assert site.duban("audit", "verify").code == 0
    pages.find("a[href*='/documents/decisions'][href$='format=docx']").click()  # type: ignore[attr-defined]
    downloads = tmp_path / "downloads"
    pages.wait_for(lambda: [p for p in downloads.iterdir() if p.name.startswith("党组会决定事项")])

    # The ledger: a bad workbook is refused whole with every problem; a good one is imported.
    before = site.duban.json("nodes", "BH-1")
    pages.go("/ledger")
    pages.find("input[name=workbook]").send_keys(
        str(
            _ledger(
                tmp_path / "坏台账.xlsx",
                [  # type: ignore[attr-defined]
                    ["BH-1", "N4", "竣工验收", "2024-02-30"],
                    ["XX-1", "N1", "进场", "2024-09-01"],
                ],
            )
        )
    )
    pages.find("form[action='/ledger'] button").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: "未导入" in pages.text())
    assert len(pages.all("table.problems tbody tr")) == 2
    assert "日期不存在" in pages.text() and "项目表中没有此项目" in pages.text()
    pages.shot("ledger-refused")
    assert site.duban.json("nodes", "BH-1") == before
    pages.find("input[name=workbook]").send_keys(
        str(
            _ledger(
                tmp_path / "台账.xlsx",
                [  # type: ignore[attr-defined]
                    ["BH-1", "N4", "竣工验收", "2024-09-30"]
                ],
            )
        )
    )
    pages.find("form[action='/ledger'] button").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: "已导入 台账.xlsx" in pages.text())
    assert "新增节点 1" in pages.text()
    pages.shot("ledger-imported")
    assert len(site.duban.json("nodes", "BH-1")) == len(before) + 1

    # A notice, downloaded as Word.
    pages.go("/documents")
    pages.shot("documents")
    pages.find("a.dl-docx").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: [p for p in downloads.iterdir() if p.suffix == ".docx" and "决定事项" not in p.name])
    [document] = [p for p in downloads.iterdir() if p.suffix == ".docx" and "决定事项" not in p.name]
    assert document.stat().st_size > 5000 and document.read_bytes()[:2] == b"PK"

    pages.go("/record")
    assert "web:bangong" in pages.text()
    pages.shot("record")
    pages.go("/record/audit")
    assert "审计链完整" in pages.text()
    pages.shot("audit")
    assert len(pages.shots) == 15 and all(p.stat().st_size > 10_000 for p in pages.shots)


def test_district_staff_see_only_their_district_in_the_browser(
    site: Site, live: str, browser: object, tmp_path: Path
) -> None:
    pages = Pages(browser, live, tmp_path / "screenshots")
    pages.sign_in("binhe", PASSWORD)
    pages.wait_for(lambda: "挂图作战" in pages.text())
    board = pages.text()
    assert "BH-1" in board and "LF-1" not in board and "台账导入" not in board and "记录在案" not in board
    pages.shot("district-board")
    pages.go("/projects/LF-1")
    assert "无权查看或操作其他片区的项目" in pages.text()
    pages.shot("district-refused")
    pages.go("/projects/BH-2")
    field = pages.find("form[action$='/N2/complete'] input[name=on]")  # open: N2 is due soon
    browser.execute_script("arguments[0].value = arguments[1]", field, TODAY)  # type: ignore[attr-defined]
    pages.find("form[action$='/N2/complete'] button").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: "完成日期 2024-07-08" in pages.text())
    pages.shot("district-completion")
    assert next(n for n in site.duban.json("nodes", "BH-2") if n["node_code"] == "N2")["completed_on"] == TODAY
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
