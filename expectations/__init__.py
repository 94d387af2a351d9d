"""Great Expectations suites, one per checkpoint, built in code.

The checkpoint names live here, free of GX imports: the flow process names checkpoints
without importing GX, which runs in a process of its own (recsys/expectations/process.py)."""

RAW_EVENTS, SESSIONS, CORPUS, DRIFT = "raw_events", "sessions", "corpus", "drift"
