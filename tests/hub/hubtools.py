"""Helpers for the hub tests: run a real hub, log people in, run code in a candidate's kernel."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_CONFIG = Path(__file__).with_name("jupyterhub_test_config.py")
BIN = Path(sys.executable).parent
INTERVIEWER_PASSWORD = "test-interviewer-password"
ADMIN_PASSWORD = "a" * 8 + "-test-admin-password-long-enough"
SERVICE = "/services/interview/"


def free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, OSError, ValueError, KeyError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


def xsrf_of(html: str) -> str:
    match = re.search(r'name="_xsrf"\s+value="([^"]+)"', html)
    assert match, "no _xsrf field in the page"
    return match.group(1)


@dataclass
class RunningHub:
    """A real JupyterHub (proxy, hub, interview service) in a private folder, on free ports."""

    root: Path
    scenarios_dir: Path
    isolation: str = "auto"  # isolated under root (CI), trusted otherwise
    gpus: list[str] = field(default_factory=list)
    extra_settings: dict = field(default_factory=dict)  # more hub.toml fields (values as TOML literals)
    config_file: Path = TEST_CONFIG  # the jupyterhub config file (a benchmark's baseline may load this one and change it)
    process: subprocess.Popen | None = None
    admin_token: str = field(default_factory=lambda: secrets.token_hex(16))
    clients: list = field(default_factory=list)

    def __post_init__(self):
        self.port, self.hub_port, self.proxy_api_port, self.service_port = free_ports(4)
        # the state lives where candidates' system users can traverse to their workspaces (pytest's
        # own temporary folders are closed to other users)
        self.state_root = Path(tempfile.mkdtemp(prefix="mlinterview-hub-state-"))
        self.state_root.chmod(0o711)
        self.settings_file = self.root / "hub.toml"
        self.settings_file.write_text(
            "\n".join(
                [
                    f'state_dir = "{self.state}"',
                    f'scenarios_dir = "{self.scenarios_dir}"',
                    f"port = {self.port}",
                    f"hub_port = {self.hub_port}",
                    f"proxy_api_port = {self.proxy_api_port}",
                    f"service_port = {self.service_port}",
                    f'isolation = "{self.isolation}"',
                    f"gpus = {json.dumps(self.gpus)}",
                    'interviewers = ["alice", "bob"]',
                    # one origin: the tests' Python clients reach everything on 127.0.0.1 (they cannot
                    # resolve <user>.localhost); test_browser_attack.py runs a hub with origins of their own
                    *([] if "subdomain_host" in self.extra_settings else ['subdomain_host = ""']),
                    'admins = ["boss"]',
                    'log_level = "INFO"',  # the tests read the hub's and the service's log
                    f'interviewer_password = "{INTERVIEWER_PASSWORD}"',
                    f'admin_password = "{ADMIN_PASSWORD}"',
                    *(f"{key} = {value}" for key, value in self.extra_settings.items()),
                ]
            )
            + "\n"
        )
        self.log_path = self.root / "hub.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> Path:
        return self.state_root / "state"

    # -- process ---------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> "RunningHub":
        env = dict(os.environ)
        env.update(
            MLINTERVIEW_HUB_SETTINGS=str(self.settings_file),
            MLINTERVIEW_TEST_ADMIN_TOKEN=self.admin_token,
            PATH=os.pathsep.join([str(BIN), str(REPO_ROOT / "node_modules" / ".bin"), env.get("PATH", "")]),
        )
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(self.config_file)],
            cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        wait_for(lambda: self._up(), timeout, f"the hub at {self.url} (log: {self.log_path})")
        return self

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the hub exited with {self.process.returncode}; log:\n{self.log_tail()}")
        hub = httpx.get(f"{self.url}/hub/api/", timeout=5)
        service = httpx.get(f"{self.url}{SERVICE}", timeout=5, follow_redirects=False)
        return hub.status_code == 200 and service.status_code in (302, 200)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, stop_servers: bool = True) -> None:
        """Stop the hub (and, unless told otherwise, every candidate server first)."""
        if stop_servers:
            for client in self.clients:
                client.close()
            self.clients.clear()
        if self.process is None:
            return
        if stop_servers and self.process.poll() is None:
            for user in self.api("GET", "users").json():
                if user["servers"]:
                    self.api("DELETE", f"users/{user['name']}/server")
            wait_for(lambda: not any(u["servers"] for u in self.api("GET", "users").json()), 60, "all servers to stop")
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group this test started
                self.process.wait(10)
        self.process = None
        if stop_servers:
            remove_leftover_candidates(self.state)


    def service_pid(self) -> int | None:
        """The interview service's process id (a child of the hub), None while it is not running."""
        import psutil

        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if child.status() != psutil.STATUS_ZOMBIE and "mlinterview.extension.service_app" in " ".join(child.cmdline()):
                    return child.pid
            except psutil.Error:  # exited (or a zombie) while we looked
                continue
        return None

    # -- hub API ---------------------------------------------------------------------------------
    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"token {token or self.admin_token}"}
        return httpx.request(method, f"{self.url}/hub/api/{path}", headers=headers, timeout=60, **kwargs)

    def token_for(self, user: str) -> str:
        response = self.api("POST", f"users/{user}/tokens", json={"note": "test"})
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def server_ready(self, user: str) -> bool:
        return user in self.ready_servers()

    def ready_servers(self) -> set[str]:
        """The users whose default server is up: one hub API call, however many are waited for."""
        return {user["name"] for user in self.api("GET", "users").json() if (user.get("servers", {}).get("") or {}).get("ready")}

    def spawn_states(self, users) -> dict[str, str]:
        """Where each user's server is: ready, a pending action (spawn, stop), or none."""
        states = {}
        for user in users:
            server = (self.api("GET", f"users/{user}").json().get("servers", {}).get("") or {})
            states[user] = "ready" if server.get("ready") else server.get("pending") or "none"
        return states

    def log_about(self, users, lines: int = 40) -> str:
        """The hub log's last lines naming these users, without the tests' own API polling."""
        users = list(users)
        about = [
            line for line in self.log_path.read_text(errors="replace").splitlines()
            if any(user in line for user in users) and " 200 GET /hub/api/users" not in line
        ]
        return "\n".join(about[-lines:])

    # -- people ----------------------------------------------------------------------------------
    def browser(self) -> httpx.Client:
        """A cookie-keeping HTTP client, closed when the hub stops."""
        client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=60)
        self.clients.append(client)
        return client

    def login_interviewer(self, name: str, password: str = INTERVIEWER_PASSWORD) -> httpx.Client:
        client = self.browser()
        page = client.get("/hub/login")
        response = client.post(
            f"/hub/login?next={SERVICE}", data={"username": name, "password": password, "_xsrf": xsrf_of(page.text)}
        )
        assert response.status_code == 200 and response.url.path == SERVICE, (response.status_code, response.url)
        return client

    def service_api(self, token: str, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.url}{SERVICE}api/{path}", headers={"Authorization": f"token {token}"}, timeout=60, **kwargs)

    def create_interview(self, token: str, candidate_name: str = "Ada Candidate", scenario: str = "", kernel: str = "cpu",
                         **options) -> dict:
        """``options``: more fields of the API's body (``time_budget_minutes``, ``time_out``)."""
        response = self.service_api(token, "POST", "interviews",
                                    json={"scenario": scenario, "candidate_name": candidate_name, "kernel": kernel, **options})
        assert response.status_code == 201, response.text
        return response.json()

    def candidate_opens(self, invite_url: str, name: str, timeout: float = 120) -> httpx.Client:
        """The candidate follows the invite link; returns their browser once their server is up."""
        return self.candidates_open([(invite_url, name)], timeout)[0]

    def candidates_open(self, invites: list[tuple[str, str]], timeout: float = 120) -> list[httpx.Client]:
        """Candidates follow their invite links at once (``(invite_url, candidate_user)`` each);
        returns their browsers once every server is up. One poller watches them all, so that the
        waiting does not load the hub it waits for."""
        def follow(invite_url: str) -> httpx.Client:
            client = self.browser()
            response = client.get(invite_url)
            assert response.status_code == 200, (response.status_code, response.text[:500])
            return client

        with ThreadPoolExecutor(len(invites)) as pool:
            clients = list(pool.map(follow, [invite_url for invite_url, _ in invites]))
        names = {name for _, name in invites}
        try:
            wait_for(lambda: names <= self.ready_servers(), timeout, f"the servers of {sorted(names)}", interval=0.5)
        except AssertionError as error:
            waiting = sorted(names - self.ready_servers())
            raise AssertionError(
                f"{error}\nnot ready: {self.spawn_states(waiting)}\nhub log about them:\n{self.log_about(waiting)}"
                f"\nhub log:\n{self.log_tail(30)}"
            ) from None
        return clients

def authorize_if_asked(client: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Press 'Authorize' on the hub's OAuth confirmation page (shown for a server shared with you)."""
    if response.url.path != "/hub/api/oauth2/authorize":
        return response
    scopes = re.findall(r'<input type="hidden" name="scopes" value="([^"]+)"', response.text)
    return client.post(str(response.url), data={"_xsrf": xsrf_of(response.text), "scopes": scopes})


def reply_result(text: str | None):
    """The cell's value (its text/plain), as a Python literal when it is one."""
    import ast

    if text is None:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def open_notebook_kernel(hub: RunningHub, user: str, token: str) -> str:
    """The kernel of the notebook in ``user``'s workspace, as JupyterLab opening it gets one (a session
    on its path: the one the server started with it, else a new one); a plain kernel where the
    server's root holds no notebook. Returns the kernel id."""
    headers = {"Authorization": f"token {token}"}
    base = f"{hub.url}/user/{user}/api"
    listing = httpx.get(f"{base}/contents", headers=headers, timeout=60)
    assert listing.status_code == 200, (listing.status_code, listing.text)
    notebooks = sorted(item["path"] for item in listing.json()["content"] if item["type"] == "notebook")
    if not notebooks:
        response = httpx.post(f"{base}/kernels", headers=headers, json={}, timeout=120)
        assert response.status_code == 201, (response.status_code, response.text)
        return response.json()["id"]
    session = {"path": notebooks[0], "name": notebooks[0], "type": "notebook", "kernel": {}}
    response = httpx.post(f"{base}/sessions", headers=headers, json=session, timeout=120)
    assert response.status_code == 201, (response.status_code, response.text)
    return response.json()["kernel"]["id"]


def run_code(
    hub: RunningHub, user: str, token: str, code: str, kernel_id: str | None = None, timeout: float = 120, expressions: dict | None = None
) -> tuple[str, dict]:
    """Execute ``code`` in ``user``'s server through the kernel websocket (as the browser does).

    Returns (kernel id, execute_reply content)."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {token}"}
    if kernel_id is None:
        kernel_id = open_notebook_kernel(hub, user, token)

    async def execute():
        request = HTTPRequest(f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{kernel_id}/channels", headers=headers,
                              connect_timeout=60, request_timeout=120)  # a kernel starting on a loaded machine
        connection = await websocket_connect(request)
        msg_id = uuid.uuid4().hex
        message = {
            "header": {"msg_id": msg_id, "username": user, "session": uuid.uuid4().hex, "msg_type": "execute_request", "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {},
            "metadata": {"cellId": f"cell-{msg_id[:8]}"},
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": expressions or {}, "allow_stdin": False, "stop_on_error": True},
            "channel": "shell",
            "buffers": [],
        }
        await connection.write_message(json.dumps(message))
        printed, result = [], None
        try:
            while True:
                raw = await connection.read_message()
                assert raw is not None, "the kernel websocket closed before the reply"
                reply = json.loads(raw)
                if reply["parent_header"].get("msg_id") != msg_id:
                    continue
                if reply.get("msg_type") == "stream":
                    printed.append(reply["content"]["text"])
                elif reply.get("msg_type") == "execute_result":
                    result = reply["content"]["data"].get("text/plain")
                elif reply.get("msg_type") == "execute_reply":
                    # the recording server forwards a reply after the kernel's idle status, so the
                    # outputs are in by now
                    return dict(reply["content"], stdout="".join(printed), result=reply_result(result))
        finally:
            await close_websocket(connection)

    return kernel_id, asyncio.run(asyncio.wait_for(execute(), timeout))


async def close_websocket(connection) -> None:
    """Close and wait for the server's close frame, so the socket is closed before the loop ends."""
    import asyncio

    connection.close()
    try:
        while await asyncio.wait_for(connection.read_message(), 5) is not None:
            pass
    except asyncio.TimeoutError:
        pass
    if connection.stream is not None and not connection.stream.closed():
        connection.stream.close()


def kernel_message(msg_type: str, content: dict, channel: str = "shell", user: str = "someone") -> dict:
    """A kernel message as a browser sends it over the websocket (JSON protocol)."""
    return {
        "header": {"msg_id": uuid.uuid4().hex, "username": user, "session": uuid.uuid4().hex, "msg_type": msg_type,
                   "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": [],
    }


def send_kernel_messages(hub: RunningHub, user: str, token: str, kernel_id: str, messages: list[dict], listen: float = 3.0) -> list[dict]:
    """Send raw messages on a kernel's websocket as a browser could; returns what came back within ``listen`` s."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def exchange():
        request = HTTPRequest(f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{kernel_id}/channels",
                              headers={"Authorization": f"token {token}"}, connect_timeout=60, request_timeout=120)
        connection = await websocket_connect(request)
        for message in messages:
            await connection.write_message(json.dumps(message))
        received = []
        deadline = time.monotonic() + listen
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    raw = await asyncio.wait_for(connection.read_message(), left)
                except asyncio.TimeoutError:
                    break
                if raw is None:
                    break
                received.append(json.loads(raw))
        finally:
            await close_websocket(connection)
        return received

    return asyncio.run(exchange())


def remove_leftover_candidates(state: Path) -> None:
    """Remove the system users (and processes) a failed test left behind for this hub's candidates."""
    if os.geteuid() != 0:
        return
    import pwd

    from mlinterview.extension.hub_isolation import remove_candidate

    for entry in pwd.getpwall():
        if entry.pw_name.startswith("cand-") and not entry.pw_name.endswith("-srv") and entry.pw_dir.startswith(str(state)):
            remove_candidate(entry.pw_name, homes_dir=state / "homes", socket_dir=state / "sockets" / entry.pw_name)
