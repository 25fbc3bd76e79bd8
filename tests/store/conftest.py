"""Fixtures for the interview store's tests: every store test runs on SQLite and on PostgreSQL.

Fixtures:

- ``postgres_server``: a PostgreSQL 15 server of the test session's own (``PostgresServer``):
  a fresh cluster in a temporary folder, run by an unprivileged user (``postgres``, or a system
  user made for it, when the tests run as root), listening on 127.0.0.1 on a free port, with a
  password; stopped and deleted at the end. Without PostgreSQL 15 or psycopg the tests that
  need it fail and say what to install: they are never skipped.
- ``store_url``: parametrized ``sqlite`` (a file in the test's folder) / ``postgresql`` (a new
  database on ``postgres_server``): a URL no store has opened yet.
- ``store``: an ``InterviewStore`` on ``store_url``, closed at teardown.
"""

from __future__ import annotations

import importlib
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlinterview.extension.service_store import InterviewStore

POSTGRES_BIN = Path(os.environ.get("MLINTERVIEW_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
POSTGRES_SYSTEM_USER = "mlinterview-pg"  # made when the tests run as root and there is no 'postgres'
ROLE = "mlinterview"


@dataclass
class PostgresServer:
    folder: Path
    port: int
    password: str
    run_as: list[str]  # the command prefix that runs a program as the server's user
    _names: itertools.count = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"store_{next(self._names)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=ROLE, password=self.password, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.run_as, str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), *args],
                              capture_output=True, text=True, timeout=120, check=check)

    def log_tail(self) -> str:
        log = self.folder / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no server log)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_user() -> tuple[list[str], int, int]:
    """(command prefix, uid, gid) of the user the server runs as: PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return [], os.getuid(), os.getgid()
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        try:
            user = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", POSTGRES_SYSTEM_USER],
                           check=True, capture_output=True)
            user = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    return ["runuser", "-u", user.pw_name, "--"], user.pw_uid, user.pw_gid


@pytest.fixture(scope="session")
def postgres_server():
    try:
        importlib.import_module("psycopg")
    except ImportError:
        pytest.fail("psycopg (PostgreSQL's driver) is not installed: pip install 'psycopg[binary]' (the test extras have it)",
                    pytrace=False)
    if not (POSTGRES_BIN / "initdb").is_file():
        pytest.fail(f"PostgreSQL 15 is not installed (no {POSTGRES_BIN / 'initdb'}): apt-get install postgresql-15, "
                    "or point $MLINTERVIEW_TEST_POSTGRES_BIN at another server's bin folder", pytrace=False)
    run_as, uid, gid = server_user()
    # not under pytest's tmp_path: its folders are 0700 to the user running the tests
    folder = Path(tempfile.mkdtemp(prefix="mlinterview-pg-"))
    os.chown(folder, uid, gid)
    server = PostgresServer(folder, port=0, password=secrets.token_urlsafe(16), run_as=run_as)
    try:
        (folder / "password").write_text(server.password + "\n")
        os.chown(folder / "password", uid, gid)
        subprocess.run([*run_as, str(POSTGRES_BIN / "initdb"), "-D", str(server.data), "-U", ROLE, "--auth=scram-sha-256",
                        f"--pwfile={folder / 'password'}", "-E", "UTF8", "--no-sync", "--no-instructions"],
                       check=True, capture_output=True, text=True, timeout=120)
        for _attempt in range(3):  # another process may take the free port before the server does
            server.port = free_port()
            with open(server.data / "postgresql.conf", "a") as conf:
                conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {server.port}\nunix_socket_directories = ''\n"
                           "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            started = server.pg_ctl("-l", str(folder / "server.log"), "-w", "-t", "60", "start", check=False)
            if started.returncode == 0:
                break
        else:
            pytest.fail(f"the PostgreSQL test server did not start:\n{started.stdout}{started.stderr}\n{server.log_tail()}",
                        pytrace=False)
        yield server
    except subprocess.CalledProcessError as error:
        pytest.fail(f"could not make the PostgreSQL test server ({' '.join(error.cmd)}):\n{error.stdout}{error.stderr}",
                    pytrace=False)
    finally:
        if (server.data / "postmaster.pid").exists():
            server.pg_ctl("-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'interviews.sqlite'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def store(store_url):
    store = InterviewStore(store_url)
    yield store
    store.close()
