"""The few ctypes names syscalls.py uses, built straight on the _ctypes extension.

`import ctypes` costs the init helper ~3-5 ms of its ~25 ms (struct, ctypes._endian and
some forty type and class definitions); _ctypes alone ~1 ms. The types here are what
ctypes defines for them (a _SimpleCData subclass per type code), and CDLL is ctypes'
own minus the Windows/AIX branches, so calls convert and check arguments exactly as
through ctypes.
"""

from __future__ import annotations

import _ctypes
from _ctypes import (
    FUNCFLAG_CDECL,
    FUNCFLAG_USE_ERRNO,
    RTLD_LOCAL,
    Structure,
    _SimpleCData,
    addressof,
    byref,
)
from _ctypes import CFuncPtr as _CFuncPtr
from _ctypes import get_errno as get_errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class c_int(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "i"


class c_uint(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "I"


class c_long(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "l"


class c_ulong(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "L"


class c_ushort(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "H"


class c_void_p(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "P"


class c_char(_SimpleCData):  # type: ignore[type-arg]
    _type_ = "c"


c_uint32 = c_uint  # as ctypes has it wherever int is 32 bits (every Linux podrun runs on)
assert _ctypes.sizeof(c_uint) == 4


def create_string_buffer(init: bytes, size: int | None = None) -> Any:
    """ctypes.create_string_buffer for bytes: `init` (NUL bytes included) in an array of
    `size` chars (default: one more, for a terminating NUL)."""
    n = len(init) + 1 if size is None else size
    if len(init) > n:
        raise ValueError("byte string too long")
    buf: Any = (c_char * n)()
    buf.raw = init + b"\0" * (n - len(init))
    return buf


class CDLL:
    """ctypes.CDLL: functions looked up by attribute, cdecl, int result unless restype
    is set; use_errno makes ctypes' private errno copy (get_errno) work."""

    def __init__(self, name: str | None, mode: int = RTLD_LOCAL, use_errno: bool = False
                 ) -> None:
        flags = FUNCFLAG_CDECL | (FUNCFLAG_USE_ERRNO if use_errno else 0)

        class _FuncPtr(_CFuncPtr):
            _flags_ = flags
            _restype_ = c_int
        self._FuncPtr = _FuncPtr
        self._name = name
        self._handle = _ctypes.dlopen(name, mode)  # type: ignore[arg-type]  # None: the program

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        func: Any = self._FuncPtr((name, self))  # type: ignore[arg-type]
        func.__name__ = name
        setattr(self, name, func)
        return func


__all__ = ["CDLL", "Structure", "addressof", "byref", "c_char", "c_int", "c_long", "c_uint",
           "c_uint32", "c_ulong", "c_ushort", "c_void_p", "create_string_buffer",
           "get_errno"]
