"""Log rotation like the kubelet's container log manager (BEHAVIOR.md 11.3)."""

import gzip
from pathlib import Path

import pytest

from podrun.logs.rotation import needs_rotation, parse_size, rotate, rotated_files


@pytest.mark.parametrize("value,expected", [
    ("10Mi", 10 * 1024 * 1024), ("500Ki", 512000), ("1G", 10**9), (4096, 4096), (None, 10485760),
])
def test_parse_size(value: object, expected: int) -> None:
    assert parse_size(value) == expected


def test_rotation_keeps_max_files(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    clock = iter(range(1_700_000_000, 1_700_000_100, 7))
    reopened = []
    for i in range(6):
        log.write_text(f"generation {i}\n" * 10)
        assert needs_rotation(log, 50)
        rotate(log, 3, lambda: reopened.append(1) or log.write_text(""), now=lambda: next(clock))
    files = sorted(p.name for p in tmp_path.iterdir())
    # current log + newest rotated (plain) + one older (gzipped) = max_files 3
    assert len(files) == 3 and "0.log" in files
    rotated = rotated_files(log)
    assert [p.name.endswith(".gz") for p in rotated] == [True, False]
    assert rotated[-1].read_text().startswith("generation 5")
    assert gzip.decompress(rotated[0].read_bytes()).decode().startswith("generation 4")
    assert len(reopened) == 6


def test_small_log_is_not_rotated(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_text("x")
    assert not needs_rotation(log, 1024)
    assert not needs_rotation(tmp_path / "missing.log", 1)
