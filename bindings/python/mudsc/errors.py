"""Exceptions: one class per mudsc_status code, each carrying the library's
message (mudsc_error_message()).

Every class derives from MudscError and, where one fits, from the built-in
exception a Python caller would expect (ValueError for bad arguments and
shapes, KeyError for a missing name, ...), so ``except ValueError`` works.
"""
from __future__ import annotations

from typing import Dict, Type


class MudscError(Exception):
    """A libmudsc call failed.

    Attributes:
        status: the mudsc_status code (a negative int).
        name: its symbolic name, e.g. "MUDSC_E_PARSE".
        message: what was wrong, as the library (or the binding) said it.
    """

    status: int = 0
    name: str = "MUDSC_ERROR"

    def __init__(self, message: str, status: int = 0, name: str = "") -> None:
        super().__init__(message)
        self.message = message
        if status:
            self.status = status
        if name:
            self.name = name

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return f"{self.name}: {self.message}"

    @classmethod
    def make(cls, message: str) -> "MudscError":
        """An instance with this class's status, for errors the binding
        detects itself before calling the library."""
        return cls(message)


class InvalidArgumentError(MudscError, ValueError):
    """MUDSC_E_INVALID: an argument is invalid (NULL, out of its domain)."""
    status, name = -1, "MUDSC_E_INVALID"


class ShapeError(MudscError, ValueError):
    """MUDSC_E_SHAPE: a shape, rank, width or axis does not fit."""
    status, name = -2, "MUDSC_E_SHAPE"


class OutOfMemoryError(MudscError, MemoryError):
    """MUDSC_E_NOMEM: an allocation failed, or a problem exceeds the matcher's memory
    budget (Matcher's max_memory)."""
    status, name = -3, "MUDSC_E_NOMEM"


class ParseError(MudscError):
    """MUDSC_E_PARSE: malformed input bytes (safetensors, JSON, serialized state)."""
    status, name = -4, "MUDSC_E_PARSE"


class MudscIOError(MudscError, OSError):
    """MUDSC_E_IO: the operating system refused a file operation."""
    status, name = -5, "MUDSC_E_IO"


class StateError(MudscError):
    """MUDSC_E_STATE: the call is not allowed in the handle's current state
    (a frozen model, a matcher that has not run, ...)."""
    status, name = -6, "MUDSC_E_STATE"


class NumericError(MudscError, ArithmeticError):
    """MUDSC_E_NUMERIC: non-finite input or a numerical failure."""
    status, name = -7, "MUDSC_E_NUMERIC"


class UnsupportedError(MudscError):
    """MUDSC_E_UNSUPPORTED: a valid request this build or dtype does not support."""
    status, name = -8, "MUDSC_E_UNSUPPORTED"


class CancelledError(MudscError):
    """MUDSC_E_CANCELLED: a progress callback asked to stop."""
    status, name = -9, "MUDSC_E_CANCELLED"


class NotFoundError(MudscError, KeyError):
    """MUDSC_E_NOT_FOUND: a named item does not exist."""
    status, name = -10, "MUDSC_E_NOT_FOUND"


class ExistsError(MudscError):
    """MUDSC_E_EXISTS: a named item already exists."""
    status, name = -11, "MUDSC_E_EXISTS"


class RangeError(MudscError, IndexError):
    """MUDSC_E_RANGE: an index or count is out of range."""
    status, name = -12, "MUDSC_E_RANGE"


class MismatchError(MudscError, ValueError):
    """MUDSC_E_MISMATCH: inputs that must agree with each other do not."""
    status, name = -13, "MUDSC_E_MISMATCH"


class InternalError(MudscError):
    """MUDSC_E_INTERNAL: a bug in libmudsc; please report it."""
    status, name = -14, "MUDSC_E_INTERNAL"


#: status code -> exception class
BY_STATUS: Dict[int, Type[MudscError]] = {
    cls.status: cls for cls in (
        InvalidArgumentError, ShapeError, OutOfMemoryError, ParseError, MudscIOError,
        StateError, NumericError, UnsupportedError, CancelledError, NotFoundError,
        ExistsError, RangeError, MismatchError, InternalError)
}


def from_status(status: int, message: str) -> MudscError:
    """The exception for a status code (MudscError for a code this binding
    does not know, e.g. one a newer library added)."""
    cls = BY_STATUS.get(status)
    if cls is None:
        return MudscError(message, status, f"status {status}")
    return cls(message)
