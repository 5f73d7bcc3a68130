"""drop the indexes of variant.post_id and delivery.variant_id

Each is the leading column of a unique constraint, (post_id, account_id) and
(variant_id, attempt), whose index serves the same lookups; the extra index only
cost every insert.

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
    op.drop_index('ix_variant_post_id', table_name='variant')
    op.drop_index('ix_delivery_variant_id', table_name='delivery')


def downgrade() -> None:
    op.create_index('ix_delivery_variant_id', 'delivery', ['variant_id'], unique=False)
    op.create_index('ix_variant_post_id', 'variant', ['post_id'], unique=False)
