"""Photos sent with a report from the site: checked by content, re-encoded, thumbnailed, stored once.

What arrives is whatever a phone sends (JPEG, PNG, HEIC) under whatever name; only the bytes are
believed. Each photo is opened and verified by Pillow (a text file named ``.jpg`` is refused), its
pixel count bounded before any pixel is decoded (a decompression bomb is refused, never inflated),
turned upright, re-encoded as JPEG and thumbnailed. The original's time (EXIF DateTimeOriginal) is
kept as ``taken_at`` and in the new file; everything else of the EXIF — the GPS position first of
all — is dropped, unless ``[duban.web] keep_photo_location`` keeps the position. The SHA-256 of the
re-encoded bytes names the photo: the same picture sent twice is stored once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.errors import Refused
from engine.store.models import Photo, id_of

#: The formats accepted, as Pillow names them after reading the bytes.
#: MPO is a JPEG with a second picture (portrait and depth shots of many phones): its first picture is kept.
ACCEPTED = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "HEIF": "HEIC"}
#: The most pixels a photo may have (a 48-megapixel phone camera fits): checked from the header, before decoding.
MAX_PIXELS = 60_000_000
THUMBNAIL = 320
QUALITY = 85
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x9003, 0x9011


@dataclass(frozen=True)
class Processed:
    """A photo ready to store: the re-encoded JPEG, its thumbnail, what is known of it."""

    sha256: str
    content: bytes
    thumbnail: bytes
    width: int
    height: int
    taken_at: dt.datetime | None


def _openers(image_module: Any) -> list[str]:
    """The Pillow plugins allowed to parse an upload: the accepted formats' only (no other parser sees the bytes)."""
    image_module.init()
    return [name for name in ACCEPTED if name in image_module.OPEN]


def _pillow() -> Any:
    """Import Pillow with the HEIC opener registered (not at import: Pillow is for the photo routes only)."""
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return Image


def _taken_at(exif: Any, tz: dt.tzinfo) -> tuple[dt.datetime | None, str | None]:
    """The original's time from EXIF DateTimeOriginal (its own offset if written, else the configured zone)."""
    sub = exif.get_ifd(_EXIF_IFD)
    raw = sub.get(_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None, None
    try:
        when = dt.datetime.strptime(raw.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S").replace(tzinfo=tz)
    except ValueError:
        return None, None
    offset = sub.get(_OFFSET_ORIGINAL)
    if isinstance(offset, str):
        try:
            return dt.datetime.strptime(f"{raw.strip()} {offset.strip()}", "%Y:%m:%d %H:%M:%S %z"), raw
        except ValueError:
            pass
    return when, raw


def process(data: bytes, name: str, max_bytes: int, keep_location: bool, tz: dt.tzinfo) -> Processed:
    """Check one uploaded photo by its content and re-encode it; refuse it naming the file and why."""
    label = f"照片 {name}" if name else "照片"
    if not data:
        raise Refused(f"{label}：文件为空")
    if len(data) > max_bytes:
        raise Refused(f"{label}：{len(data) / 1024 / 1024:.1f} MB，超过上限 {max_bytes // (1024 * 1024)} MB")
    image_module = _pillow()
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # past Pillow's own bomb limit it warns; ours (MAX_PIXELS) refuses first
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            probe = image_module.open(io.BytesIO(data), formats=_openers(image_module))
        with probe:
            kind = probe.format
            width, height = probe.size
            if kind not in ACCEPTED:
                raise Refused(f"{label}：不是 JPEG、PNG 或 HEIC 图片（内容为 {kind}）")
            if width * height > MAX_PIXELS:
                raise Refused(f"{label}：{width}×{height} 像素，超过上限 {MAX_PIXELS // 1_000_000} 百万像素")
            probe.verify()
        with image_module.open(io.BytesIO(data), formats=_openers(image_module)) as image:
            image.load()
            exif = image.getexif()
            taken_at, raw_time = _taken_at(exif, tz)
            gps = dict(exif.get_ifd(_GPS_IFD)) if keep_location else {}
            upright = ImageOps.exif_transpose(image)
            if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
                rgba = upright.convert("RGBA")
                flat = image_module.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                upright = flat
            elif upright.mode != "RGB":
                upright = upright.convert("RGB")
    except Refused:
        raise
    except (UnidentifiedImageError, image_module.DecompressionBombError):
        raise Refused(f"{label}：不是 JPEG、PNG 或 HEIC 图片，或图片已损坏") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise Refused(f"{label}：图片已损坏，无法读取") from None
    upright.info = {}  # nothing of the original rides along (XMP, comments, ICC): only what is written below
    kept = image_module.Exif()
    if raw_time is not None:
        kept.get_ifd(_EXIF_IFD)[_DATETIME_ORIGINAL] = raw_time
    if gps:
        kept.get_ifd(_GPS_IFD).update(gps)
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=QUALITY, optimize=True, exif=kept.tobytes())
    content = out.getvalue()
    small = upright.copy()
    small.thumbnail((THUMBNAIL, THUMBNAIL))
    thumb = io.BytesIO()
    small.save(thumb, "JPEG", quality=80)
    return Processed(
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        thumbnail=thumb.getvalue(),
        width=upright.width,
        height=upright.height,
        taken_at=taken_at,
    )


def store(session: Session, photo: Processed, now: dt.datetime) -> int:
    """Store a processed photo once (by its SHA-256); return its id."""
    found = session.scalar(select(col(Photo.id)).where(col(Photo.sha256) == photo.sha256))
    if found is not None:
        return int(found)
    row = Photo(
        sha256=photo.sha256,
        mime="image/jpeg",
        width=photo.width,
        height=photo.height,
        size=len(photo.content),
        taken_at=photo.taken_at,
        content=photo.content,
        thumbnail=photo.thumbnail,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return id_of(row)
