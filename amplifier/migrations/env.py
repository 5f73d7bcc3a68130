"""Alembic environment: amplifier runs migrations in-process on a connection it hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import amplifier.models  # noqa: F401  (registers the tables)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
