"""The hub's HTTP API (full-stack-fastapi-template layout: ``deps.py`` and ``routes/*``)."""
