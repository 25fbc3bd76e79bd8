"""Alembic's environment for the interview store (``mlinterview.extension.service_store``).

Two ways in:

- ``InterviewStore(url)`` (every open): ``upgrade_store`` passes its connection in
  ``config.attributes["connection"]``, already inside the migration transaction and holding the
  migration lock; this file only runs the migrations on it.
- the ``alembic`` command line from the checkout (``[tool.alembic]`` in pyproject.toml), with the
  store's URL as ``-x url=...``: a connection of its own, in the same locked transaction.
"""

from alembic import context

from mlinterview.extension.service_store import Base, migration_options, migration_transaction, store_engine

config = context.config


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, **migration_options(connection))
    with context.begin_transaction():
        context.run_migrations()


def run_from_the_command_line() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("give the interview store's URL: alembic -x url=sqlite:////path/to/interviews.sqlite ...")
    engine = store_engine(url)
    try:
        with engine.connect() as connection, migration_transaction(connection):
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the interview store's migrations run against a database (no --sql mode)")
elif config.attributes.get("connection") is not None:
    run_migrations(config.attributes["connection"])
else:
    run_from_the_command_line()
