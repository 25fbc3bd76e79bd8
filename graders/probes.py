"""The probe runner's former home: it is pack tooling, in :mod:`mlinterview.scenarios.probe_runner`.
Kept so that older imports still work."""

from ..scenarios.probe_runner import (  # noqa: F401
    ERROR,
    FIXED,
    NOT_FIXED,
    ProbeRunner,
    ProbeVerdict,
    candidate_python,
    copy_regular_files,
    forkserver_context,
    sandbox_module,
)
