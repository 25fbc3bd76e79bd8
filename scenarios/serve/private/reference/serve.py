"""The fare API's HTTP server: ``python -m fareapi.serve --host 127.0.0.1 --port 8080`` from the workspace.

It serves the model the notebook saved in ``artifacts/``; every request goes to
``PredictionService.handle`` (``service.py``), which holds the logic. Standard library only.
"""

from __future__ import annotations

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .service import PredictionService


def make_handler(service: PredictionService):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = service.handle(self.command, self.path, self.headers.get("Content-Type"), body)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format, *args):  # noqa: A002 - quiet: one line per request is too much
            pass

    return Handler


class FareServer(ThreadingHTTPServer):
    request_queue_size = 64  # connections waiting to be accepted (the standard library's default is 5)


def make_server(host: str = "127.0.0.1", port: int = 8080, artifacts: Path | str = "artifacts") -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (port 0: any free one) over the artifacts in ``artifacts``."""
    server = FareServer((host, port), make_handler(PredictionService(artifacts)))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve fare quotes over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--artifacts", default="artifacts")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.artifacts)
    print(f"serving fare quotes on http://{args.host}:{server.server_address[1]}/predict", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
