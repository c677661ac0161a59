"""The console: each response's first input and output text and its trace (timings, upstream
calls), and the indexes its filters page by (status, conversation, the response continued;
conversations by time).
Stored responses get their two texts here.

Revision ID: 0010
Revises: 0009
"""

import json
import logging

import sqlalchemy as sa
from alembic import op

from responsa.store.preview import input_text, output_text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 500
log = logging.getLogger("responsa.store")


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("input_text", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("output_text", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("trace", sa.Text))
    op.create_index("ix_responses_status_created", "responses", ["status", "created_at", "pk"])
    op.create_index("ix_responses_conversation_created", "responses", ["conversation_id", "created_at", "pk"])
    op.create_index(
        "ix_responses_previous_created", "responses", ["previous_response_id", "created_at", "pk"]
    )
    op.create_index("ix_conversations_created", "conversations", ["created_at", "id"])
    op.create_index("ix_conversations_owner_created", "conversations", ["owner", "created_at", "id"])
    _trigram_indexes()
    _fill_texts()


def _trigram_indexes() -> None:
    """On PostgreSQL, trigram indexes for the text search (`ILIKE '%word%'` then reads the
    index instead of every row) when the `pg_trgm` extension can be had; without it the
    search reads every row, as it does on SQLite."""
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm is not available (%s): the console's text search reads every row", exc.orig)
        return
    for column in ("input_text", "output_text"):
        op.create_index(
            f"ix_responses_{column}_trgm",
            "responses",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def _fill_texts() -> None:
    conn = op.get_bind()
    table = sa.table(
        "responses",
        sa.column("pk", sa.Integer),
        sa.column("response", sa.Text),
        sa.column("input_items", sa.Text),
        sa.column("input_text", sa.Text),
        sa.column("output_text", sa.Text),
    )
    last = -1
    while True:
        rows = conn.execute(
            sa.select(table.c.pk, table.c.response, table.c.input_items)
            .where(table.c.pk > last)
            .order_by(table.c.pk)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            try:
                output = json.loads(row.response).get("output") or []
                given = json.loads(row.input_items)
            except (ValueError, AttributeError):
                continue
            conn.execute(
                sa.update(table)
                .where(table.c.pk == row.pk)
                .values(input_text=input_text(given), output_text=output_text(output))
            )
        last = rows[-1].pk


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_responses_input_text_trgm")
    op.execute("DROP INDEX IF EXISTS ix_responses_output_text_trgm")
    op.drop_index("ix_conversations_owner_created", "conversations")
    op.drop_index("ix_conversations_created", "conversations")
    op.drop_index("ix_responses_previous_created", "responses")
    op.drop_index("ix_responses_conversation_created", "responses")
    op.drop_index("ix_responses_status_created", "responses")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("trace")
        batch.drop_column("output_text")
        batch.drop_column("input_text")
