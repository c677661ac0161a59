"""Uploaded files (`/v1/files`): their metadata, and their bytes when they live in the database.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("pk", Serial, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(80), nullable=False, unique=True),
        sa.Column("owner", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
    )
    op.create_index("ix_files_owner_created", "files", ["owner", "created_at", "pk"])
    op.create_index("ix_files_created", "files", ["created_at", "pk"])
    op.create_table(
        "file_contents",
        sa.Column("file_id", sa.String(80), sa.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("file_contents")
    op.drop_index("ix_files_created", "files")
    op.drop_index("ix_files_owner_created", "files")
    op.drop_table("files")
