"""Conversations and their items, with a per-conversation turn lease.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("next_position", sa.BigInteger, nullable=False),
        sa.Column("turn_owner", sa.String(80)),
        sa.Column("turn_expires_at", sa.Float),
    )
    op.create_table(
        "conversation_items",
        sa.Column("pk", Serial, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(80),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("item", sa.Text, nullable=False),
        sa.UniqueConstraint("conversation_id", "id", name="uq_conversation_items_id"),
    )
    op.create_index("ix_conversation_items_position", "conversation_items", ["conversation_id", "position"])


def downgrade() -> None:
    op.drop_table("conversation_items")
    op.drop_table("conversations")
