"""Prompt templates (`/v1/prompts`): prompts, and their numbered versions.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("pk", Serial, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(80), nullable=False, unique=True),
        sa.Column("owner", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("default_version", sa.Integer, nullable=False),
    )
    op.create_index("ix_prompts_owner_created", "prompts", ["owner", "created_at", "pk"])
    op.create_index("ix_prompts_created", "prompts", ["created_at", "pk"])
    op.create_table(
        "prompt_versions",
        sa.Column(
            "prompt_id", sa.String(80), sa.ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("variables", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("prompt_versions")
    op.drop_index("ix_prompts_created", "prompts")
    op.drop_index("ix_prompts_owner_created", "prompts")
    op.drop_table("prompts")
