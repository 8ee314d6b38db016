"""Phone numbers: searches, held and owned numbers, long-running operations.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "number_searches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("number_type", sa.String(16), nullable=False),
        sa.Column("assignment_type", sa.String(16), nullable=False),
        sa.Column("calling", sa.String(24), nullable=False),
        sa.Column("sms", sa.String(24), nullable=False),
        sa.Column("area_code", sa.String(8), nullable=False, server_default=""),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("numbers", sa.JSON, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "phone_numbers",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("search_id", sa.String(36), nullable=True),
        sa.Column("hold_expires_at", sa.Float, nullable=True),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("number_type", sa.String(16), nullable=False),
        sa.Column("assignment_type", sa.String(16), nullable=False),
        sa.Column("calling", sa.String(24), nullable=False),
        sa.Column("sms", sa.String(24), nullable=False),
        sa.Column("offered_calling", sa.String(24), nullable=False),
        sa.Column("offered_sms", sa.String(24), nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("purchased_at", sa.Float, nullable=True),
    )
    op.create_index("ix_phone_numbers_search", "phone_numbers", ["search_id"])
    op.create_index("ix_phone_numbers_state", "phone_numbers", ["state", "number"])
    op.create_table(
        "number_operations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("number_operations")
    op.drop_index("ix_phone_numbers_state", "phone_numbers")
    op.drop_index("ix_phone_numbers_search", "phone_numbers")
    op.drop_table("phone_numbers")
    op.drop_table("number_searches")
