"""Relational storage through SQLAlchemy 2 Core: SQLite by default, PostgreSQL by URL."""
