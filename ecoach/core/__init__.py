"""Pure rules and types. Imports nothing from the rest of ecoach."""
