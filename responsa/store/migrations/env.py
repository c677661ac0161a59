"""Alembic environment: migrations run on the connection `SqlStore.start()` hands over."""

from alembic import context

from responsa.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
