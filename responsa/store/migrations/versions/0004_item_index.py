"""Items findable by id (for `item_reference` inputs), and server keys.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_items",
        sa.Column("item_id", sa.String(120), primary_key=True),
        sa.Column("response_id", sa.String(80), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_response_items_response", "response_items", ["response_id"])
    op.create_index("ix_conversation_items_item_id", "conversation_items", ["id"])
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_keys")
    op.drop_index("ix_conversation_items_item_id", "conversation_items")
    op.drop_table("response_items")
