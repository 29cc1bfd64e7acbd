"""podrun/runtime/ctypes_lite.py: ctypes' behaviour for what syscalls.py uses, and the init
helper's imports without ctypes (its import was a tenth of the helper's start)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

from podrun.runtime import ctypes_lite as L
from podrun.runtime import syscalls as S

RUNTIME = Path(S.__file__).resolve().parent


def test_the_init_helper_does_not_import_ctypes() -> None:
    # what init.py does before its first step: the package stubs, then initsteps
    code = (
        "import os, sys\n"
        f"rt = {str(RUNTIME)!r}\n"
        "for n, p in (('podrun', os.path.dirname(rt)), ('podrun.runtime', rt)):\n"
        "    m = type(sys)(n); m.__path__ = [p]; sys.modules[n] = m\n"
        "import podrun.runtime.initsteps\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ctypes', 'struct')))\n")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_calls_convert_and_report_errno_as_ctypes_does() -> None:
    lite = L.CDLL(None, use_errno=True)
    real = ctypes.CDLL(None, use_errno=True)
    assert lite.getpid() == real.getpid() == os.getpid()
    lite.syscall.restype = L.c_long
    assert lite.syscall(39) == os.getpid() if os.uname().machine == "x86_64" else True
    assert lite.umount2(b"/nonexistent-podrun-path", 0) == -1
    assert L.get_errno() == ctypes.get_errno() == 2  # ENOENT, ctypes' private errno copy
    assert lite.prctl(S.PR_GET_NO_NEW_PRIVS, L.c_ulong(0), L.c_ulong(0), L.c_ulong(0),
                      L.c_ulong(0)) in (0, 1)


def test_structures_arrays_and_buffers() -> None:
    assert L.create_string_buffer(b"a\0b", 3).raw == ctypes.create_string_buffer(b"a\0b", 3).raw
    assert L.create_string_buffer(b"ab").raw == ctypes.create_string_buffer(b"ab").raw == b"ab\0"

    class Hdr(L.Structure):
        _fields_ = [("version", L.c_uint32), ("pid", L.c_int)]
    assert L.Structure is ctypes.Structure
    h = Hdr(7, -1)
    assert (h.version, h.pid) == (7, -1)
    arr = (Hdr * 2)()
    arr[1].version = 9
    assert arr[1].version == 9 and ctypes.sizeof(arr) == 16
    assert L.addressof(h) == ctypes.addressof(h)


def test_capget_through_the_lite_layer_matches_proc_status() -> None:
    eff, perm, inh = S.capget()
    status = Path("/proc/self/status").read_text()
    want = {k: int(v, 16) for k, v in (line.split(":\t") for line in status.splitlines()
                                       if line.startswith(("CapEff", "CapPrm", "CapInh")))}
    assert (eff, perm, inh) == (want["CapEff"], want["CapPrm"], want["CapInh"])
