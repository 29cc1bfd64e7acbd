"""The CRI log reader: what `kubectl logs` shows for a log file (BEHAVIOR.md 11.2)."""

import asyncio
from pathlib import Path

import pytest

from podrun.logs.reader import follow, format_lines, parse_line, timestamp_ns

LOG = (b"2024-05-01T12:00:00.000000001Z stdout F hello\n"
       b"2024-05-01T12:00:01.000000000Z stderr P part one \n"
       b"2024-05-01T12:00:02.000000000Z stdout F between\n"
       b"2024-05-01T12:00:03.5Z stderr F and two\n"
       b"garbage line\n"
       b"2024-05-01T12:00:04.000000000Z stdout F \n")


def test_parse_line_fields() -> None:
    e = parse_line(b"2024-05-01T12:00:00.1Z stdout P a b c")
    assert e is not None and (e.stream, e.partial, e.content) == ("stdout", True, b"a b c")
    assert parse_line(b"nonsense") is None


def test_partial_chunks_join_per_stream_and_empty_lines_survive() -> None:
    assert format_lines(LOG) == b"hello\nbetween\npart one and two\n\n"


def test_timestamps_prefix_each_line() -> None:
    out = format_lines(LOG, timestamps=True).splitlines()
    assert out[0] == b"2024-05-01T12:00:00.000000001Z hello"
    assert out[2] == b"2024-05-01T12:00:03.5Z part one and two"


@pytest.mark.parametrize("tail,expected", [
    (1, b"\n"), (2, b"part one and two\n\n"), (0, b""), (None, b"hello\nbetween\npart one and two\n\n"),
])
def test_tail(tail: int | None, expected: bytes) -> None:
    assert format_lines(LOG, tail_lines=tail) == expected


def test_since_and_limit() -> None:
    since = timestamp_ns("2024-05-01T12:00:02Z")
    assert format_lines(LOG, since_ns=since) == b"between\npart one and two\n\n"
    assert format_lines(LOG, limit_bytes=3) == b"hel"


def test_timestamp_ns_reads_nine_or_fewer_digits() -> None:
    a = timestamp_ns("2024-05-01T12:00:00.123456789Z")
    b = timestamp_ns("2024-05-01T12:00:00.1Z")
    assert a is not None and b is not None and a - b == 23456789


def test_follow_reads_new_lines_until_done(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2024-05-01T12:00:00Z stdout F first\n")
    state = {"done": False}

    async def run() -> bytes:
        got = b""

        async def writer() -> None:
            await asyncio.sleep(0.2)
            with open(path, "ab") as f:
                f.write(b"2024-05-01T12:00:01Z stdout F second\n")
            await asyncio.sleep(0.2)
            state["done"] = True

        task = asyncio.create_task(writer())
        async for chunk in follow(path, done=lambda: state["done"], poll=0.05):
            got += chunk
        await task
        return got

    assert asyncio.run(run()) == b"first\nsecond\n"
