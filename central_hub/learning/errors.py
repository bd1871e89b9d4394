"""Errors of the learning platform, under the project's root so callers catch them as one.

    KasselError
    └── LearningError
        ├── ContentError         an item's document breaks the format (where, what)
        ├── NotationError        a typed answer cannot be read (a message for the pupil)
        ├── AnswerShapeError     an answer of the wrong shape for its exercise
        ├── FormatError          an imported GIFT or Moodle XML file's syntax (line, question)
        └── LearningServiceError a use case refused a request
            ├── NotFoundError    404: no such published item or exercise
            ├── ForbiddenError   403: a rule of the workflow forbids it (four eyes)
            ├── ConflictError    409: not in this state (a published item reviewed again)
            └── InvalidError     422: a body or an answer of the wrong shape
                └── ImportSyntaxError  an imported file's syntax error (line, question)

Messages go to the caller; answers and authors' texts are never logged.
"""

from __future__ import annotations

from edge_agent.errors import KasselError


class LearningError(KasselError):
    """Root of every error of the learning platform."""


class ContentError(LearningError, ValueError):
    """An item's document cannot be an item (names the item, exercise and field)."""


class NotationError(LearningError, ValueError):
    """A typed answer that cannot be read; the message is meant for the pupil (German)."""


class AnswerShapeError(LearningError, ValueError):
    """An answer of the wrong shape for its exercise (a list for an input, an unknown option
    id): not a pupil's mistake but a broken client."""


class FormatError(LearningError, ValueError):
    """A GIFT or Moodle XML file that cannot be read; names the line and the question."""

    def __init__(self, line: int, question: str, message: str) -> None:
        super().__init__(f"line {line}: {message} (question {question!r})")
        self.line = line
        self.question = question


class LearningServiceError(LearningError):
    """A use case refused a request; the subclass says which status."""


class NotFoundError(LearningServiceError):
    """No such published item or exercise (drafts are not found by the public)."""


class ForbiddenError(LearningServiceError):
    """The workflow forbids it: a reviewer may not approve their own item."""


class ConflictError(LearningServiceError):
    """Not in this state: an item is reviewed only while it waits for review."""


class InvalidError(LearningServiceError):
    """A body or an answer of the wrong shape for its exercise."""


class ImportSyntaxError(InvalidError):
    """An imported file with a syntax error: the line and the question it is in."""

    def __init__(self, line: int, question: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.question = question
