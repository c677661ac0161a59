"""Owners: every response and conversation belongs to one (their items, events and jobs follow
them); API keys, stored hashed.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("responses", "conversations"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(120), nullable=False, server_default=""))
    op.create_index("ix_responses_owner_created", "responses", ["owner", "created_at", "pk"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("ix_responses_owner_created", "responses")
    for table in ("conversations", "responses"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner")
