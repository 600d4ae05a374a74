"""Every route × every role: anonymous → sign-in page, leaders change nothing, districts stay in their district,
and no state-changing request without the session's CSRF token."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from starlette.testclient import TestClient

from config.vocabulary import Role
from engine.app.web.security import GRANTS, ROUTES, RouteInfo
from tests.engine.app.web.conftest import ACCOUNTS, TODAY, Site, csrf_of

#: Tables a sign-in writes to by itself (the attempt, the session): everything else must stay as it was.
SIGN_IN_TABLES = {"login_attempt", "login_throttle", "web_session"}


def _objects(site: Site) -> dict[str, dict[str, str]]:
    """Concrete values for the routes' path parameters: one in 滨河片区 (own) and one in 龙凤片区 (other)."""
    own_strike = site.strike_of("P1", "2024-07-01")["id"]
    other_strike = site.strike_of("P3", "2024-07-02")["id"]
    engine = site.app.engine
    from sqlalchemy import select

    from engine.store.db import reading
    from engine.store.models import Notice

    with reading(engine) as session:
        notice_of = {
            strike: session.scalar(select(Notice.id).where(Notice.strike_id == strike))
            for strike in (own_strike, other_strike)
        }
    own_report, own_photo = _report(site, "P1", "BH-1", "N3", (30, 140, 60))
    other_report, other_photo = _report(site, "P3", "LF-1", "N2", (140, 30, 60))
    return {
        "own": {
            "report_id": str(own_report),
            "sha256": own_photo,
            "code": "BH-1",
            "node": "N1",
            "person_id": "P1",
            "strike_id": str(own_strike),
            "notice_id": str(notice_of[own_strike]),
            "name": "binhe",
        },
        "other": {
            "report_id": str(other_report),
            "sha256": other_photo,
            "code": "LF-1",
            "node": "N1",
            "person_id": "P3",
            "strike_id": str(other_strike),
            "notice_id": str(notice_of[other_strike]),
            "name": "binhe",
        },
    }


def _report(site: Site, person_id: str, code: str, node_code: str, colour: tuple[int, int, int]) -> tuple[int, str]:
    """A completion reported from the site with one photo, for a project (made once per site)."""
    import datetime as dt

    from PIL import Image
    from sqlalchemy import select

    from config.vocabulary import ReportKind
    from engine.app.review import Upload, issue_link, submit
    from engine.store.db import reading
    from engine.store.models import Photo, Project, Report, ReportPhoto

    def stored() -> tuple[int, str] | None:
        with reading(site.app.engine) as session:
            found = session.execute(
                select(Report.id, Photo.sha256)
                .join(Project, Project.id == Report.project_id)
                .join(ReportPhoto, ReportPhoto.report_id == Report.id)
                .join(Photo, Photo.id == ReportPhoto.photo_id)
                .where(Project.code == code)
            ).first()
        return None if found is None else (int(found[0]), str(found[1]))

    found = stored()
    if found is None:
        url, _expires = issue_link(site.app, person_id)
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
        day = dt.date.fromisoformat(TODAY)
        upload = [Upload("现场.jpg", buffer.getvalue())]
        submit(site.app, url.rsplit("/", 1)[1], code, node_code, ReportKind.COMPLETION, day, "已完成", upload)
        found = stored()
    assert found is not None
    return found


QUERIES = {
    "/documents/agenda": {"meeting": TODAY, "format": "md"},
    "/documents/decisions": {"meeting": TODAY, "format": "md"},
    "/documents/daily": {"date": TODAY, "format": "md"},
    "/documents/bulletin": {"week": TODAY, "format": "md"},
    "/documents/chart": {"week": TODAY},
    "/documents/notices/{notice_id}": {"format": "md"},
}
FORMS = {
    "/projects/{code}/nodes/{node}/complete": {"on": TODAY},
    "/projects/{code}/nodes/{node}/extend": {"to": "2024-08-01", "reason": "管线迁改协调"},
    "/projects/{code}/assign": {"person": "P4", "effective_from": "2024-07-09"},
    "/strikes/{strike_id}/confirm": {"meeting": TODAY, "text": "党组会研究同意"},
    "/strikes/{strike_id}/exempt": {"reason": "特大暴雨，不可抗力", "meeting": TODAY},
    "/strikes/{strike_id}/reject-exemption": {"reason": "理由不成立", "meeting": TODAY},
    "/strikes/{strike_id}/request-exemption": {"reason": "燃气公司停气审批延误"},
    "/review/{report_id}/approve": {"note": "照片属实"},
    "/review/{report_id}/reject": {"reason": "照片看不出完成"},
}


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "人员"
    book.active.append(["人员编号", "姓名"])
    book.active.append(["P9", "孙九"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _call(client: TestClient, route: RouteInfo, values: dict[str, str], csrf: str | None) -> Any:
    url = route.path.format(**values)
    if route.method == "GET":
        return client.get(url, params=QUERIES.get(route.path, {}))
    data = dict(FORMS.get(route.path, {}))
    if csrf is not None:
        data["csrf"] = csrf
    if route.path == "/ledger":
        return client.post(url, data=data, files={"workbook": ("台账.xlsx", _workbook(), "application/octet-stream")})
    return client.post(url, data=data)


def _recorded(site: Site) -> dict[str, Any]:
    return {name: rows for name, rows in site.duban.dump().items() if name not in SIGN_IN_TABLES}


def _flatten(routes: list[Any]) -> list[Any]:
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)  # a router included in the application
        found.extend(_flatten(included.routes) if included is not None else [route])
    return found


def test_every_route_is_declared_with_a_permission(site: Site) -> None:
    declared = {(r.method, r.path) for r in ROUTES}
    # The phone page answers to its personal link's token, not to a session (tests/engine/app/web/test_phone.py).
    open_routes = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/m/{token}")}
    open_routes.add(("POST", "/m/{token}/report"))
    seen = set()
    for route in _flatten(site.client().app.routes):  # type: ignore[attr-defined]
        methods = getattr(route, "methods", None)
        if methods is None:  # the static files mount
            assert route.path == "/static"
            continue
        for method in methods - {"HEAD"}:
            assert (method, route.path) in declared | open_routes, f"{method} {route.path} has no declared permission"
            seen.add((method, route.path))
    assert seen == declared | open_routes


def test_anonymous_requests_go_to_the_sign_in_page_and_change_nothing(site: Site) -> None:
    values = _objects(site)["own"]
    before = _recorded(site)
    client = site.client()
    for route in ROUTES:
        response = _call(client, route, values, csrf=None)
        if route.method == "GET":
            assert response.status_code == 303, route
            assert response.headers["location"].startswith("/login?next="), route
        else:
            assert response.status_code == 401, route
    assert client.get("/static/duban.css").status_code == 200  # style and script only: no data
    assert _recorded(site) == before


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_each_role_gets_exactly_what_it_is_granted(site: Site, name: str) -> None:
    role = Role(ACCOUNTS[name][0])
    values = _objects(site)["own"]
    client = site.signed_in(name)
    token = csrf_of(client)
    before = _recorded(site)
    denied = [r for r in ROUTES if r.permission not in GRANTS[role]]
    for route in denied:
        response = _call(client, route, values, token)
        assert response.status_code == 403, (name, route, response.status_code)
        assert "无权" in response.text
    assert _recorded(site) == before, f"{name}: a refused request changed the record"
    for route in ROUTES:
        if route.permission not in GRANTS[role] or route.method != "GET":
            continue
        response = _call(client, route, values, token)
        assert response.status_code in (200, 303), (name, route, response.status_code, response.text[:300])
    for route in ROUTES:
        if route.permission not in GRANTS[role] or route.method != "POST":
            continue
        response = _call(client, route, values, token)
        assert response.status_code in (200, 303, 422), (name, route, response.status_code, response.text[:300])


def test_leaders_change_nothing(site: Site) -> None:
    client = site.signed_in("lingdao")
    token = csrf_of(client)
    values = _objects(site)["own"]
    before = _recorded(site)
    posts = [r for r in ROUTES if r.method == "POST"]
    assert posts
    for route in posts:
        assert _call(client, route, values, token).status_code == 403, route
    assert _recorded(site) == before


@pytest.mark.parametrize("name", ["bangong", "binhe"])
def test_a_post_without_the_csrf_token_is_refused(site: Site, name: str) -> None:
    role = Role(ACCOUNTS[name][0])
    client = site.signed_in(name)
    values = _objects(site)["own"]
    before = _recorded(site)
    for route in ROUTES:
        if route.method != "POST" or route.permission not in GRANTS[role]:
            continue
        for token in (None, "forged-token"):
            response = _call(client, route, values, token)
            assert response.status_code == 403 and "CSRF" in response.text, (route, token)
    response = client.post("/logout")  # signing out needs the token too
    assert response.status_code == 403
    assert _recorded(site) == before


def test_district_staff_cannot_see_or_act_on_another_district(site: Site) -> None:
    client = site.signed_in("binhe")
    token = csrf_of(client)
    objects = _objects(site)
    before = _recorded(site)
    for route in ROUTES:
        if route.permission not in GRANTS[Role.DISTRICT] or "{" not in route.path:
            continue
        response = _call(client, route, objects["other"], token)
        assert response.status_code in (403, 404), (route, response.status_code)
        assert "LF-1小区" not in response.text and "王五" not in response.text, route
    assert _recorded(site) == before
    board = client.get("/board", params={"district": "龙凤片区"}).text
    assert "BH-1" in board and "LF-1" not in board  # the district filter cannot widen the scope
    for path in ("/persons", "/register", "/meeting", "/documents", "/board/rankings"):
        text = client.get(path).text
        assert "LF-" not in text and "王五" not in text, path
    for path, params in (
        ("/documents/agenda", {"meeting": TODAY, "format": "md"}),
        ("/documents/daily", {"date": TODAY, "format": "md"}),
        ("/documents/bulletin", {"week": TODAY, "format": "md"}),
    ):
        text = client.get(path, params=params).text
        assert "BH-" in text and "LF-" not in text and "王五" not in text, path
