"""drop the index of delivery.variant_id

It is the leading column of the unique constraint (variant_id, attempt), whose index
serves the same lookups; the extra index only cost every delivery insert.
(variant.post_id keeps its index, although it leads (post_id, account_id): the reads
of a post's variants are quicker through the narrower index.)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 17:40:00.000000
"""

from __future__ import annotations

from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_delivery_variant_id', table_name='delivery')


def downgrade() -> None:
    op.create_index('ix_delivery_variant_id', 'delivery', ['variant_id'], unique=False)
