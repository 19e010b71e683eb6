"""Domain operations: ``check_*`` validates and raises ActionError, ``do_*`` writes and
emits events after commit. Plain async functions that take a session."""
