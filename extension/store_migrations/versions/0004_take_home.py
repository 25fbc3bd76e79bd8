"""Take-home interviews: interviews.kind, start_window_hours, deadline_hours.

Interviews that exist already are live ones.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("interviews", sa.Column("kind", sa.String(16), nullable=False, server_default="live"))
    op.add_column("interviews", sa.Column("start_window_hours", sa.Integer(), nullable=True))
    op.add_column("interviews", sa.Column("deadline_hours", sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in ("deadline_hours", "start_window_hours", "kind"):
        op.drop_column("interviews", column)
