"""drop the index of variant.post_id

It leads the unique (post_id, account_id) index, which serves the same lookups. It was
kept for re-plans, whose reads of a post's variants were quicker through the narrower
index; since the plan state (0007) a re-plan of unchanged input reads no variant, and the
extra index cost every insert (measured: a 100,000-variant plan 6.13 → 5.74 s median).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 22:40:00.000000
"""

from __future__ import annotations

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_variant_post_id', table_name='variant')


def downgrade() -> None:
    op.create_index('ix_variant_post_id', 'variant', ['post_id'], unique=False)
