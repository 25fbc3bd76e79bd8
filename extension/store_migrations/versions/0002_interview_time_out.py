"""interviews.time_out: whether running past the time budget is 'soft' or 'hard'.

soft: warn, keep recording, flag the overrun; hard: stop accepting executions. Interviews that
exist already get 'soft' (what the service did before the choice existed).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on both SQLite and PostgreSQL: the server default fills the rows there are
    op.add_column("interviews", sa.Column("time_out", sa.String(8), nullable=False, server_default="soft"))


def downgrade() -> None:
    # SQLite drops a plain column in place since 3.35 (no table rebuild, so foreign keys stay as they are)
    op.drop_column("interviews", "time_out")
