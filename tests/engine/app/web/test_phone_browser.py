"""The phone page in Chromium's mobile emulation (375 px, a WeChat user agent): a photo uploaded through the
form, then seen by the office on its 审核 page. Screenshots under the test's tmp dir (``screenshots/``)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.engine.app.web.conftest import PASSWORD, Site
from tests.engine.app.web.test_browser import CHROMEDRIVER, CHROMIUM, Pages, _have_browser, live

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
__all__ = ["live"]  # the served site, shared with the office's browser test

#: WeChat's in-app browser on an iPhone-sized screen.
WECHAT = (
    "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
    "Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47.2560 WeChat/arm64"
)


@pytest.fixture
def phone(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium emulating a 375 px phone."""
    if not _have_browser():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed under CI: run `make browser`")
        pytest.skip("browser tests need Debian's chromium and chromium-driver (make browser)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path / 'phone-profile'}",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": 375, "height": 812, "pixelRatio": 2.0}, "userAgent": WECHAT}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(60)  # a bound for an element that never comes
    try:
        yield driver
    finally:
        driver.quit()


class PhonePages(Pages):
    """Screenshots at the phone's own width."""

    def shot(self, name: str) -> None:
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        self.d.execute_script("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
        assert self.d.save_screenshot(str(path)), name  # type: ignore[attr-defined]
        self.shots.append(path)


def test_a_photo_uploaded_from_the_phone_is_seen_on_the_review_page(
    site: Site, live: str, phone: object, tmp_path: Path
) -> None:
    photo = tmp_path / "IMG_20240708.jpg"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:07:08 08:30:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 31.0, 12.0)})
    Image.new("RGB", (1200, 900), (46, 125, 50)).save(photo, "JPEG", exif=exif.tobytes())
    url = site.duban("person", "link", "P1").out.splitlines()[0].strip()
    path = url.removeprefix("http://127.0.0.1:8000")
    pages = PhonePages(phone, live, tmp_path / "screenshots")
    pages.go(path)
    pages.wait_for(lambda: "张三（P1）" in pages.text())
    assert phone.execute_script("return window.innerWidth") == 375  # type: ignore[attr-defined]
    assert phone.execute_script("return document.documentElement.scrollWidth") <= 375  # type: ignore[attr-defined]
    pages.shot("phone-nodes")
    card = "#node-BH-1-N3"
    pages.find(f"{card} details summary").click()  # type: ignore[attr-defined]
    pages.find(f"{card} textarea[name=note]").send_keys("外墙保温已完成，见照片")  # type: ignore[attr-defined]
    pages.find(f"{card} input[type=file]").send_keys(str(photo))  # type: ignore[attr-defined]
    pages.shot("phone-form")
    pages.find(f"{card} form button[type=submit]").click()  # type: ignore[attr-defined]
    pages.wait_for(lambda: "待工作专班审核" in pages.text())
    assert "已报完成，待审核" in pages.find(card).text  # type: ignore[attr-defined]
    pages.shot("phone-reported")
    [waiting] = site.duban.json("review", "list")
    assert waiting["project"] == "BH-1" and waiting["node"] == "N3" and len(waiting["photos"]) == 1

    pages.sign_in("bangong", PASSWORD)
    pages.wait_for(lambda: "挂图作战" in pages.text())
    pages.go("/review")
    pages.wait_for(lambda: "外墙保温已完成，见照片" in pages.text())
    thumb = pages.find(f"#report-{waiting['id']} .photos img")
    pages.wait_for(lambda: phone.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb))  # type: ignore[attr-defined]
    assert phone.execute_script("return arguments[0].naturalWidth", thumb) == 320  # type: ignore[attr-defined]
    phone.execute_script("arguments[0].scrollIntoView()", pages.find(f"#report-{waiting['id']}"))  # type: ignore[attr-defined]
    shot = pages.folder / f"{len(pages.shots) + 1:02d}-review-queue.png"
    assert phone.save_screenshot(str(shot))  # type: ignore[attr-defined]  (the report and its thumbnail)
    assert Image.open(io.BytesIO(shot.read_bytes())).size[0] == 750  # 375 CSS px at a pixel ratio of 2
