"""A seeded site for the web tests: two districts, strikes at every level, one account per role."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from config import load_settings
from engine.app.web import create_app
from engine.context import App
from tests.conftest import Duban, node, person, write_ledger

PASSWORD = "river-lantern-47"
#: name → (role, district)
ACCOUNTS = {"bangong": ("office", None), "lingdao": ("leader", None), "binhe": ("district", "滨河片区")}
TODAY = "2024-07-08"


def project_row(code: str, district: str, responsible: str | None, batch: str = "2024-07") -> list[Any]:
    """A projects row in a given district."""
    return [code, f"{code}小区", district, "综合改造一期", batch, "在建", responsible, f"{district[:2]}建设公司", 100]


PERSONS = [person("P1", "张三"), person("P2", "李四"), person("P3", "王五"), person("P4", "赵六"), person("P5", "钱七")]
PROJECTS = [
    project_row("BH-1", "滨河片区", "P1"),
    project_row("BH-2", "滨河片区", "P2"),
    project_row("BH-3", "滨河片区", "P2"),
    project_row("LF-1", "龙凤片区", "P3"),
    project_row("LF-2", "龙凤片区", "P3", "2024-08"),
    project_row("LF-3", "龙凤片区", None),
]
NODES = [
    node("BH-1", "N1", "2024-07-01"),  # never done: P1's first strike, BH-1 red
    node("BH-1", "N2", "2024-07-03", "2024-07-05"),  # done late: P1's second strike
    node("BH-1", "N3", "2024-08-30"),
    node("BH-2", "N1", "2024-07-02", "2024-07-02"),  # on time
    node("BH-2", "N2", "2024-07-10"),  # due within 3 days: BH-2 yellow
    node("BH-3", "N1", "2024-07-02", "2024-07-04"),  # red, fixed late: green now, was red
    node("LF-1", "N1", "2024-07-02"),  # P3: first, second and third strikes
    node("LF-1", "N2", "2024-07-04"),
    node("LF-2", "N1", "2024-07-05"),
    node("LF-3", "N1", "2024-07-03"),  # nobody responsible
]


@dataclass
class Site:
    """The seeded database, the command line on it, and a way to make browsers."""

    duban: Duban
    app: App
    tmp_path: Path

    def client(self) -> TestClient:
        """A fresh browser that is not signed in."""
        return TestClient(create_app(self.app), follow_redirects=False)

    def signed_in(self, name: str) -> TestClient:
        """A browser signed in as one of ACCOUNTS."""
        client = self.client()
        response = login(client, name, PASSWORD)
        assert response.status_code == 303, response.text
        return client

    def strike_of(self, person_id: str | None, planned: str) -> dict[str, Any]:
        """The strike of a person (None: of a project with nobody) for a planned date."""
        return next(
            s for s in self.duban.json("strikes") if s["person_id"] == person_id and s["planned_date"] == planned
        )


def login_token(client: TestClient) -> str:
    """Open the sign-in page and return its CSRF token."""
    page = client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def login(client: TestClient, name: str, password: str) -> Any:
    """Sign in through the form, as a browser does."""
    token = login_token(client)
    return client.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/board"})


def csrf_of(client: TestClient) -> str:
    """The signed-in session's CSRF token, read from a page (every page's sign-out form carries it)."""
    page = client.get("/board")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def add_account(
    duban: Duban, monkeypatch: pytest.MonkeyPatch, name: str, role: str, district: str | None, password: str = PASSWORD
) -> None:
    """Create an account through `duban user add --password-stdin`."""
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    duban("user", "add", name, "--role", role, *(["--district", district] if district else []), "--password-stdin")


@pytest.fixture
def site(duban: Duban, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The seeded site on the test's backend, evaluated through 2024-07-08 (today)."""
    duban.today(TODAY)
    duban("import", "ledger", write_ledger(tmp_path / "ledger", PERSONS, PROJECTS, NODES), "--as-of", "2024-06-30")
    duban("evaluate", "--from", "2024-07-02", "--through", TODAY)
    for name, (role, district) in ACCOUNTS.items():
        add_account(duban, monkeypatch, name, role, district)
    app = App(load_settings())
    try:
        yield Site(duban, app, tmp_path)
    finally:
        if "engine" in vars(app):
            app.engine.dispose()
