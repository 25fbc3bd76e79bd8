"""The interview store's schema migrations (extension/store_migrations/), on SQLite and PostgreSQL.

- the migrations build exactly what the models describe (alembic's autogenerate finds nothing);
- a store made before there were migrations (``create_all``'s tables, frozen below as they were,
  with data in them) is stamped at revision 0001 and upgraded, nothing lost;
- processes opening a fresh store at once migrate it once and all work;
- an up-to-date store opens without running Alembic; a store from a newer version is refused;
- the migrations go down and up again; the command line the docstring documents works.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from mlinterview.extension.service_store import (
    BASELINE_REVISION,
    SCHEMA_REVISION,
    VERSION_TABLE,
    Base,
    InterviewStore,
    hash_code,
    migration_config,
    migration_options,
    migration_transaction,
    store_revision,
    utcnow,
)
from mlinterview.history import HistoryChain

# The schema InterviewStore made with Base.metadata.create_all before there were migrations
# (SQLAlchemy's DDL for it); {timestamp} and {serial} are the two places the dialects differ.
STORE_BEFORE_MIGRATIONS = """
CREATE TABLE interviews (
    id VARCHAR(32) NOT NULL, scenario VARCHAR(64) NOT NULL, kernel VARCHAR(8) NOT NULL,
    candidate_name VARCHAR(200) NOT NULL, candidate_user VARCHAR(64) NOT NULL, interviewer VARCHAR(200) NOT NULL,
    time_budget_minutes INTEGER NOT NULL, data_seed INTEGER, state VARCHAR(16) NOT NULL,
    created_at {timestamp} NOT NULL, started_at {timestamp}, ended_at {timestamp}, ended_by VARCHAR(200),
    shared_with TEXT NOT NULL, grade_progress TEXT NOT NULL, grade_summary TEXT NOT NULL,
    PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_interviews_candidate_user ON interviews (candidate_user);
CREATE INDEX ix_interviews_interviewer ON interviews (interviewer);
CREATE INDEX ix_interviews_state ON interviews (state);
CREATE TABLE history (
    interview_id VARCHAR(32) NOT NULL, seq INTEGER NOT NULL, hash VARCHAR(64) NOT NULL, kind VARCHAR(32) NOT NULL,
    event TEXT NOT NULL, received_at {timestamp} NOT NULL,
    PRIMARY KEY (interview_id, seq), FOREIGN KEY(interview_id) REFERENCES interviews (id)
);
CREATE TABLE history_divergence (
    id {serial} NOT NULL, interview_id VARCHAR(32) NOT NULL, received_at {timestamp} NOT NULL,
    reason TEXT NOT NULL, events TEXT NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(interview_id) REFERENCES interviews (id)
);
CREATE INDEX ix_history_divergence_interview_id ON history_divergence (interview_id);
CREATE TABLE invites (
    code_hash VARCHAR(64) NOT NULL, interview_id VARCHAR(32) NOT NULL, created_at {timestamp} NOT NULL,
    expires_at {timestamp} NOT NULL, used_at {timestamp}, revoked_at {timestamp},
    PRIMARY KEY (code_hash), FOREIGN KEY(interview_id) REFERENCES interviews (id)
);
CREATE INDEX ix_invites_interview_id ON invites (interview_id);
CREATE TABLE notes (
    id {serial} NOT NULL, interview_id VARCHAR(32) NOT NULL, author VARCHAR(200) NOT NULL, created_at {timestamp} NOT NULL,
    at_seq INTEGER, elapsed_s FLOAT, text TEXT NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(interview_id) REFERENCES interviews (id)
);
CREATE INDEX ix_notes_interview_id ON notes (interview_id)
"""
DIALECT_TYPES = {
    "sqlite": {"timestamp": "DATETIME", "serial": "INTEGER"},
    "postgresql": {"timestamp": "TIMESTAMP WITHOUT TIME ZONE", "serial": "SERIAL"},
}


@contextmanager
def connected(url: str):
    """A connection of its own to the store's database (not the store's pool), disposed after."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def schema_differences(url: str) -> list:
    with connected(url) as connection:
        return compare_metadata(MigrationContext.configure(connection, opts=migration_options(connection)), Base.metadata)


def revision_and_rows(url: str) -> tuple[str | None, int]:
    with connected(url) as connection:
        return store_revision(connection), connection.scalar(text(f"SELECT count(*) FROM {VERSION_TABLE}"))


def test_the_migrations_build_what_the_models_describe(store_url):
    InterviewStore(store_url).close()
    assert schema_differences(store_url) == []
    assert revision_and_rows(store_url) == (SCHEMA_REVISION, 1)
    # SCHEMA_REVISION names the newest migration, one line of history
    assert ScriptDirectory.from_config(migration_config()).get_heads() == [SCHEMA_REVISION]


def execute_request(i: int) -> dict:
    return {"time": "2026-11-30T10:06:00Z", "session": "s", "kind": "execute_request", "user": "cand", "role": "candidate",
            "msg_id": f"m{i}", "code": f"x = {i}"}


def make_store_before_migrations(url: str, code: str) -> tuple[dict, list[dict]]:
    """Today's schema with an interview, its invite, history, a note and a divergence in it."""
    interview = {"id": "legacy000001", "scenario": "churn", "kernel": "gpu", "candidate_name": "Ada Legacy",
                 "candidate_user": "cand-legacy00", "interviewer": "alice", "time_budget_minutes": 45, "data_seed": 7,
                 "state": "live", "created_at": datetime(2026, 11, 30, 10, 0), "started_at": datetime(2026, 11, 30, 10, 5),
                 "ended_at": None, "ended_by": None, "shared_with": '["bob"]', "grade_progress": "", "grade_summary": "{}"}
    chain = HistoryChain()
    events = [chain.append(execute_request(i)) for i in range(3)]
    with connected(url) as connection, connection.begin():
        for statement in STORE_BEFORE_MIGRATIONS.format(**DIALECT_TYPES[connection.dialect.name]).split(";"):
            connection.exec_driver_sql(statement)
        columns = ", ".join(interview)
        connection.execute(text(f"INSERT INTO interviews ({columns}) VALUES ({', '.join(':' + c for c in interview)})"), interview)
        connection.execute(text("INSERT INTO invites VALUES (:code_hash, :interview, :created, :expires, NULL, NULL)"),
                           {"code_hash": hash_code(code), "interview": interview["id"], "created": interview["created_at"],
                            "expires": utcnow() + timedelta(days=2)})
        connection.execute(text("INSERT INTO history VALUES (:interview, :seq, :hash, :kind, :event, :received)"), [
            {"interview": interview["id"], "seq": event["seq"], "hash": event["hash"], "kind": event["kind"],
             "event": json.dumps(event, sort_keys=True),
             "received": interview["started_at"]} for event in events])
        connection.execute(text("INSERT INTO notes (interview_id, author, created_at, at_seq, elapsed_s, text) "
                                "VALUES (:interview, 'alice', :created, 1, 61.5, 'good question')"),
                           {"interview": interview["id"], "created": interview["started_at"]})
        connection.execute(text("INSERT INTO history_divergence (interview_id, received_at, reason, events) "
                                "VALUES (:interview, :received, 'a gap', '[]')"),
                           {"interview": interview["id"], "received": interview["started_at"]})
    return interview, events


def test_a_store_from_before_migrations_is_stamped_and_upgraded_with_nothing_lost(store_url):
    code = "legacy-invite-code"
    before, events = make_store_before_migrations(store_url, code)
    store = InterviewStore(store_url)
    try:
        assert revision_and_rows(store_url) == (SCHEMA_REVISION, 1)
        interview = store.get(before["id"]).to_json()
        assert interview["time_out"] == "soft"
        assert {key: interview[key] for key in ("kernel", "candidate_name", "candidate_user", "time_budget_minutes", "state")} == {
            "kernel": "gpu", "candidate_name": "Ada Legacy", "candidate_user": "cand-legacy00", "time_budget_minutes": 45, "state": "live"}
        assert interview["started_at"] == "2026-11-30T10:05:00Z" and store.get(before["id"]).data_seed == 7
        assert store.history(before["id"]) == events
        assert store.history_head(before["id"]) == (2, events[-1]["hash"])
        assert [(note.text, note.at_seq, note.elapsed_s) for note in store.notes(before["id"])] == [("good question", 1, 61.5)]
        assert [divergence["reason"] for divergence in store.divergences(before["id"])] == ["a gap"]
        assert store.consume_invite(code).id == before["id"]  # the stored invite still logs in
        # and the store goes on: new rows in the old tables, the new column
        more = [HistoryChain(2, events[-1]["hash"]).append(execute_request(3))]
        assert store.append_history(before["id"], more) == 3
        hard, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name="New", interviewer="alice",
                                         time_budget_minutes=30, invite_ttl=timedelta(hours=1), time_out="hard")
        assert [i.time_out for i in store.list()] == ["hard", "soft"]
        store.add_note(before["id"], "bob", "another", None, None)
    finally:
        store.close()
    # the frozen tables were revision 0001 exactly: after the upgrade, nothing differs from the models
    assert schema_differences(store_url) == []


CHILD = """
import sys, time
from datetime import timedelta
from pathlib import Path
import alembic.command  # imported ahead, so that the start is the race, not the imports
from mlinterview.extension.service_store import InterviewStore
url, go, name = sys.argv[1:]
Path(go + "." + name).touch()
while not Path(go).exists():
    time.sleep(0.002)
store = InterviewStore(url)
interview, _ = store.create_interview(scenario="churn", kernel="cpu", candidate_name=name, interviewer="alice",
                                      time_budget_minutes=30, invite_ttl=timedelta(hours=1))
print(interview.id)
"""


@pytest.mark.slow
def test_processes_opening_a_fresh_store_at_once_migrate_it_once_and_all_work(store_url, tmp_path):
    go = str(tmp_path / "go")
    names = [f"process-{index}" for index in range(4)]  # with 3, no lock fails about every other run
    children = [subprocess.Popen([sys.executable, "-P", "-c", CHILD, store_url, go, name], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for name in names]
    try:
        deadline = time.monotonic() + 60
        while not all(Path(f"{go}.{name}").exists() for name in names):
            assert time.monotonic() < deadline and all(child.poll() is None for child in children), "a child did not get ready"
            time.sleep(0.01)
        Path(go).touch()
        results = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            child.kill()
    assert [child.returncode for child in children] == [0] * len(names), [err[-2000:] for _, err in results]
    assert revision_and_rows(store_url) == (SCHEMA_REVISION, 1)
    store = InterviewStore(store_url)
    try:
        assert sorted(i.candidate_name for i in store.list()) == names
        assert {i.id for i in store.list()} == {out.strip() for out, _ in results}
    finally:
        store.close()


def test_an_up_to_date_store_opens_without_running_alembic(store_url, monkeypatch):
    InterviewStore(store_url).close()

    def refuse(*args, **kwargs):
        raise AssertionError("an up-to-date store ran a migration command")

    for name in ("upgrade", "stamp"):
        monkeypatch.setattr(command, name, refuse)
    monkeypatch.setattr(ScriptDirectory, "from_config", refuse)
    InterviewStore(store_url).close()


def test_a_store_upgraded_by_a_newer_version_is_refused(store_url):
    InterviewStore(store_url).close()
    with connected(store_url) as connection, connection.begin():
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    with pytest.raises(RuntimeError, match="schema revision 9999.*a newer version upgraded it"):
        InterviewStore(store_url)


def migrate(url: str, step, revision: str) -> None:
    with connected(url) as connection, migration_transaction(connection):
        step(migration_config(connection), revision)


def test_the_migrations_go_down_and_up_again(store_url):
    store = InterviewStore(store_url)
    store.create_interview(scenario="churn", kernel="cpu", candidate_name="Kept", interviewer="alice",
                           time_budget_minutes=30, invite_ttl=timedelta(hours=1), time_out="hard")
    store.close()
    migrate(store_url, command.downgrade, BASELINE_REVISION)
    assert revision_and_rows(store_url) == (BASELINE_REVISION, 1)
    store = InterviewStore(store_url)  # upgrades again: the column comes back with its default
    try:
        assert [(i.candidate_name, i.time_out) for i in store.list()] == [("Kept", "soft")]
    finally:
        store.close()
    migrate(store_url, command.downgrade, "base")
    assert revision_and_rows(store_url)[0] is None
    with connected(store_url) as connection:
        assert set(connection.dialect.get_table_names(connection)) == {VERSION_TABLE}


@pytest.mark.slow
def test_the_documented_command_line_checks_a_store(tmp_path, repo_root):
    """``alembic -x url=...`` from the checkout (pyproject.toml's [tool.alembic]), as the docstring says."""
    alembic = Path(sys.executable).parent / "alembic"
    url = f"sqlite:///{tmp_path / 'scratch.sqlite'}"
    for args in (["upgrade", "head"], ["check"]):  # check: autogenerate finds nothing to add
        result = subprocess.run([str(alembic), "-x", f"url={url}", *args], cwd=repo_root, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "No new upgrade operations detected" in result.stdout + result.stderr
    assert revision_and_rows(url) == (SCHEMA_REVISION, 1)


def test_a_store_at_revision_0003_is_upgraded_to_take_homes(store_url):
    migrate(store_url, command.upgrade, "0003")
    with connected(store_url) as connection, connection.begin():
        connection.execute(text(
            "INSERT INTO interviews (id, scenario, kernel, time_out, candidate_name, candidate_user, interviewer, hiring_round, "
            "time_budget_minutes, state, created_at, shared_with, grade_progress, grade_summary) VALUES "
            "('old000000003', 'digits', 'cpu', 'soft', 'Live Before', 'cand-old00003', 'alice', 'r1', 45, 'live', :at, '[]', '', '{}')"),
            {"at": datetime(2026, 12, 2, 9, 0)})
    store = InterviewStore(store_url)
    try:
        assert revision_and_rows(store_url) == (SCHEMA_REVISION, 1)
        old = store.get("old000000003")
        assert (old.candidate_name, old.kind, old.deadline_hours, old.start_window_hours, old.deadline_at) == ("Live Before", "live", None, None, None)
        made, _ = store.create_interview(scenario="digits", kernel="cpu", candidate_name="New", interviewer="alice", time_budget_minutes=180,
                                         invite_ttl=timedelta(days=7), kind="take_home", deadline_hours=48)
        assert (store.get(made.id).kind, store.get(made.id).start_window_hours, store.get(made.id).deadline_hours) == ("take_home", 168, 48)
    finally:
        store.close()
    assert schema_differences(store_url) == []
    migrate(store_url, command.downgrade, "0003")
    with connected(store_url) as connection:
        assert connection.scalar(text("SELECT count(*) FROM interviews")) == 2
