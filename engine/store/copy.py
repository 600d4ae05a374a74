"""`duban db copy --to URL`: move a whole database (say the office PC's SQLite) to another one."""

from __future__ import annotations

from sqlalchemy import Engine, func, select, text
from sqlmodel import SQLModel

from engine.errors import Refused
from engine.store import models  # noqa: F401  (registers every table)
from engine.store.db import make_engine, require_schema, upgrade


def copy_database(source: Engine, target_url: str, batch: int = 5000) -> dict[str, int]:
    """Copy every table into an empty database at ``target_url`` in one transaction; return row counts."""
    require_schema(source)
    target = make_engine(target_url)
    try:
        upgrade(target)
        tables = SQLModel.metadata.sorted_tables  # parents before children
        with target.connect() as probe:
            used = [t.name for t in tables if probe.scalar(select(func.count()).select_from(t))]
        if used:
            raise Refused(f"目标数据库不是空的（已有数据的表：{'、'.join(used)}）；请指定一个新建的空数据库")
        counts: dict[str, int] = {}
        with source.connect() as reader, target.begin() as writer:
            for table in tables:
                rows = reader.execute(select(table).order_by(*table.primary_key.columns))
                counts[table.name] = 0
                while chunk := rows.fetchmany(batch):
                    writer.execute(table.insert(), [dict(row._mapping) for row in chunk])
                    counts[table.name] += len(chunk)
            if writer.dialect.name == "postgresql":
                # Rows came with their ids: move each id sequence past them.
                for table in tables:
                    if "id" in table.columns and counts[table.name]:
                        writer.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                f"(SELECT max(id) FROM {table.name}))"
                            )
                        )
        return counts
    finally:
        target.dispose()
