"""The hiring panel: interviews.hiring_round, co-interviewers, scorecards, vote changes, decisions.

Interviews that exist already belong to the round named after their scenario (what a new
interview gets when no round is given).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("interviews", sa.Column("hiring_round", sa.String(200), nullable=True))
    op.execute("UPDATE interviews SET hiring_round = scenario")
    op.create_table(
        "panel_members",
        sa.Column("interview_id", sa.String(32), sa.ForeignKey("interviews.id"), primary_key=True),
        sa.Column("user", sa.String(200), primary_key=True),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_panel_members_user", "panel_members", ["user"])
    op.create_table(
        "scorecards",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("interview_id", sa.String(32), sa.ForeignKey("interviews.id"), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("ratings", sa.Text(), nullable=False),
        sa.Column("recommendation", sa.String(16), nullable=True),
        sa.Column("confidence", sa.String(8), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("interview_id", "author", name="uq_scorecards_interview_author"),
    )
    op.create_index("ix_scorecards_interview_id", "scorecards", ["interview_id"])
    op.create_table(
        "vote_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("scorecard_id", sa.Integer(), sa.ForeignKey("scorecards.id"), nullable=False),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("previous_confidence", sa.String(8), nullable=False),
        sa.Column("recommendation", sa.String(16), nullable=False),
        sa.Column("confidence", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_vote_changes_scorecard_id", "vote_changes", ["scorecard_id"])
    op.create_table(
        "hiring_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("interview_id", sa.String(32), sa.ForeignKey("interviews.id"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_hiring_decisions_interview_id", "hiring_decisions", ["interview_id"])


def downgrade() -> None:
    for table in ("hiring_decisions", "vote_changes", "scorecards", "panel_members"):
        op.drop_table(table)  # their indexes go with them
    op.drop_column("interviews", "hiring_round")
