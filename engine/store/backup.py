"""`duban backup` and `duban restore`: whole-database copies that are consistent and checked.

SQLite: the online backup API copies a consistent snapshot while other processes keep working;
the copy is integrity-checked before it gets its name, so a file called PATH is always whole.
PostgreSQL: pg_dump and pg_restore do this job better than duban could; the commands say how.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from config.settings import Settings
from engine.errors import Refused
from notifications.files import replacing

PG_BACKUP = (
    'PostgreSQL 数据库请用 pg_dump 备份（在线、一致）：pg_dump --format=custom --file=duban.dump "<数据库地址>"；'
    '恢复到新建的空库：pg_restore --no-owner --dbname "<数据库地址>" duban.dump，然后运行 duban init'
)
PG_RESTORE = (
    'PostgreSQL 数据库请用 pg_restore 恢复：先新建空库，pg_restore --no-owner --dbname "<数据库地址>" duban.dump，'
    "再运行 duban init 与 duban audit verify"
)


@dataclass
class BackupResult:
    """What a backup or restore copied."""

    path: Path
    bytes: int
    persons: int
    strikes: int
    kept: Path | None = None  # on restore --replace: where the replaced database was saved


def _sqlite_file(settings: Settings, refusal: str) -> Path:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        raise Refused(refusal)
    if not url.database or url.database == ":memory:":
        raise Refused("内存数据库无法备份或恢复")
    return Path(url.database)


def _check(path: Path) -> tuple[int, int]:
    """Integrity-check a database file that should be duban's; return its person and strike counts."""
    try:
        with open(path, "rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise Refused(f"{path}：不是 SQLite 数据库文件")
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise Refused(f"{path}：数据库文件已损坏（integrity_check：{verdict}）")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"alembic_version", "person", "strike"} <= tables:
                raise Refused(f"{path}：不是 duban 的数据库（缺少 duban 的表）")
            persons = connection.execute("SELECT count(*) FROM person").fetchone()[0]
            strikes = connection.execute("SELECT count(*) FROM strike").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise Refused(f"{path}：无法作为 SQLite 数据库读取（{exc}）") from None
    return int(persons), int(strikes)


def _copy(source: Path, target: Path) -> None:
    """Copy a whole SQLite database with the online backup API (one consistent snapshot)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    try:
        dst = sqlite3.connect(target, timeout=60)
        try:
            src.backup(dst)  # all pages in one step: a snapshot even while others write
        finally:
            dst.close()
    finally:
        src.close()


def backup(settings: Settings, path: Path) -> BackupResult:
    """Write a consistent, checked copy of the SQLite database to a new file."""
    database = _sqlite_file(settings, PG_BACKUP)
    if path.exists():
        raise Refused(f"{path}：文件已存在，不会覆盖；请换一个文件名")
    if not path.parent.is_dir():
        raise Refused(f"{path.parent}：文件夹不存在")
    with replacing(path) as temp:  # only a whole, checked copy ever carries the name
        _copy(database, temp)
        persons, strikes = _check(temp)
    return BackupResult(path, path.stat().st_size, persons, strikes)


def restore(settings: Settings, path: Path, replace: bool) -> BackupResult:
    """Put a backup in place of the SQLite database; the database replaced is kept beside it."""
    database = _sqlite_file(settings, PG_RESTORE)
    if not path.is_file():
        raise Refused(f"{path}：备份文件不存在")
    persons, strikes = _check(path)
    kept = None
    if database.exists() and database.stat().st_size > 0:
        current = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            has_data = bool(current.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
        finally:
            current.close()
        if has_data and not replace:
            raise Refused(f"{database}：数据库已存在且有数据；确认要以备份替换时请加 --replace（现有数据库会先另存）")
        if has_data:
            stamp = dt.datetime.now(settings.tz).strftime("%Y%m%d-%H%M%S")
            kept = database.with_name(f"{database.stem}.before-restore-{stamp}{database.suffix or '.db'}")
            _copy(database, kept)
    _copy(path, database)
    return BackupResult(database, database.stat().st_size, persons, strikes, kept)
