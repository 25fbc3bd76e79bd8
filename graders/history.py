"""The history format's former home: it lives in :mod:`mlinterview.history` (shared by the
extension, the hub service and the grader). Kept so that older imports still work."""

from ..history import *  # noqa: F401,F403
from ..history import GENESIS, OUTPUT_TEXT_LIMIT, SCHEMA, HistoryChain, HistoryEvent, VerifyResult  # noqa: F401
from ..history import dumps_line, event_hash, link_problem, read_events, seal, verify_events, verify_history  # noqa: F401
