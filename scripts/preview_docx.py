"""Render a .docx to PNG pages for eyeballing the layout (LibreOffice -> PDF -> pdftoppm).

Only a viewing aid: the project does not depend on LibreOffice or poppler.

    python scripts/preview_docx.py notice.docx [--out-dir /tmp/preview] [--dpi 60]
    python scripts/preview_docx.py --sample [--draft]   # writes a sample notice with a table and the chart first
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INSTALL_HINT = (
    "需要 LibreOffice 和 pdftoppm 才能预览。Debian/Ubuntu 安装：\n"
    "    apt-get install -y libreoffice-writer poppler-utils fonts-noto-cjk\n"
    "（fonts-noto-cjk 让预览中的中文正常显示；仅用于查看，项目运行不依赖这些软件）"
)

#: Preview stand-ins for the 公文 fonts, which only exist on Windows: Song/Fangsong as serif, Hei as sans, so that
#: headings, title and body can be told apart on the page (fontconfig would otherwise pick one sans for everything).
STAND_INS = {
    "仿宋_GB2312": ("Noto Serif CJK SC", "regular"),
    "仿宋": ("Noto Serif CJK SC", "regular"),
    "宋体": ("Noto Serif CJK SC", "regular"),
    "方正小标宋简体": ("Noto Serif CJK SC", "bold"),
    "黑体": ("Noto Sans CJK SC", "bold"),
    "楷体_GB2312": ("AR PL UKai CN", "regular"),
    "楷体": ("AR PL UKai CN", "regular"),
}

SAMPLE_BODY = """\
经查，你负责的老旧小区改造项目有 **2 个计划节点** 未按期完成，情况如下：

| 序号 | 项目名称 | 计划节点 | 计划完成日期 | 逾期天数 |
|---|---|---|---|---:|
| 1 | 滨河小区综合改造一期 | 管网改造完成 | 2024年7月15日 | 16 |
| 2 | 龙凤小区综合改造二期 | 外墙保温完成 | 2024年7月20日 | 11 |

## 一、认定依据

根据《吕梁市老旧小区改造工作督办问责办法》第五条，计划节点逾期未完成的，第一次由责任人作出书面检查。

### （一）进度情况

![计划节点累计完成情况](chart.png)

1. 请于收到本通知之日起3个工作日内提交书面检查。
2. 请倒排工期，确保后续节点按期完成。

- 联系人：李四，电话 0358-1234567
- 特殊字符原样保留：A&B <script>alert(1)</script> {{ 7*7 }} “引号”‘单引号’

> 注：如对认定有异议，可在收到本通知之日起5个工作日内申请复核。
"""


def _sample(out_dir: Path, draft: bool) -> Path:
    from notifications.charts import progress_chart
    from notifications.docx import DocMeta, write_docx

    start = dt.date(2024, 7, 1)
    points = []
    for offset in range(0, 31):
        planned = min(126, 4 * offset + 2)
        actual = max(0, min(planned + 3, int(3.4 * offset)))
        points.append((start + dt.timedelta(days=offset), planned, actual))
    progress_chart(points, out_dir / "chart.png", "老旧小区改造计划节点累计完成情况")
    meta = DocMeta(
        title="关于张三同志未按期完成计划节点的检查通知",
        issuer="吕梁市住房和城乡建设局",
        doc_number="吕建发〔2024〕12号",
        recipient="张三同志：",
        signature="吕梁市住房和城乡建设局",
        date=dt.date(2024, 7, 31),
        draft=draft,
    )
    path = out_dir / ("sample-draft.docx" if draft else "sample.docx")
    write_docx(SAMPLE_BODY, meta, path)
    return path


def _fontconfig(scratch: Path) -> Path:
    rules = "".join(
        f"<match target='pattern'><test name='family'><string>{name}</string></test>"
        f"<edit name='family' mode='assign' binding='strong'><string>{family}</string>"
        "<string>Noto Serif CJK SC</string></edit>"
        # Only the heavy faces get a weight: forcing "regular" would also erase **bold** runs.
        + (f"<edit name='weight' mode='assign'><const>{weight}</const></edit>" if weight == "bold" else "")
        + "</match>"
        for name, (family, weight) in STAND_INS.items()
    )
    conf = scratch / "fonts.conf"
    conf.write_text(
        "<?xml version='1.0'?><!DOCTYPE fontconfig SYSTEM 'fonts.dtd'><fontconfig>"
        f"<include ignore_missing='yes'>/etc/fonts/fonts.conf</include>{rules}</fontconfig>",
        encoding="utf-8",
    )
    return conf


def preview(docx: Path, out_dir: Path, dpi: int) -> list[Path]:
    """Convert ``docx`` to PNG pages in ``out_dir`` and return their paths."""
    office = shutil.which("libreoffice") or shutil.which("soffice")
    pdftoppm = shutil.which("pdftoppm")
    if office is None or pdftoppm is None:
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="duban-preview-") as scratch:
        # A private profile: a LibreOffice already running for the user would otherwise swallow the conversion.
        profile = Path(scratch, "profile").as_uri()
        env = {**os.environ, "FONTCONFIG_FILE": str(_fontconfig(Path(scratch)))}
        subprocess.run(
            [
                office,
                f"-env:UserInstallation={profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                scratch,
                str(docx),
            ],
            check=True,
            capture_output=True,
            timeout=180,
            env=env,
        )
        pdf = Path(scratch, docx.with_suffix(".pdf").name)
        if not pdf.exists():
            raise SystemExit(f"LibreOffice 未生成 PDF：{docx}")
        for old in out_dir.glob(f"{docx.stem}-*.png"):
            old.unlink()
        subprocess.run([pdftoppm, "-png", "-r", str(dpi), str(pdf), str(out_dir / docx.stem)], check=True, timeout=180)
    return sorted(out_dir.glob(f"{docx.stem}-*.png"))


def main() -> None:
    """Parse the command line and write the preview pages."""
    parser = argparse.ArgumentParser(description="把 .docx 转成 PNG 页面以便查看版式")
    parser.add_argument("docx", type=Path, nargs="?", help="要预览的 Word 文件")
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/preview"), help="PNG 输出目录")
    parser.add_argument("--dpi", type=int, default=60, help="分辨率（默认 60）")
    parser.add_argument("--sample", action="store_true", help="先生成一份含表格和图表的示例通知")
    parser.add_argument("--draft", action="store_true", help="示例通知标为草稿")
    args = parser.parse_args()
    if args.sample:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        docx = _sample(args.out_dir, args.draft)
    elif args.docx is not None:
        docx = args.docx
    else:
        parser.error("请给出 .docx 文件，或使用 --sample")
    for page in preview(docx, args.out_dir, args.dpi):
        print(page)


if __name__ == "__main__":
    main()
