"""Grading: nbclient replays, holdout scoring, bug probes, constraint audit, reports; and the history format.

Modules, in the order a submission flows through them (see graders/README.md):

- ``history``        the recorded history's format: events, hash chain, verification (shared with extension/)
- ``submission``     the submission folder (read through ``mlinterview.safe_files``: nothing planted is followed),
                     its notebook read robustly, and the two replay plans
- ``kernel_users``   the system users replayed kernels run as under root (``mlgrade-<n>``, one per running replay)
- ``replay``         ``ReplayLimits``, ``SandboxedKernelManager``, ``ReplayClient`` (a NotebookClient) and ``run_replay``
- ``contract``       predictions and parameter counts taken out of the kernel as data, and their checks
- ``probes``         the pack's bug probes in child processes (pack tooling); ``probe_adapter`` shapes their verdicts
- ``grade``          ``Grader`` / ``grade_submission``: one submission from folder to report
- ``report``         the report's schema (``mlinterview.report/1``), JSON and self-contained HTML
- ``batch``, ``cli`` ``mlinterview grade`` and ``mlinterview grade-batch``
"""
