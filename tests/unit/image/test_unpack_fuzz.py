"""Property: whatever a layer holds, the extractor writes nothing outside its snapshot and
fails, if it fails, with an ImageError or a HostError (never a bare OSError)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podrun.errors import HostError
from podrun.image.errors import ImageError
from podrun.image.unpack import UnpackOptions
from tests.support import TEST_TMP
from tests.unit.image.layers import E, d, f, fifo, hl, sym, tar_bytes

COMPONENTS = ["a", "b", "..", ".", "", ".wh.a", ".wh..wh..opq", ".wh...", "c"]
TARGETS = ["/", "..", "../..", "a", "a/b", "/tmp", "../../canary", "b/../..", "."]


def names() -> st.SearchStrategy[str]:
    return st.builds(lambda lead, parts: lead + "/".join(parts),
                     st.sampled_from(["", "/", "./"]),
                     st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4))


def entries() -> st.SearchStrategy[E]:
    return st.one_of(
        st.builds(lambda n: f(n, b"evil"), names()),
        st.builds(d, names()),
        st.builds(sym, names(), st.sampled_from(TARGETS)),
        st.builds(hl, names(), names()),
        st.builds(fifo, names()),
    )


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(entries(), min_size=1, max_size=8))
def test_nothing_escapes(layer: list[E]) -> None:
    import io

    from podrun.image.unpack import unpack_layer

    base = Path(tempfile.mkdtemp(prefix="podrun-fuzz-", dir=TEST_TMP))
    try:
        fs = base / "x" / "fs"
        fs.mkdir(parents=True)
        (base / "canary").mkdir()
        try:
            unpack_layer(io.BytesIO(tar_bytes(layer)), str(fs),
                         options=UnpackOptions(devices="skip"))
        except (ImageError, HostError):
            pass
        outside = sorted(os.path.relpath(os.path.join(dp, n), base)
                         for dp, dns, fns in os.walk(base) for n in dns + fns
                         if not os.path.join(dp, n).startswith(str(fs)))
        assert outside == ["canary", "x"]
        assert not os.path.lexists("/tmp/evil")
    finally:
        shutil.rmtree(base, ignore_errors=True)
