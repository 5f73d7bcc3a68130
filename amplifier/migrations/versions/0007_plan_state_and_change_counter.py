"""plan state and change counter: a re-plan of unchanged input compares nothing

``plan_state`` holds, per scope of a plan, the digest of what it read and the summary
a re-plan of unchanged input reports; ``change_counter`` counts the statements that wrote
the variant table, so that the digest sees any write since.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import amplifier.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('updated_at', amplifier.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope')
    )
    counters = op.create_table('change_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.bulk_insert(counters, [{'id': 1, 'name': 'variant', 'count': 0}])


def downgrade() -> None:
    op.drop_table('change_counter')
    op.drop_table('plan_state')
