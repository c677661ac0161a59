"""Vector stores: stores, their files and file batches, chunks with their vectors, a full-text
index over the chunks (FTS5 on SQLite; on PostgreSQL a stored `to_tsvector` column, GIN-indexed), and a `kind`
on background jobs (`response`, or `ingest`: a file to read into a store).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("background_jobs") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="response"))
    op.create_table(
        "vector_stores",
        sa.Column("pk", Serial, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(80), nullable=False, unique=True),
        sa.Column("owner", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("expires_after", sa.Text),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("last_active_at", sa.BigInteger),
        sa.Column("embedding_model", sa.String(256), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_vector_stores_owner_created", "vector_stores", ["owner", "created_at", "pk"])
    op.create_table(
        "vector_store_batches",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("vector_store_id", sa.String(80), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "vector_store_files",
        sa.Column("pk", Serial, primary_key=True, autoincrement=True),
        sa.Column("vector_store_id", sa.String(80), nullable=False),
        sa.Column("file_id", sa.String(80), nullable=False),
        sa.Column("batch_id", sa.String(80)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("chunking", sa.Text, nullable=False),
        sa.Column("usage_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("vector_store_id", "file_id", name="uq_vector_store_files"),
        sa.Index("ix_vector_store_files_batch", "batch_id"),
    )
    op.create_table(
        "vector_store_chunks",
        sa.Column("pk", Serial, primary_key=True, autoincrement=True),
        sa.Column("vector_store_id", sa.String(80), nullable=False),
        sa.Column("file_id", sa.String(80), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian
        sa.Index("ix_vector_store_chunks_file", "vector_store_id", "file_id", "position"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE vector_store_chunks_fts USING fts5(text, vector_store_id UNINDEXED)")
    else:
        # Stored, so ranking reads the vector instead of parsing every matching chunk again.
        op.execute(
            "ALTER TABLE vector_store_chunks ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        op.execute("CREATE INDEX ix_vector_store_chunks_fts ON vector_store_chunks USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE vector_store_chunks_fts")
    op.drop_table("vector_store_chunks")
    op.drop_table("vector_store_files")
    op.drop_table("vector_store_batches")
    op.drop_index("ix_vector_stores_owner_created", "vector_stores")
    op.drop_table("vector_stores")
    with op.batch_alter_table("background_jobs") as batch:
        batch.drop_column("kind")
