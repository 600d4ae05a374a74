"""Database engines, transactions and schema upgrades (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be used as asked (shown to users in one line)."""


def chunks(items: Iterable[T], size: int = 500) -> Iterator[list[T]]:
    """Yield lists of at most ``size`` items from any iterable, lazily (itertools.batched is 3.12+).

    Bounded IN lists, executemany batches, and streams (the nodes of a national ledger).
    """
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def fetch(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    """Run a Core select and return plain tuples, fetched at once: the path for whole-ledger reads.

    The ORM's row objects and row-by-row iteration cost more than the query on reads of every
    project or every open node (the board, the figures).
    """
    return [tuple(row) for row in session.connection().execute(statement).fetchall()]


@contextmanager
def _driver_cursor(session: Session, sql: str, params: Sequence[Any]) -> Iterator[Any]:
    """Run SQL written with ``?`` placeholders on the driver's own cursor (``%s`` where the driver wants it)."""
    connection = session.connection()
    if connection.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        yield cursor
    finally:
        cursor.close()


def driver_rows(session: Session, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Return a query's rows from the driver's cursor: plain tuples, values as the driver gives them.

    For the day's hot reads (thousands of rows a day): no row objects, no per-value conversion.
    SQLite gives dates as ISO text (``as_date`` reads them), PostgreSQL as dates.
    """
    with _driver_cursor(session, sql, params) as cursor:
        return list(cursor.fetchall())


def driver_execute(session: Session, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement on the driver's cursor; return the rows it touched."""
    with _driver_cursor(session, sql, params) as cursor:
        count: int = cursor.rowcount
        return count


def id_list(ids: Iterable[int]) -> str:
    """Integer ids written into SQL (``1, 2, 3``): only ever ids read from the database, never user input."""
    return ", ".join(str(int(i)) for i in ids)


_DATES: dict[str, dt.date] = {}


def as_date(value: Any) -> dt.date | None:
    """A date column's value as the driver gave it (ISO text on SQLite, a date on PostgreSQL) as a date."""
    if value is None or isinstance(value, dt.date):
        return value
    found = _DATES.get(value)
    if found is None:
        found = _DATES[value] = dt.date.fromisoformat(value)
    return found


def rowcount(result: Any) -> int:
    """How many rows an UPDATE or DELETE touched (the claims of the scheduler, the outbox, the renderer)."""
    count: int = result.rowcount
    return count


def normalise_url(url: str) -> str:
    """Map plain postgresql:// URLs to the psycopg 3 driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _json_dumps(value: Any) -> str:
    # Chinese stays readable in the database (and in anything exported from it).
    return json.dumps(value, ensure_ascii=False)


def make_engine(url: str) -> Engine:
    """Create an engine; on SQLite turn on WAL, foreign keys and write transactions that wait."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 60}, json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: a writer takes the write
            # lock up front, so two writers queue instead of failing halfway.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            if parsed.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA busy_timeout = 60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A reader (``reading``) takes a snapshot without the write lock: in WAL mode it
            # never waits for a writer, and a long import never stalls the web pages.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps)
    raise DatabaseError(
        f"不支持的数据库地址：{parsed.render_as_string(hide_password=True)}（支持 sqlite:/// 与 postgresql+psycopg://）"
    )


WRITER_LOCK = "duban-writer"
#: Execution option that marks a connection as a reader (see ``reading``).
READ_ONLY = "duban_read_only"


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """Open a read-only session on one consistent snapshot, without the writer lock.

    Pages and listings read here, so they never queue behind an import or an evaluation:
    SQLite begins a deferred transaction (WAL readers see the last commit), PostgreSQL a
    REPEATABLE READ READ ONLY one. Nothing is sealed: nothing can be written.
    """
    bound = engine.execution_options(**{READ_ONLY: True})
    with Session(bound, expire_on_commit=False) as session:
        try:
            if engine.dialect.name == "postgresql":
                session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            yield session
        finally:
            session.expunge_all()  # objects read stay usable after the snapshot ends (a rollback would expire them)
            session.rollback()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """Open a session whose work commits together or not at all, sealed into the audit chain.

    Writers take turns: SQLite's BEGIN IMMEDIATE, and on PostgreSQL the same named lock for every
    transaction, so the rows each transaction adds form one id range that it seals before commit.
    """
    from engine.store import audit

    with Session(engine, expire_on_commit=False) as session, session.begin():
        serialise(session, WRITER_LOCK)
        marks = audit.high_water(session)
        yield session
        session.flush()
        audit.seal(session, marks, _utc_now())


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def serialise(session: Session, name: str) -> None:
    """Hold a named writer lock until the transaction ends.

    SQLite needs nothing: BEGIN IMMEDIATE already lets one writer in at a time. PostgreSQL
    writers run side by side, so a read-then-insert (a row that may not exist yet) takes a
    transaction-scoped advisory lock first; the second writer waits, then sees the first's row.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def insert_new(session: Session, table: Table, conflict_on: list[str], values: dict[str, Any]) -> int | None:
    """Insert a row unless one with the same unique key exists; return the new id, or None.

    One statement (INSERT ... ON CONFLICT DO NOTHING) on both backends, so two writers racing
    for the same key cannot both insert and neither fails.
    """
    # The dialect's own insert, imported when first needed: a SQLite run never loads PostgreSQL's.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    statement = (
        dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict_on).returning(table.c.id)
    )
    new_id = session.execute(statement).scalar()
    return int(new_id) if new_id is not None else None


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """Reserve ``count`` primary keys of a table, so rows that reference each other go in with executemany.

    Writers take turns (see ``transaction``), so the ids after the table's current maximum are
    ours on both backends. They are gapless: a transaction killed halfway gives its ids back, and
    the rerun numbers its strikes and notices exactly as an uninterrupted run would (a PostgreSQL
    sequence would have burnt them). The sequence is moved past the block for rows the ORM adds.
    """
    if count == 0:
        return []
    start = (session.execute(text(f"SELECT max(id) FROM {table.name}")).scalar() or 0) + 1
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
            {"table": table.name, "last": start + count - 1},
        )
    return list(range(start, start + count))


def bulk_insert(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    batch: int = 10_000,
) -> int:
    """Insert many rows straight through the driver (executemany; COPY on PostgreSQL); return how many.

    ``rows`` hold the values of ``columns`` in order; ``constants`` are columns that are the same
    in every row (who, when, why), converted once. Values go through each column type's own
    bind conversion, so dates, timestamps and JSON are stored exactly as the ORM stores them.
    This is the path for imports and daily evaluation, where the ORM's per-object cost dominates.
    """
    dialect = session.get_bind().dialect
    constants = dict(constants or {})
    names = [*columns, *constants]
    converters = [_converter(table.c[name].type._cached_bind_processor(dialect)) for name in columns]
    fixed = [
        value
        if value is None or (process := table.c[name].type._cached_bind_processor(dialect)) is None
        else process(value)
        for name, value in constants.items()
    ]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join([mark] * len(names))})"
    )
    connection = session.connection()
    copy = (
        f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
        if dialect.name == "postgresql"
        else None
    )
    total = 0
    for chunk in chunks(rows, batch):
        # Column by column: each column's conversion runs in one tight loop, then zip makes the rows.
        cols: list[Sequence[Any]] = list(zip(*chunk, strict=True))
        for i, convert in enumerate(converters):
            if convert is not None:
                cols[i] = convert(cols[i])
        values = list(zip(*cols, *(repeat(v, len(chunk)) for v in fixed), strict=True))
        if copy is None:
            connection.exec_driver_sql(sql, values)
        else:  # COPY: the fastest way into PostgreSQL, inside the same transaction
            with connection.connection.cursor() as cursor, cursor.copy(copy) as writer:  # type: ignore[attr-defined]
                for row in values:
                    writer.write_row(row)
        total += len(chunk)
    return total


def _converter(process: Callable[[Any], Any] | None) -> Callable[[Sequence[Any]], list[Any]] | None:
    """Wrap a bind processor for whole columns: values seen before (dates, empty JSON) convert once."""
    if process is None:
        return None
    memo: dict[Any, Any] = {}
    empties: dict[type, Any] = {}

    def convert(values: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if value is None:
                out.append(None)
            elif type(value) is dict or type(value) is list:  # JSON: not hashable; the empty one is common
                if value:
                    out.append(process(value))
                else:
                    if type(value) not in empties:
                        empties[type(value)] = process(value)
                    out.append(empties[type(value)])
            else:
                try:
                    out.append(memo[value])
                except KeyError:
                    converted = process(value)
                    if len(memo) < 100_000:
                        memo[value] = converted
                    out.append(converted)
                except TypeError:  # another unhashable value
                    out.append(process(value))
        return out

    return convert


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest revision; return the revision.

    Only the schema and the audit chain's adoption of older rows: the data steps that need the rules
    or the record run after it, in engine/app/upgrade.py (`duban init`).
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    from engine.store import audit

    with Session(engine) as session, session.begin():
        audit.adopt(session, _utc_now())
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision of a database, or None when it has none."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """Return the newest schema revision this version of duban knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


#: The newest revision in engine/store/migrations (a test keeps it equal to Alembic's head). Every
#: command checks it; reading it from here spares each command the import of Alembic.
HEAD_REVISION = "0015"


def require_schema(engine: Engine) -> None:
    """Refuse to work on a database that is not initialised or is out of date."""
    if not inspect(engine).has_table("alembic_version"):
        raise DatabaseError("数据库尚未初始化：请先运行 duban init")
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision != HEAD_REVISION:
        raise DatabaseError("数据库结构不是最新版本：请运行 duban init 升级")
