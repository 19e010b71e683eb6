"""Web transport: coach inbox, coachee pages, JSON API."""
