"""Library-wide information and settings: version, BLAS, threads, logging."""
from __future__ import annotations

from typing import Callable, Optional

from . import errors
from ._lib import LOG_FN, check, lib

LOG_LEVELS = {"error": 0, "warning": 1, "info": 2, "debug": 3}
_LOG_NAMES = {v: k for k, v in LOG_LEVELS.items()}
_log_callback = None  # the installed C callback, kept alive here


def version() -> str:
    """The linked library's version string, e.g. "0.2.0"."""
    return lib.mudsc_version_string().decode()


def version_number() -> int:
    """The linked library's version number (major*10000 + minor*100 + patch)."""
    return int(lib.mudsc_version())


def blas_info() -> str:
    """Name and version of the BLAS libmudsc was built with."""
    return lib.mudsc_blas_info().decode()


def set_threads(n: int) -> None:
    """Set the number of threads the linked BLAS uses, process-wide (n >= 1)."""
    check(lib.mudsc_blas_set_threads(n))


def threads() -> int:
    """The number of threads the linked BLAS uses."""
    return int(lib.mudsc_blas_get_threads())


def status_name(status: int) -> str:
    """The symbolic name of a status code, e.g. "MUDSC_E_PARSE"."""
    return lib.mudsc_status_name(status).decode()


def status_str(status: int) -> str:
    """The English text of a status code."""
    return lib.mudsc_status_str(status).decode()


def set_log_callback(fn: Optional[Callable[[str, str], None]],
                     max_level: str = "warning") -> None:
    """Receive the library's log messages as fn(level, message) for levels
    up to max_level ("error", "warning", "info", "debug"); None removes the
    callback.  Exceptions raised by fn are ignored.  Set it once at start-up
    (not thread-safe against running library calls)."""
    global _log_callback
    if max_level not in LOG_LEVELS:
        raise errors.InvalidArgumentError.make(f"max_level {max_level!r} is not one of "
                                               f"{', '.join(LOG_LEVELS)}")
    if fn is None:
        lib.mudsc_log_set_callback(LOG_FN(), LOG_LEVELS[max_level], None)
        _log_callback = None
        return

    def call(level: int, message: bytes, user: int) -> None:
        try:
            fn(_LOG_NAMES.get(level, str(level)), message.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - never unwind into C
            pass
    callback = LOG_FN(call)
    lib.mudsc_log_set_callback(callback, LOG_LEVELS[max_level], None)
    _log_callback = callback
