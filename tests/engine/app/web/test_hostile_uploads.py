"""Hostile uploads through a real `duban serve`: each is refused with a page saying why, and the server stays up."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from tests.engine.app.web.conftest import PASSWORD, TODAY, Site, csrf_of
from tests.engine.app.web.test_permissions import SIGN_IN_TABLES
from tests.engine.ledger.hostile import far_cell, zip_bomb

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@dataclass
class Browser:
    """A signed-in office account on the served site, over HTTP."""

    base: str
    opener: urllib.request.OpenerDirector

    def get(self, path: str) -> tuple[int, str]:
        """GET a page: its status and text."""
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str]:
        """POST a body: the answer's status and text."""
        return self._open(urllib.request.Request(self.base + path, data=body, headers={"Content-Type": content_type}))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def upload(self, name: str, data: bytes) -> tuple[int, str]:
        """Upload a workbook through the ledger form, as a browser does."""
        _status, page = self.get("/ledger")
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token, page
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token.group(1)}\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="as_of"\r\n\r\n{TODAY}\r\n'.encode(),
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="workbook"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        return self.post("/ledger", b"".join(parts), f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def served(site: Site) -> Iterator[tuple[subprocess.Popen[bytes], Browser]]:
    """`duban serve` on a free loopback port, on the site's database; an office account signed in."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from engine.app.launch import main; main()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    browser = Browser(base, opener)
    try:
        deadline = time.monotonic() + 120  # a guard against a server that never starts, not a measure
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if browser.get("/login")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "duban serve did not start"
            time.sleep(0.1)
        _status, page = browser.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token, page
        form = urllib.parse.urlencode(
            {"name": "bangong", "password": PASSWORD, "csrf": token.group(1), "next": "/board"}
        ).encode()
        status, board = browser.post("/login", form, "application/x-www-form-urlencoded")
        assert status == 200 and "挂图作战" in board, board
        yield server, browser
    finally:
        server.terminate()
        server.wait(30)


def test_hostile_workbooks_are_refused_and_the_server_stays_up(
    site: Site, served: tuple[subprocess.Popen[bytes], Browser], tmp_path: Path
) -> None:
    server, browser = served
    before = {k: v for k, v in site.duban.dump().items() if k not in SIGN_IN_TABLES}
    uploads = {
        "far.xlsx": (
            far_cell(tmp_path / "far.xlsx"),
            "工作表「台账」声明的范围 A1:XFD1048576（1048576 行、16384 列）超出上限",
        ),
        "hidden.xlsx": (
            far_cell(tmp_path / "hidden.xlsx", dimension=None),
            "读取工作表「台账」时超出内存上限（4096 MB），文件可能已损坏或过大",
        ),
        "bomb.xlsx": (
            zip_bomb(tmp_path / "bomb.xlsx"),
            "是压缩后的 1028 倍，超出上限（最多 100 倍），文件可能是压缩炸弹",
        ),
    }
    for name, (path, reason) in uploads.items():
        status, page = browser.upload(name, path.read_bytes())
        assert status == 422, page
        assert reason in page and "数据库没有任何变化" in page, page
        assert server.poll() is None, f"the server died on {name}"
        assert browser.get("/board")[0] == 200
    assert {k: v for k, v in site.duban.dump().items() if k not in SIGN_IN_TABLES} == before


def test_a_refused_upload_lists_the_first_problems_and_counts_the_rest(site: Site) -> None:
    client = site.signed_in("bangong")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "节点"
    sheet.append(["项目编号", "节点编号", "节点名称", "计划完成日期", "实际完成日期"])
    for i in range(230):
        sheet.append(["BH-1", f"X{i}", f"节点{i}", "2024-02-30", None])
    path = site.tmp_path / "台账.xlsx"
    book.save(path)
    response = client.post(
        "/ledger",
        data={"csrf": csrf_of(client), "as_of": TODAY},
        files={"workbook": ("台账.xlsx", path.read_bytes(), "application/octet-stream")},
    )
    assert response.status_code == 422
    assert "共 230 处问题，列出前 200 处" in response.text
    assert response.text.count("日期不存在") == 200 and "另有 30 个问题未列出" in response.text


def test_an_upload_without_a_length_is_cut_off_at_the_limit(site: Site) -> None:
    client = site.signed_in("bangong")
    limit = site.app.settings.web.max_upload_mb

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        for _ in range(limit + 2):
            yield b"x" * (1024 * 1024)

    response = client.post("/ledger", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and f"{limit} MB" in response.text
    assert response.headers["x-frame-options"] == "DENY"
