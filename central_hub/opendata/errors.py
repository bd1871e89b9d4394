"""Errors of the open-data service, under the project's root so callers catch them as one.

    KasselError
    └── OpendataError
        ├── ProducerError        a producer could not build its table (nothing published)
        ├── GateError            a privacy spec or a table the gate cannot take (domain/gate.py)
        ├── CkanError            CKAN's error types, with their statuses (domain/ckan.py)
        └── OpendataServiceError a use case refused a request
            ├── NotFoundError    404: no such dataset, version or file
            └── ConflictError    409: not in this state (publishing a refused version)

The gate's and CKAN's errors are defined beside the rules that raise them, under this root.
"""

from __future__ import annotations

from edge_agent.errors import KasselError


class OpendataError(KasselError):
    """Root of every error of the open-data service."""


class ProducerError(OpendataError):
    """A producer failed: its dataset keeps its previous version and an alarm is raised."""


class OpendataServiceError(OpendataError):
    """A use case refused a request (the message goes to the caller)."""


class NotFoundError(OpendataServiceError, LookupError):
    """No such dataset, version or file."""


class ConflictError(OpendataServiceError):
    """The version is not in a state that allows this."""
