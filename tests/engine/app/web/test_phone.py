"""The phone page (/m/{token}) and the office's 审核 page, through the web application."""

from __future__ import annotations

import io
import re

from PIL import Image

from tests.engine.app.web.conftest import TODAY, Site, csrf_of


def _link(site: Site, person_id: str = "P1", *extra: str) -> str:
    url = site.duban("person", "link", person_id, *extra).out.splitlines()[0].strip()
    return url.removeprefix("http://127.0.0.1:8000")


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 150), (30, 140, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def _report(client, path: str, files: list[tuple[str, tuple[str, bytes, str]]], **fields: str):
    data = {"project": "BH-1", "node": "N3", "kind": "completion", "day": TODAY, "note": "外墙保温已完成", **fields}
    return client.post(f"{path}/report", data=data, files=files)


def test_the_phone_page_lists_the_persons_nodes_with_lights_and_forms(site: Site) -> None:
    path = _link(site)
    page = site.client().get(path)
    assert page.status_code == 200
    assert "张三（P1）" in page.text and "BH-1 N1" in page.text and "BH-1 N3" in page.text
    assert 'class="light red"' in page.text  # BH-1 N1: never done
    assert 'enctype="multipart/form-data"' in page.text and 'name="photos"' in page.text
    assert "BH-2" not in page.text  # P2's project
    assert "<script" not in page.text


def test_a_report_through_the_form_waits_in_the_review_page(site: Site) -> None:
    path = _link(site)
    phone = site.client()
    response = _report(phone, path, [("photos", ("IMG_1.jpg", _jpeg(), "image/jpeg"))])
    assert response.status_code == 303 and response.headers["location"] == f"{path}#done"
    page = phone.get(path)
    assert "待工作专班审核" in page.text and "已报完成，待审核" in page.text
    office = site.signed_in("bangong")
    queue = office.get("/review").text
    assert "BH-1</a> N3" in queue and "张三（P1）" in queue and "外墙保温已完成" in queue
    [sha] = re.findall(r"/photos/([0-9a-f]{64})\?thumb=1", queue)
    thumb = office.get(f"/photos/{sha}", params={"thumb": "1"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (200, 150)
    assert "已报完成，待审核" in office.get("/board").text
    district = site.signed_in("binhe")
    assert district.get(f"/photos/{sha}").status_code == 200
    assert district.get("/review").status_code == 403
    report_id = re.search(r"/review/(\d+)/approve", queue).group(1)
    done = office.post(f"/review/{report_id}/approve", data={"csrf": csrf_of(office), "note": ""})
    assert done.status_code == 303
    assert "没有待审核的报告" in office.get("/review").text
    nodes = {n["node_code"]: n for n in site.duban.json("nodes") if n["project_code"] == "BH-1"}
    assert nodes["N3"]["completed_on"] == TODAY


def test_a_text_file_named_jpg_is_refused_by_the_form(site: Site) -> None:
    path = _link(site)
    before = site.duban.dump()
    phone = site.client()
    response = _report(phone, path, [("photos", ("现场.jpg", "不是图片".encode(), "image/jpeg"))])
    assert response.status_code == 303
    page = phone.get(path).text
    assert "现场.jpg：不是 JPEG、PNG 或 HEIC 图片" in page
    assert site.duban.dump() == before


def test_a_revoked_link_gets_the_refusal_page(site: Site) -> None:
    path = _link(site)
    site.duban("person", "unlink", "P1")
    page = site.client().get(path)
    assert page.status_code == 403 and "已被工作专班收回" in page.text and "BH-1" not in page.text
    response = _report(site.client(), path, [("photos", ("IMG_1.jpg", _jpeg(), "image/jpeg"))])
    assert response.status_code == 403
    assert site.duban.json("review", "list") == []


def test_an_unknown_token_gets_the_refusal_page(site: Site) -> None:
    page = site.client().get("/m/not-a-token")
    assert page.status_code == 403 and "链接无效" in page.text


def test_a_district_completion_that_would_revoke_a_strike_says_it_waits(site: Site) -> None:
    district = site.signed_in("binhe")
    # BH-1 N2 (due 3 July, done 5 July: a strike); completed on its due day instead would revoke it
    response = district.post("/projects/BH-1/nodes/N2/complete", data={"csrf": csrf_of(district), "on": "2024-07-03"})
    assert response.status_code == 303
    page = district.get("/projects/BH-1").text
    assert "已报完成，待审核" in page
    [waiting] = site.duban.json("review", "list")
    assert waiting["source"] == "district" and waiting["reported_by"] == "web:binhe"
    nodes = {n["node_code"]: n for n in site.duban.json("nodes") if n["project_code"] == "BH-1"}
    assert nodes["N2"]["completed_on"] == "2024-07-05"


def test_photos_need_a_sign_in_and_a_real_hash(site: Site) -> None:
    assert site.client().get("/photos/" + "a" * 64).status_code == 303
    office = site.signed_in("bangong")
    assert office.get("/photos/" + "a" * 64).status_code == 404
    assert office.get("/photos/../etc").status_code == 404


def test_an_oversized_photo_is_refused_by_the_form_with_its_size(site: Site) -> None:
    path = _link(site)
    before = site.duban.dump()
    phone = site.client()
    big = b"\xff\xd8" + b"\0" * (10 * 1024 * 1024 + 10)  # over max_photo_mb (10), whatever it holds
    response = _report(phone, path, [("photos", ("大图.jpg", big, "image/jpeg"))])
    assert response.status_code == 303
    assert "大图.jpg：10.0 MB，超过上限 10 MB" in phone.get(path).text
    assert site.duban.dump() == before


def test_the_project_page_keeps_the_evidence_timeline(site: Site) -> None:
    path = _link(site)
    phone = site.client()
    _report(phone, path, [("photos", ("IMG_1.jpg", _jpeg(), "image/jpeg"))])
    office = site.signed_in("bangong")
    page = office.get("/projects/BH-1").text
    timeline = page[page.index('id="reports"') : page.index("<h2>红灯记录</h2>")]
    assert "N3" in timeline and "张三（P1）" in timeline and "外墙保温已完成" in timeline and "待审核" in timeline
    [sha] = re.findall(r"/photos/([0-9a-f]{64})\?thumb=1", timeline)
    assert "已报完成，待审核" in page[: page.index('id="reports"')]  # the node's row says it too
    report_id = re.search(r"/review#report-(\d+)", timeline).group(1)
    office.post(f"/review/{report_id}/reject", data={"csrf": csrf_of(office), "reason": "照片看不清楼号"})
    page = office.get("/projects/BH-1").text
    timeline = page[page.index('id="reports"') : page.index("<h2>红灯记录</h2>")]
    assert "退回" in timeline and "照片看不清楼号" in timeline and sha in timeline
    assert "已报完成，待审核" not in page
    district = site.signed_in("binhe")  # the district sees its project's evidence, without the review link
    seen = district.get("/projects/BH-1").text
    assert "照片看不清楼号" in seen and "/review#report-" not in seen
