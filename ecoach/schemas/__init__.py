"""JSON Schemas of what ecoach hands out (the coachee's data package), versioned by file name."""
