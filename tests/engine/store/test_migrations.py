"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import engine.store.models  # noqa: F401  (registers the tables)
from engine.store.db import make_engine, upgrade


def test_migrations_match_the_models(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_the_head_revision_constant_is_alembics_head():
    from engine.store.db import HEAD_REVISION, head_revision

    assert head_revision() == HEAD_REVISION
