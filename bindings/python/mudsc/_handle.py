"""The base of the handle classes: ownership, closing, context managers."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from . import errors
from ._lib import Owner


class Handle:
    """A Python object over one C handle.

    close() (also the end of a ``with`` block and garbage collection) drops
    this object's reference to the handle; the handle is freed at once
    unless something still points into it (a NumPy view returned by
    Model.__getitem__, a Matcher over this Model, ...), in which case it is
    freed when the last of those goes.  Using the object after close()
    raises StateError.
    """

    _owner: Optional[Owner] = None

    def _adopt(self, ptr: Any, free: Callable[[Any], None], keep: Sequence[Any] = ()) -> None:
        """Take ownership of a freshly created C handle."""
        self._owner = Owner(ptr, free, keep)

    @property
    def _h(self) -> int:
        """The C handle (an address); StateError once closed."""
        if self._owner is None:
            raise errors.StateError.make(f"this {type(self).__name__} is closed")
        return self._owner.ptr

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._owner is None

    def close(self) -> None:
        """Release the handle (see the class documentation)."""
        self._owner = None

    def __enter__(self) -> "Handle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
