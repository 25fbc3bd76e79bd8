"""The interview store: interviews, invite codes, the authoritative history, interviewer notes.

One SQLAlchemy database (SQLite in the private store by default, any URL in production) shared
by the hub process (the invite authenticator consumes codes, the spawner reads which scenario a
candidate gets) and the interview service (everything else). Every write is one short
transaction, so the two processes can share a SQLite file.

Classes:

- ``Interview``: one interview, from invitation to graded report (``state`` below).
- ``Invite``: a one-time, expiring code; only its SHA-256 is stored.
- ``HistoryRecord``: one sealed history event (``mlinterview/history.py``), the authoritative copy.
- ``Note``: an interviewer's note pinned to a moment of the timeline.
- ``InterviewStore``: the session factory and the operations both processes need.
- The hiring panel's tables (co-interviewers, scorecards, vote changes, decisions): ``panel_store.py``.

Schema migrations (Alembic, ``store_migrations/`` next to this file, shipped in the package):
``InterviewStore(url)`` brings the database to ``SCHEMA_REVISION`` when it opens it
(``upgrade_store``). Opening an up-to-date store reads one row of ``interview_store_version`` (not
``alembic_version``: the store may share a PostgreSQL database with JupyterHub, which has its
own); anything else runs in one transaction that holds the migration lock, so the hub and the
service opening a store at once migrate it once. A store made before there were migrations
(its tables, no version table) is stamped at revision 0001, today's schema then, and upgraded.
The models here and the migrations must describe the same schema: tests/store compares them
(alembic's autogenerate) on SQLite and PostgreSQL.

To change the schema: change the model, then add a revision from the checkout's top folder
(``[tool.alembic]`` in pyproject.toml points the ``alembic`` command at ``store_migrations/``)::

    .venv/bin/alembic -x url=sqlite:////tmp/scratch.sqlite upgrade head
    .venv/bin/alembic -x url=sqlite:////tmp/scratch.sqlite revision --autogenerate --rev-id 0003 -m "what changes"

(or ``revision`` without ``--autogenerate`` and write ``upgrade``/``downgrade`` by hand), read the
generated file in ``store_migrations/versions/`` (autogenerate takes a rename for a drop and an
add), make it work on SQLite and PostgreSQL (on SQLite, ``op.batch_alter_table`` for what ALTER
TABLE cannot do), set ``SCHEMA_REVISION`` to the new id, and run tests/store.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from ..history import GENESIS, event_hash, link_problem

CANDIDATE_PREFIX = "cand-"
TIME_OUTS = ("soft", "hard")  # past the time budget: warn and flag the overrun / stop accepting executions
# live: an interviewer watches, the budget is wall-clock time from the start; take_home: the invite
# opens a window to start, the budget is active time (soft) and a hard deadline submits the work
KINDS = ("live", "take_home")

MIGRATIONS_DIR = Path(__file__).with_name("store_migrations")
SCHEMA_REVISION = "0004"  # the newest revision in store_migrations/versions: what these models describe
BASELINE_REVISION = "0001"  # the schema of the stores made before there were migrations
VERSION_TABLE = "interview_store_version"
MIGRATION_LOCK_KEY = int.from_bytes(b"mlinterv", "big")  # PostgreSQL advisory lock of the store's upgrade


class State(str, Enum):
    """Where an interview is. invited -> live -> ending -> ended -> graded (or grading_failed);
    ended before the candidate started: invited -> no_show; called off while invited: cancelled."""

    invited = "invited"  # created; the candidate has not used the invite yet
    live = "live"  # the candidate logged in; the server may be running
    ending = "ending"  # End was pressed: stopping the server, freezing the bundle
    ended = "ended"  # bundle frozen; the grader is running
    graded = "graded"  # report ready
    grading_failed = "grading_failed"  # the grader could not produce a report (its log says why)
    no_show = "no_show"  # ended before the candidate ever started: nothing to freeze or grade
    cancelled = "cancelled"  # called off by the interviewer while still invited; its invite is revoked


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class Base(DeclarativeBase):
    pass


class Interview(Base):
    __tablename__ = "interviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(64))
    kernel: Mapped[str] = mapped_column(String(8), default="cpu")
    time_out: Mapped[str] = mapped_column(String(8), default="soft", server_default="soft")  # one of TIME_OUTS
    kind: Mapped[str] = mapped_column(String(16), default="live", server_default="live")  # one of KINDS
    # take-home only: how long the invite lets the candidate start, and the hard deadline after the start
    start_window_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    candidate_name: Mapped[str] = mapped_column(String(200))
    candidate_user: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    interviewer: Mapped[str] = mapped_column(String(200), index=True)
    # the hiring round it belongs to (free text, default the scenario): what a hiring manager decides on
    hiring_round: Mapped[str | None] = mapped_column(String(200), nullable=True)
    time_budget_minutes: Mapped[int] = mapped_column(Integer)
    data_seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=State.invited.value, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    shared_with: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of interviewers holding a share
    grade_progress: Mapped[str] = mapped_column(Text, default="")
    grade_summary: Mapped[str] = mapped_column(Text, default="{}")  # JSON: metric, bugs fixed, ...

    @property
    def deadline_at(self) -> datetime | None:
        """A started take-home's hard deadline (None for a live interview, or before the start)."""
        if self.kind != "take_home" or self.started_at is None or not self.deadline_hours:
            return None
        return self.started_at + timedelta(hours=self.deadline_hours)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scenario": self.scenario,
            "kernel": self.kernel,
            "kind": self.kind or "live",
            "time_out": self.time_out,
            "start_window_hours": self.start_window_hours,
            "deadline_hours": self.deadline_hours,
            "deadline_at": _iso(self.deadline_at),
            "candidate_name": self.candidate_name,
            "candidate_user": self.candidate_user,
            "interviewer": self.interviewer,
            "hiring_round": self.hiring_round or self.scenario,
            "time_budget_minutes": self.time_budget_minutes,
            "state": self.state,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "ended_by": self.ended_by,
            "grade_progress": self.grade_progress,
            "grade_summary": json.loads(self.grade_summary or "{}"),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


class Invite(Base):
    __tablename__ = "invites"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class HistoryRecord(Base):
    __tablename__ = "history"

    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(Text)  # the sealed event, canonical JSON
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class HistoryDivergence(Base):
    """Events a server sent that do not continue the stored chain: kept, never merged, and shown as
    an alarm (live view, report). Real events are never dropped because something else got in first."""

    __tablename__ = "history_divergence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)  # JSON list of the sealed events as received


DIVERGENCE_LIMIT_BYTES = 16 * 2**20  # what a hostile sender can make the store keep, per interview


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    at_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the timeline moment it is pinned to
    elapsed_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str] = mapped_column(Text)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "time": _iso(self.created_at),
            "at_seq": self.at_seq,
            "elapsed_s": self.elapsed_s,
            "text": self.text,
        }


class InviteRefused(Exception):
    """An invite code cannot be used; ``reason`` is one of unknown, used, expired, revoked, ended."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class HistoryConflict(Exception):
    """Incoming events do not continue the stored chain (a gap, a rewrite or a broken link)."""

    def __init__(self, message: str, stored_seq: int, last_hash: str):
        super().__init__(message)
        self.stored_seq = stored_seq
        self.last_hash = last_hash


class InterviewStore:
    """Operations on the interview database; safe to use from the hub and the service at once."""

    _shared: dict[str, "InterviewStore"] = {}

    @classmethod
    def shared(cls, url: str) -> "InterviewStore":
        """One store (one connection pool) per URL in this process: every spawner and the authenticator share it."""
        if url not in cls._shared:
            cls._shared[url] = cls(url)
        return cls._shared[url]

    def __init__(self, url: str):
        self.url = url
        self.engine = store_engine(url)
        try:
            upgrade_store(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- interviews ------------------------------------------------------------------------------
    def create_interview(
        self,
        *,
        scenario: str,
        kernel: str,
        candidate_name: str,
        interviewer: str,
        time_budget_minutes: int,
        invite_ttl: timedelta,
        data_seed: int | None = None,
        time_out: str = "soft",
        hiring_round: str = "",
        kind: str = "live",
        deadline_hours: int | None = None,
    ) -> tuple[Interview, str]:
        """A new interview and its invite code (the code is returned once, only its hash is kept).
        A take-home's invite lasts its start window (``invite_ttl``); ``deadline_hours`` runs from its start."""
        if time_out not in TIME_OUTS:
            raise ValueError(f"time_out must be one of {', '.join(TIME_OUTS)}, not {time_out!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "take_home" and not (deadline_hours and deadline_hours > 0):
            raise ValueError("a take-home needs a deadline (hours after its start)")
        interview_id = uuid.uuid4().hex[:12]
        interview = Interview(
            id=interview_id,
            scenario=scenario,
            kernel=kernel,
            candidate_name=candidate_name.strip(),
            candidate_user=f"{CANDIDATE_PREFIX}{interview_id[:8]}",
            interviewer=interviewer,
            time_budget_minutes=int(time_budget_minutes),
            data_seed=data_seed,
            time_out=time_out,
            hiring_round=(hiring_round or "").strip()[:200] or scenario,
            state=State.invited.value,
            kind=kind,
            start_window_hours=max(1, round(invite_ttl.total_seconds() / 3600)) if kind == "take_home" else None,
            deadline_hours=int(deadline_hours) if kind == "take_home" else None,
        )
        with self.session.begin() as db:
            db.add(interview)
            db.flush()
            code = self._new_invite(db, interview_id, invite_ttl)
        return interview, code

    def _new_invite(self, db, interview_id: str, ttl: timedelta) -> str:
        code = secrets.token_urlsafe(24)
        now = utcnow()
        db.execute(update(Invite).where(Invite.interview_id == interview_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None)).values(revoked_at=now))
        db.add(Invite(code_hash=hash_code(code), interview_id=interview_id, created_at=now, expires_at=now + ttl))
        return code

    def reissue_invite(self, interview_id: str, ttl: timedelta) -> str:
        """Revoke the interview's open invite (if any) and make a new one."""
        with self.session.begin() as db:
            return self._new_invite(db, interview_id, ttl)

    def revoke_invites(self, interview_id: str) -> int:
        with self.session.begin() as db:
            result = db.execute(
                update(Invite)
                .where(Invite.interview_id == interview_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            return result.rowcount

    def get(self, interview_id: str) -> Interview | None:
        with self.session() as db:
            return db.get(Interview, interview_id)

    def for_candidate(self, candidate_user: str) -> Interview | None:
        with self.session() as db:
            return db.scalars(select(Interview).where(Interview.candidate_user == candidate_user)).first()

    def list(self, interviewer: str | None = None, rounds: Iterable[str] = ()) -> list[Interview]:
        """All interviews, newest first; only those ``interviewer`` runs or sits on the panel of, when
        given, and those of the hiring ``rounds`` (an interview without a round is in its scenario's)."""
        from .panel_store import PanelMember

        rounds = list(rounds)
        with self.session() as db:
            query = select(Interview).order_by(Interview.created_at.desc())
            if interviewer is not None:
                on_panel = select(PanelMember.interview_id).where(PanelMember.user == interviewer)
                in_rounds = func.coalesce(Interview.hiring_round, Interview.scenario).in_(rounds)
                query = query.where(or_(Interview.interviewer == interviewer, Interview.id.in_(on_panel), *([in_rounds] if rounds else [])))
            return list(db.scalars(query))

    def in_states(self, *states: State) -> list[Interview]:
        with self.session() as db:
            return list(db.scalars(select(Interview).where(Interview.state.in_([s.value for s in states]))))

    def take_homes_due(self, now: datetime | None = None) -> tuple[list[str], list[str]]:
        """Take-homes whose time is over: (live ones past their deadline, invited ones whose start
        window closed: no invite left that could still start them)."""
        now = now or utcnow()
        with self.session() as db:
            live = db.scalars(select(Interview).where(Interview.kind == "take_home", Interview.state == State.live.value))
            overdue = [interview.id for interview in live if interview.deadline_at is not None and interview.deadline_at <= now]
            open_invite = select(Invite.interview_id).where(Invite.used_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > now)
            closed = list(db.scalars(select(Interview.id).where(
                Interview.kind == "take_home", Interview.state == State.invited.value, Interview.id.not_in(open_invite))))
        return overdue, closed

    def set_state(self, interview_id: str, state: State, *, only_from: Iterable[State] | None = None, **fields) -> bool:
        """Move an interview to ``state`` (only from the given states, when given); True if it moved."""
        with self.session.begin() as db:
            query = update(Interview).where(Interview.id == interview_id)
            if only_from is not None:
                query = query.where(Interview.state.in_([s.value for s in only_from]))
            return db.execute(query.values(state=state.value, **fields)).rowcount == 1

    def update(self, interview_id: str, **fields) -> None:
        with self.session.begin() as db:
            db.execute(update(Interview).where(Interview.id == interview_id).values(**fields))

    # -- invites ---------------------------------------------------------------------------------
    def consume_invite(self, code: str) -> Interview:
        """Use an invite code once: returns its interview (now live) or raises InviteRefused."""
        now = utcnow()
        with self.session.begin() as db:
            invite = db.get(Invite, hash_code(code))
            if invite is None:
                raise InviteRefused("unknown")
            interview = db.get(Interview, invite.interview_id)
            if invite.revoked_at is not None:
                raise InviteRefused("revoked")
            if invite.used_at is not None:
                raise InviteRefused("used")
            if invite.expires_at <= now:
                raise InviteRefused("expired")
            if interview is None or interview.state not in (State.invited.value, State.live.value):
                raise InviteRefused("ended")
            # compare-and-set, so two browsers racing on one code cannot both get in
            used = db.execute(
                update(Invite).where(Invite.code_hash == invite.code_hash, Invite.used_at.is_(None)).values(used_at=now)
            ).rowcount
            if used != 1:
                raise InviteRefused("used")
            if interview.state == State.invited.value:
                interview.state = State.live.value
                interview.started_at = now
            return interview

    # -- history ---------------------------------------------------------------------------------
    @staticmethod
    def _head(db, interview_id: str) -> tuple[int, str]:
        row = db.execute(
            select(HistoryRecord.seq, HistoryRecord.hash)
            .where(HistoryRecord.interview_id == interview_id)
            .order_by(HistoryRecord.seq.desc())
            .limit(1)
        ).first()
        return (row.seq, row.hash) if row else (-1, GENESIS)

    def history_head(self, interview_id: str) -> tuple[int, str]:
        """(last stored seq, its hash); (-1, GENESIS) when nothing is stored."""
        with self.session() as db:
            return self._head(db, interview_id)

    def append_history(self, interview_id: str, events: list[dict[str, Any]]) -> int:
        """Store sealed events that continue the chain; returns the last stored seq.

        Events already stored (same seq, same hash) are acknowledged again, so a client may resend
        after a lost reply; events after a gap are not stored (the returned seq tells the sender
        where to resend from). An event that differs from the stored one with its seq, a broken
        link or a bad hash raises HistoryConflict: the stored history is append-only.
        """
        with self.session.begin() as db:
            last_seq, last_hash = self._head(db, interview_id)
            for position, sealed in enumerate(events):
                seq = sealed.get("seq")
                if not isinstance(seq, int) or isinstance(seq, bool):
                    raise HistoryConflict(f"event {position}: 'seq' is missing or not an integer", last_seq, last_hash)
                if seq <= last_seq:
                    stored = db.get(HistoryRecord, (interview_id, seq))
                    if stored is not None and stored.hash == sealed.get("hash") and event_hash(sealed) == sealed.get("hash"):
                        continue  # a resend of what is already stored
                    raise HistoryConflict(
                        f"event seq {seq} differs from the stored event with that seq: the history is append-only",
                        last_seq,
                        last_hash,
                    )
                if seq != last_seq + 1:
                    # a gap (events lost in transit): keep what continues the chain and answer with
                    # the stored seq, so the sender resends from there
                    break
                problem = link_problem(sealed, last_seq, last_hash)
                if problem:
                    raise HistoryConflict(problem, last_seq, last_hash)
                db.add(
                    HistoryRecord(
                        interview_id=interview_id,
                        seq=seq,
                        hash=sealed["hash"],
                        kind=str(sealed.get("kind")),
                        event=json.dumps(sealed, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                    )
                )
                last_seq, last_hash = seq, sealed["hash"]
            return last_seq

    def record_divergence(self, interview_id: str, reason: str, events: list[dict[str, Any]]) -> bool:
        """Keep events that conflicted with the chain (bounded per interview); True when kept."""
        text = json.dumps(events, sort_keys=True, ensure_ascii=False)
        with self.session.begin() as db:
            kept = db.scalar(select(func.coalesce(func.sum(func.length(HistoryDivergence.events)), 0)).where(
                HistoryDivergence.interview_id == interview_id))
            if kept + len(text) > DIVERGENCE_LIMIT_BYTES:
                return False
            db.add(HistoryDivergence(interview_id=interview_id, reason=reason, events=text))
            return True

    def divergences(self, interview_id: str) -> list[dict[str, Any]]:
        """The conflicting batches received for an interview, oldest first."""
        with self.session() as db:
            rows = db.scalars(select(HistoryDivergence).where(HistoryDivergence.interview_id == interview_id).order_by(HistoryDivergence.id))
            return [{"received_at": _iso(row.received_at), "reason": row.reason, "events": json.loads(row.events)} for row in rows]

    def history(self, interview_id: str, after: int = -1, limit: int | None = None) -> list[dict[str, Any]]:
        """Stored events with seq > ``after``, in order."""
        with self.session() as db:
            query = (
                select(HistoryRecord.event)
                .where(HistoryRecord.interview_id == interview_id, HistoryRecord.seq > after)
                .order_by(HistoryRecord.seq)
            )
            if limit:
                query = query.limit(limit)
            return [json.loads(text) for text in db.scalars(query)]

    # -- notes -----------------------------------------------------------------------------------
    def add_note(self, interview_id: str, author: str, text: str, at_seq: int | None, elapsed_s: float | None) -> Note:
        with self.session.begin() as db:
            note = Note(interview_id=interview_id, author=author, text=text.strip(), at_seq=at_seq, elapsed_s=elapsed_s)
            db.add(note)
            db.flush()
            return note

    def notes(self, interview_id: str) -> list[Note]:
        with self.session() as db:
            return list(db.scalars(select(Note).where(Note.interview_id == interview_id).order_by(Note.id)))


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets the hub read while the service writes; the busy timeout waits instead of failing.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# -- the engine and the schema's migrations ------------------------------------------------------
def store_engine(url: str) -> Engine:
    """The engine of a store URL: SQLite with WAL and a busy timeout, anything else as given."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # a server's connections can be cut under a long-running service (a restart, an idle timeout)
    return create_engine(url, pool_pre_ping=True)


def migration_options(connection: Connection) -> dict[str, Any]:
    """Alembic's ``configure`` options for the store (store_migrations/env.py and the drift test)."""
    return {
        "version_table": VERSION_TABLE,
        "include_name": _is_store_table,
        "compare_type": True,
        "compare_server_default": True,
        "render_as_batch": connection.dialect.name == "sqlite",
    }


def _is_store_table(name: str | None, type_: str, _parent_names) -> bool:
    # a database shared with other applications (JupyterHub's tables): autogenerate leaves theirs alone
    return type_ != "table" or name in Base.metadata.tables


def migration_config(connection: Connection | None = None):
    """Alembic's Config, made in code (no alembic.ini at run time): the shipped store_migrations/."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@contextmanager
def migration_transaction(connection: Connection) -> Iterator[None]:
    """One transaction for a whole upgrade, holding the store's migration lock until it commits.

    SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock at once (pysqlite would not even
    send a BEGIN before DDL), so a second opener waits there (busy timeout) until this upgrade has
    committed, then finds the store up to date; SQLite's DDL is transactional, so a failed upgrade
    leaves nothing half done. PostgreSQL: its DDL is transactional too, but two transactions
    creating the same tables at once would fail, not wait: ``pg_advisory_xact_lock`` serialises
    the upgrades of one database and is released by the commit.
    """
    with connection.begin():
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            # a table rebuild (batch migration) drops and recreates tables others refer to: check
            # the foreign keys at the commit, not in between
            connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        elif connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        yield


def store_revision(connection: Connection) -> str | None:
    """The store's schema revision (None: no version table, or an empty one)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


# alembic's ``context`` is one module-wide proxy: one upgrade at a time in a process
_UPGRADE_IN_PROCESS = threading.Lock()


def upgrade_store(engine: Engine) -> None:
    """Bring the store to SCHEMA_REVISION; a store already there costs one query."""
    with engine.connect() as connection:
        if store_revision(connection) == SCHEMA_REVISION:
            return
    from alembic import command
    from alembic.script import ScriptDirectory

    with _UPGRADE_IN_PROCESS, engine.connect() as connection, migration_transaction(connection):
        current = store_revision(connection)  # again, under the lock: another process may have done it
        if current == SCHEMA_REVISION:
            return
        config = migration_config(connection)
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if current is not None and current not in known:
            raise RuntimeError(f"the interview store {engine.url!r} is at schema revision {current}, which this "
                               f"mlinterview does not know (it knows up to {SCHEMA_REVISION}): a newer version upgraded it")
        if current is None and inspect(connection).has_table(Interview.__tablename__):
            command.stamp(config, BASELINE_REVISION)  # made by create_all before there were migrations
        command.upgrade(config, SCHEMA_REVISION)


# the hiring panel's tables (co-interviewers, scorecards, vote changes, decisions) share Base
from . import panel_store  # noqa: E402,F401
