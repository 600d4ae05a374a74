"""Progress from the site and its review (issue 20, parts 3–4), through the real command line and database.

Nothing a report says changes the ladder until the office approves it; approval records it through the
path of `duban node complete|extend`, naming reporter and approver; a rejection goes back to the person;
a district account's completion that would revoke a strike waits; the office's own is immediate.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from config import load_settings
from config.vocabulary import ReportKind
from engine.app import review
from engine.context import App
from engine.errors import Refused
from engine.record import actions
from tests.conftest import Duban, node, person, project, write_ledger

TODAY = "2024-08-05"


def jpeg(colour: tuple[int, int, int] = (30, 140, 60), gps: bool = True, size: tuple[int, int] = (640, 480)) -> bytes:
    """A JPEG as a phone writes it: its time taken and (by default) its GPS position in EXIF."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:07:30 09:15:00"
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 31.0, 12.0), 3: "E", 4: (111.0, 8.0, 30.0)})
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture
def campaign(duban: Duban, tmp_path: Path) -> Duban:
    """P1 holds A (N1 due 30 July, N2 due 31 July, both missed: two strikes, suspended); P2 holds C."""
    duban.today(TODAY)
    folder = write_ledger(
        tmp_path / "ledger",
        [person("P1", "张三"), person("P2", "李四")],
        [project("A", "P1"), project("C", "P2")],
        [node("A", "N1", "2024-07-30"), node("A", "N2", "2024-07-31"), node("C", "N1", "2024-09-30")],
    )
    duban("import", "ledger", folder, "--as-of", "2024-07-01")
    duban("evaluate", "--through", "2024-08-01", "--from", "2024-07-31")
    return duban


def app_of(duban: Duban) -> App:
    return App(load_settings())


def levels(duban: Duban) -> list[tuple[object, ...]]:
    return [(s["planned_date"], s["level"], s["status"]) for s in duban.json("strikes")]


def token_of(duban: Duban, person_id: str, *extra: str) -> str:
    result = duban("person", "link", person_id, *extra)
    url = result.out.splitlines()[0].strip()
    assert url.startswith("http://127.0.0.1:8000/m/"), result.out
    return url.rsplit("/", 1)[1]


def rows(duban: Duban, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(duban.url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


def report_done(duban: Duban, token: str, node_code: str = "N1", day: str = "2024-07-30", photos: int = 1) -> int:
    uploads = [review.Upload(f"现场{i}.jpg", jpeg((i * 20, 100, 50))) for i in range(photos)]
    return review.submit(
        app_of(duban), token, "A", node_code, ReportKind.COMPLETION, dt.date.fromisoformat(day), "路面已硬化", uploads
    )


def test_a_report_waits_and_changes_nothing_in_the_ladder(campaign: Duban) -> None:
    before = levels(campaign)
    assert before == [("2024-07-30", 1, "counted"), ("2024-07-31", 2, "counted")]
    strikes_before = rows(campaign, "SELECT * FROM strike ORDER BY id")
    report_id = report_done(campaign, token_of(campaign, "P1"))
    [waiting] = campaign.json("review", "list")
    assert waiting["id"] == report_id and waiting["kind"] == "completion" and waiting["reported_by"] == "P1"
    assert waiting["completed_on"] == "2024-07-30" and len(waiting["photos"]) == 1
    assert waiting["revokes_strikes"] == [campaign.json("strikes")[0]["id"]]
    assert levels(campaign) == before
    assert rows(campaign, "SELECT * FROM strike ORDER BY id") == strikes_before
    assert rows(campaign, "SELECT completed_on FROM node WHERE code = 'N1' AND project_id = 1") == [(None,)]
    assert "张三（P1）" in campaign("review", "list").out


def test_approval_records_the_completion_with_reporter_and_approver_and_revokes_the_strike(campaign: Duban) -> None:
    report_id = report_done(campaign, token_of(campaign, "P1"))
    result = campaign("review", "approve", str(report_id), "--by", "王主任", "--note", "照片属实")
    assert f"报告 #{report_id} 审核通过" in result.out and "2024-07-30" in result.out
    assert levels(campaign) == [("2024-07-30", None, "revoked"), ("2024-07-31", 1, "counted")]
    [(actor, source, reason)] = rows(
        campaign, "SELECT actor, source, reason FROM node_history WHERE kind = 'completion'"
    )
    assert actor == "王主任" and source == "report"
    assert "报告人 P1" in reason and "审核人 王主任" in reason and "路面已硬化" in reason and "照片属实" in reason
    assert rows(campaign, "SELECT approved, by FROM report_decision") == [(True, "王主任")]
    assert campaign.json("review", "list") == []
    again = campaign("review", "approve", str(report_id), ok=False)
    assert again.code == 1 and "已由 王主任 审核通过" in again.err
    assert "审计链完整" in campaign("audit", "verify").out


def test_an_approved_extension_moves_the_planned_date(campaign: Duban) -> None:
    token = token_of(campaign, "P2")
    report_id = review.submit(
        app_of(campaign), token, "C", "N1", ReportKind.EXTENSION, dt.date(2024, 10, 31), "燃气管线迁改未完成"
    )
    assert rows(campaign, "SELECT planned_date FROM node WHERE code = 'N1' AND project_id = 2") == [
        (dt.date(2024, 9, 30) if "postgresql" in campaign.url else "2024-09-30",)
    ]
    campaign("review", "approve", str(report_id))
    [row] = [n for n in campaign.json("nodes") if n["project_code"] == "C"]
    assert row["planned_date"] == "2024-10-31"
    [(reason,)] = rows(campaign, "SELECT reason FROM node_history WHERE kind = 'extension'")
    assert "报告人 P2" in reason and "审核人 tester" in reason and "燃气管线迁改未完成" in reason


def test_a_rejection_changes_nothing_and_its_reason_is_queued_to_the_person(campaign: Duban) -> None:
    report_id = report_done(campaign, token_of(campaign, "P1"))
    before = levels(campaign)
    result = campaign("review", "reject", str(report_id), "--reason", "照片看不出路面硬化")
    assert "已退回" in result.out and "发件箱" in result.out
    assert levels(campaign) == before
    [(key, recipient, body)] = rows(campaign, "SELECT key, recipient, body FROM outbox WHERE key LIKE 'report:%'")
    assert key == f"report:{report_id}:rejected:file" and recipient == "张三" and "照片看不出路面硬化" in body
    assert rows(campaign, "SELECT approved, reason FROM report_decision") == [(False, "照片看不出路面硬化")]
    assert campaign("review", "reject", str(report_id), "--reason", "x", ok=False).code == 1
    assert campaign("review", "reject", "999", "--reason", "x", ok=False).err.strip() == "报告 #999 不存在"


def test_a_rejection_needs_a_reason(campaign: Duban) -> None:
    report_id = report_done(campaign, token_of(campaign, "P1"))
    result = campaign("review", "reject", str(report_id), "--reason", "  ", ok=False)
    assert result.code == 1 and "理由" in result.err


def test_a_district_completion_that_would_revoke_a_confirmed_strike_waits(campaign: Duban) -> None:
    first = campaign.json("strikes")[0]["id"]
    campaign("strike", "confirm", str(first), "--meeting", "2024-08-05")
    before = levels(campaign)
    district = app_of(campaign).as_actor("web:binhe")
    done = actions.complete_node(district, "A", "N1", dt.date(2024, 7, 30), None, "web", actions.Scope("滨河片区"))
    assert done is actions.Completion.PENDING
    assert levels(campaign) == before
    assert rows(campaign, "SELECT completed_on FROM node WHERE code = 'N1' AND project_id = 1") == [(None,)]
    [waiting] = campaign.json("review", "list")
    assert waiting["source"] == "district" and waiting["reported_by"] == "web:binhe"
    assert waiting["revokes_strikes"] == [first]
    campaign("review", "approve", str(waiting["id"]))
    assert levels(campaign)[0] == ("2024-07-30", None, "revoked")


def test_a_district_completion_that_revokes_nothing_is_immediate(campaign: Duban) -> None:
    district = app_of(campaign).as_actor("web:binhe")
    done = actions.complete_node(district, "A", "N1", dt.date(2024, 8, 2), None, "web", actions.Scope("滨河片区"))
    assert done is actions.Completion.RECORDED
    assert campaign.json("review", "list") == []


def test_the_offices_own_completion_is_immediate(campaign: Duban) -> None:
    result = campaign("node", "complete", "A", "N1", "--on", "2024-07-30")
    assert "完成日期 2024-07-30" in result.out
    assert levels(campaign)[0] == ("2024-07-30", None, "revoked")
    assert campaign.json("review", "list") == []


def test_a_revoked_link_is_refused(campaign: Duban) -> None:
    token = token_of(campaign, "P1")
    assert "已收回 P1 的 1 个个人链接" in campaign("person", "unlink", "P1").out
    before = campaign.dump()
    with pytest.raises(Refused, match="已被工作专班收回"):
        report_done(campaign, token)
    assert campaign.dump() == before
    assert "没有有效的个人链接" in campaign("person", "unlink", "P1").out


def test_an_expired_link_is_refused(campaign: Duban, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_NOW", "2024-08-05T10:00:00")
    token = token_of(campaign, "P1", "--days", "1")
    monkeypatch.setenv("DUBAN_NOW", "2024-08-06T10:00:01")
    with pytest.raises(Refused, match="已过期"):
        report_done(campaign, token)
    with pytest.raises(Refused, match="链接无效"):
        report_done(campaign, token[:-2] + "xx")


def test_the_link_is_stored_only_as_its_hash(campaign: Duban) -> None:
    token = token_of(campaign, "P1")
    import hashlib

    assert rows(campaign, "SELECT token_hash FROM person_link") == [(hashlib.sha256(token.encode()).hexdigest(),)]
    assert token not in repr(campaign.dump())


def test_a_person_reports_only_nodes_of_their_own_projects(campaign: Duban) -> None:
    token = token_of(campaign, "P2")
    with pytest.raises(Refused, match="不是项目 A 的负责人"):
        report_done(campaign, token)


def test_a_second_report_of_a_node_waits_for_the_first(campaign: Duban) -> None:
    token = token_of(campaign, "P1")
    first = report_done(campaign, token)
    with pytest.raises(Refused, match=f"已有待审核的报告（#{first}）"):
        report_done(campaign, token)


def test_a_completion_report_needs_photos(campaign: Duban) -> None:
    with pytest.raises(Refused, match="1–9 张"):
        report_done(campaign, token_of(campaign, "P1"), photos=0)
    with pytest.raises(Refused, match="最多 9 张"):
        report_done(campaign, token_of(campaign, "P1"), photos=10)


def test_a_text_file_named_jpg_is_refused_and_nothing_is_stored(campaign: Duban) -> None:
    token = token_of(campaign, "P1")
    before = campaign.dump()
    upload = review.Upload("现场.jpg", "这不是图片，只是文字。".encode())
    with pytest.raises(Refused, match=r"现场\.jpg：不是 JPEG、PNG 或 HEIC 图片"):
        review.submit(app_of(campaign), token, "A", "N1", ReportKind.COMPLETION, dt.date(2024, 7, 30), "", [upload])
    assert campaign.dump() == before


def test_an_oversized_photo_is_refused(campaign: Duban, tmp_path: Path) -> None:
    (tmp_path / "duban.toml").write_text("[duban.web]\nmax_photo_mb = 1\n", encoding="utf-8")
    big = io.BytesIO()
    Image.effect_noise((1400, 1400), 100).convert("RGB").save(big, "PNG")  # noise: incompressible, over 1 MB
    assert len(big.getvalue()) > 1024 * 1024
    upload = review.Upload("大图.png", big.getvalue())
    app = App(load_settings(config_file=tmp_path / "duban.toml"))
    with pytest.raises(Refused, match=r"大图\.png：.*超过上限 1 MB"):
        review.submit(
            app, token_of(campaign, "P1"), "A", "N1", ReportKind.COMPLETION, dt.date(2024, 7, 30), "", [upload]
        )


def test_a_decompression_bomb_is_refused_before_it_is_decoded(campaign: Duban) -> None:
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, "PNG")  # 81 megapixels in a few kilobytes
    upload = review.Upload("bomb.png", bomb.getvalue())
    with pytest.raises(Refused, match="百万像素"):
        review.submit(
            app_of(campaign),
            token_of(campaign, "P1"),
            "A",
            "N1",
            ReportKind.COMPLETION,
            dt.date(2024, 7, 30),
            "",
            [upload],
        )


def _stored_photo(campaign: Duban) -> Image.Image:
    [(content,)] = rows(campaign, "SELECT content FROM photo")
    return Image.open(io.BytesIO(bytes(content)))


def test_a_png_and_a_heic_are_accepted_and_re_encoded_as_jpeg(campaign: Duban) -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    png, heic = io.BytesIO(), io.BytesIO()
    Image.new("RGBA", (300, 200), (200, 40, 40, 128)).save(png, "PNG")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:07:29 17:45:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 31.0, 12.0)})
    Image.new("RGB", (320, 240), (40, 40, 200)).save(heic, "HEIF", exif=exif.tobytes())
    assert heic.getvalue()[4:12] == b"ftypheic"
    uploads = [review.Upload("a.png", png.getvalue()), review.Upload("IMG_0001.HEIC", heic.getvalue())]
    review.submit(
        app_of(campaign), token_of(campaign, "P1"), "A", "N1", ReportKind.COMPLETION, dt.date(2024, 7, 30), "", uploads
    )
    stored = rows(campaign, "SELECT mime, width, height, taken_at FROM photo ORDER BY id")
    assert [(m, w, h) for m, w, h, _t in stored] == [("image/jpeg", 300, 200), ("image/jpeg", 320, 240)]
    assert stored[0][3] is None and stored[1][3] is not None
    for (content,) in rows(campaign, "SELECT content FROM photo"):
        image = Image.open(io.BytesIO(bytes(content)))
        assert image.format == "JPEG"
        assert dict(image.getexif().get_ifd(0x8825)) == {}


def test_gps_is_removed_and_the_time_taken_kept(campaign: Duban) -> None:
    report_done(campaign, token_of(campaign, "P1"))
    image = _stored_photo(campaign)
    assert dict(image.getexif().get_ifd(0x8825)) == {}
    assert image.getexif().get_ifd(0x8769)[0x9003] == "2024:07:30 09:15:00"
    [(taken,)] = rows(campaign, "SELECT taken_at FROM photo")
    assert taken is not None and "2024-07-30" in str(taken) and ("01:15" in str(taken) or "09:15" in str(taken))
    [(size, sha, content)] = rows(campaign, "SELECT size, sha256, content FROM photo")
    import hashlib

    assert size == len(bytes(content)) and sha == hashlib.sha256(bytes(content)).hexdigest()


def test_gps_is_kept_when_the_office_turns_it_on(campaign: Duban, tmp_path: Path) -> None:
    (tmp_path / "duban.toml").write_text("[duban.web]\nkeep_photo_location = true\n", encoding="utf-8")
    app = App(load_settings(config_file=tmp_path / "duban.toml"))
    upload = review.Upload("a.jpg", jpeg())
    review.submit(app, token_of(campaign, "P1"), "A", "N1", ReportKind.COMPLETION, dt.date(2024, 7, 30), "", [upload])
    assert dict(_stored_photo(campaign).getexif().get_ifd(0x8825))[1] == "N"


def test_the_same_photo_is_stored_once(campaign: Duban) -> None:
    token = token_of(campaign, "P1")
    same = [review.Upload("a.jpg", jpeg()), review.Upload("b.jpg", jpeg())]
    review.submit(app_of(campaign), token, "A", "N1", ReportKind.COMPLETION, dt.date(2024, 7, 30), "", same)
    assert rows(campaign, "SELECT count(*) FROM photo") == [(1,)]
    assert rows(campaign, "SELECT count(*) FROM report_photo") == [(2,)]


def test_the_audit_chain_is_intact_after_reports_photos_links_and_decisions(campaign: Duban) -> None:
    token = token_of(campaign, "P1")
    approved = report_done(campaign, token)
    campaign("review", "approve", str(approved))
    rejected = report_done(campaign, token, node_code="N2", day="2024-07-31", photos=2)
    campaign("review", "reject", str(rejected), "--reason", "照片不清")
    campaign("person", "unlink", "P1")
    result = campaign("audit", "verify")
    assert result.code == 0, result.err
    tables = {r[0] for r in rows(campaign, "SELECT table_name FROM audit_entry")}
    assert {"report", "report_decision", "photo", "report_photo", "person_link"} <= tables
    engine = sa.create_engine(campaign.url)
    try:
        with engine.begin() as connection:  # a photo's recorded hash edited by hand: the chain says so
            connection.execute(sa.text("UPDATE photo SET sha256 = :s WHERE id = 1"), {"s": "0" * 64})
    finally:
        engine.dispose()
    broken = campaign("audit", "verify", ok=False)
    assert broken.code == 1 and "photo" in (broken.out + broken.err)


def test_a_multi_picture_jpeg_from_a_phone_is_accepted(campaign: Duban) -> None:
    # Portrait and depth shots of many phones are JPEGs with a second picture (Pillow reads them as MPO).
    mpo = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 60, 30)).save(
        mpo, "MPO", save_all=True, append_images=[Image.new("RGB", (400, 300), (0, 0, 0))]
    )
    assert Image.open(io.BytesIO(mpo.getvalue())).format == "MPO"
    review.submit(
        app_of(campaign),
        token_of(campaign, "P1"),
        "A",
        "N1",
        ReportKind.COMPLETION,
        dt.date(2024, 7, 30),
        "",
        [review.Upload("IMG_0002.jpg", mpo.getvalue())],
    )
    assert rows(campaign, "SELECT mime, width, height FROM photo") == [("image/jpeg", 400, 300)]


def test_a_report_overtaken_by_the_offices_completion_is_not_approved_over_it(campaign: Duban) -> None:
    report_id = report_done(campaign, token_of(campaign, "P1"), day="2024-07-30")
    campaign("node", "complete", "A", "N1", "--on", "2024-08-02")
    before = levels(campaign)
    refused = campaign("review", "approve", str(report_id), ok=False)
    assert refused.code == 1 and "已另行记录完成日期 2024-08-02" in refused.err
    assert levels(campaign) == before  # the office's date stands: the strike is not revoked behind its back
    assert [
        n["completed_on"] for n in campaign.json("nodes") if n["node_code"] == "N1" and n["project_code"] == "A"
    ] == ["2024-08-02"]
    assert campaign.json("review", "list")[0]["id"] == report_id  # still waiting: to be rejected with a reason


def test_an_extension_whose_new_date_has_passed_is_not_approved(campaign: Duban) -> None:
    report_id = review.submit(
        app_of(campaign), token_of(campaign, "P2"), "C", "N1", ReportKind.EXTENSION, dt.date(2024, 8, 10), "材料未到"
    )
    campaign.today("2024-08-12")
    refused = campaign("review", "approve", str(report_id), ok=False)
    assert refused.code == 1 and "2024-08-10 已不晚于今天 2024-08-12" in refused.err
    [row] = [n for n in campaign.json("nodes") if n["project_code"] == "C"]
    assert row["planned_date"] == "2024-09-30"
