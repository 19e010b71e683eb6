"""Storage: models, queries, the database engine and migrations."""
