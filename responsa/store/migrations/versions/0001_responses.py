"""Responses with their input items and upstream messages.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("pk", Serial, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(80), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("previous_response_id", sa.String(80)),
        sa.Column("conversation_id", sa.String(80)),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("input_items", sa.Text, nullable=False),
        sa.Column("messages", sa.Text, nullable=False),
    )
    op.create_index("ix_responses_created", "responses", ["created_at", "pk"])
    op.create_index("ix_responses_model_created", "responses", ["model", "created_at", "pk"])


def downgrade() -> None:
    op.drop_table("responses")
