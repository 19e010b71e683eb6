"""Chat channel: the coachee websocket endpoint and its fan-out."""
