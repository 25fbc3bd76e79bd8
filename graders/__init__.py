"""Grading: nbclient replays, holdout scoring, bug verdicts, constraint audit, reports.

Modules, in the order a submission flows through them (see graders/README.md):

- ``history``        the old name of ``mlinterview.history`` (the history format, shared with extension/)
- ``submission``     the submission folder (read through ``mlinterview.safe_files``: nothing planted is followed),
                     its notebook read robustly, and the two replay plans
- ``kernel_users``   the system users replayed kernels run as under root (``mlgrade-<n>``, one per running replay)
- ``replay``         ``ReplayLimits``, ``SandboxedKernelManager``, ``ReplayClient`` (a NotebookClient) and ``run_replay``
- ``contract``       predictions and parameter counts taken out of the kernel as data, and their checks
- ``behaviour``      what the replayed notebook did (observed in its kernel) and each bug's verdict from all evidence
- ``probes``         the old name of ``scenarios.probe_runner`` (the pack's probes, sandboxed); ``probe_adapter`` shapes their verdicts
- ``grade``          ``Grader`` / ``grade_submission``: one submission from folder to report
- ``report``         the report's schema (``mlinterview.report/1``) and what it says: verdict, bands, evidence
- ``render``         the report written down: JSON and self-contained HTML
- ``batch``, ``cli`` ``mlinterview grade`` and ``mlinterview grade-batch``
"""
