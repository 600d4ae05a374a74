"""12345 work orders on the board and the project page: counts, the red they cause, and its history."""

from __future__ import annotations

import re

from tests.engine.app.web.conftest import Site
from tests.engine.app.web.test_pages import board_codes


def _import(site: Site) -> None:
    export = site.tmp_path / "12345.csv"
    export.write_text(
        "工单编号,受理时间,诉求内容,地址/小区,办理时限,办结时间\n"
        "GD-1,2024-07-01 09:00,围挡占道,BH-2小区东门,2024-07-03,2024-07-05 10:00\n"
        "GD-2,2024-07-05 09:00,夜间施工噪音,BH-2小区,2024-07-06,\n"
        "GD-3,2024-07-06 09:00,渣土未覆盖,BH-3小区,2024-07-20,\n",
        encoding="utf-8",
    )
    site.duban("import", "complaints", export)


def test_an_overdue_work_order_shows_red_on_the_board_with_its_counts(site: Site) -> None:
    _import(site)
    client = site.signed_in("lingdao")
    html = client.get("/board").text
    lights = dict(zip(board_codes(html), re.findall(r'<tr class="row-(\w+)">', html), strict=True))
    assert lights["BH-2"] == "red"  # was yellow by its nodes; GD-2 is overdue since 7 July
    assert lights["BH-3"] == "green"  # GD-3 is not due yet
    assert "12345 工单 2 件，逾期 1 件" in html and "12345 工单 1 件<" in html
    assert "12345 工单 GD-1 于 2024年7月4日 起逾期，至 2024年7月4日（1 天，已办结）" in html
    assert "12345 工单 GD-2 于 2024年7月7日 起逾期，仍未办结" in html


def test_a_work_order_within_its_deadline_does_not_make_the_board_red(site: Site) -> None:
    _import(site)
    html = site.signed_in("lingdao").get("/board", params={"on": "2024-07-06"}).text
    lights = dict(zip(board_codes(html), re.findall(r'<tr class="row-(\w+)">', html), strict=True))
    assert lights["BH-2"] == "green"  # GD-2 is due on the 6th: overdue only from the 7th
    assert lights["BH-3"] == "green"


def test_the_project_page_lists_its_work_orders(site: Site) -> None:
    _import(site)
    page = site.signed_in("bangong").get("/projects/BH-2").text
    assert "GD-1" in page and "围挡占道" in page and "（超时）" in page
    assert "GD-2" in page and "未办结" in page and "1 天" in page
    assert "12345 工单 GD-2：办理时限 2024年7月6日，自 2024年7月7日 起亮红灯，仍未办结" in page
    assert "没有关联到本项目的 12345 工单" in site.signed_in("bangong").get("/projects/BH-1").text


def test_the_meeting_page_names_the_overdue_work_order_of_a_red_project(site: Site) -> None:
    _import(site)
    page = site.signed_in("lingdao").get("/meeting", params={"date": "2024-07-08"}).text
    assert "12345 工单 GD-2（办理时限 2024年7月6日，逾期 2 天未办结）" in page
    assert "五、红灯项目 <small>5 个" in page  # BH-1, LF-1, LF-2, LF-3 by their nodes; BH-2 by GD-2
