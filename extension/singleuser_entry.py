"""Start the single-user server with its secrets out of ``/proc/<pid>/environ``.

The interview's warden (``kernels/warden.py``) runs ``python -I -m
mlinterview.extension.singleuser_entry FD -- ARGS...`` as the server user: the hub token and
any other secret arrive as JSON on descriptor FD, not in the process's initial environment,
so that even a file read the server could be tricked into (``/proc/self/environ``) shows
none of them. They are put into ``os.environ`` in process, and ``jupyterhub-singleuser`` runs
here, without an ``exec`` that would copy them back.
"""

from __future__ import annotations

import json
import os
import sys


def is_secret(name: str) -> bool:
    return any(word in name.upper() for word in ("TOKEN", "SECRET", "PASSWORD"))


def main() -> None:
    fd, args = int(sys.argv[1]), sys.argv[2:]
    args = args[1:] if args[:1] == ["--"] else args
    with os.fdopen(fd, "rb") as handle:
        os.environ.update(json.loads(handle.read() or b"{}"))
    from jupyterhub.singleuser import main as singleuser_main

    sys.argv = ["jupyterhub-singleuser", *args]
    sys.exit(singleuser_main())


if __name__ == "__main__":
    main()
