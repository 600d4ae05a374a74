"""The store: the data model, the database (SQLite or PostgreSQL), the audit chain, backups, migrations."""
