"""Deferred directory removal: gone from its place at once, deleted in the background,
and what a crash left behind deleted at the next start."""

from __future__ import annotations

from pathlib import Path

from podrun.runtime.trash import TRASH_DIR, Trash


def _tree(d: Path) -> Path:
    (d / "a" / "b").mkdir(parents=True)
    (d / "a" / "b" / "f").write_text("x")
    (d / "g").symlink_to("/etc")
    return d


def test_discard_removes_at_once_and_deletes_in_the_background(tmp_path: Path) -> None:
    t = Trash([tmp_path / "root"])
    victim = _tree(tmp_path / "root" / "pods" / "uid1")
    t.discard(victim)
    assert not victim.exists()
    assert t.wait_empty(10)
    assert list((tmp_path / "root" / TRASH_DIR).iterdir()) == []
    assert Path("/etc").exists()  # a symlink is removed, never followed


def test_a_path_outside_every_base_is_removed_in_place(tmp_path: Path) -> None:
    t = Trash([tmp_path / "root"])
    victim = _tree(tmp_path / "elsewhere")
    t.discard(victim)
    assert not victim.exists() and not (tmp_path / "root" / TRASH_DIR).exists()


def test_a_missing_path_is_nothing_to_do(tmp_path: Path) -> None:
    Trash([tmp_path]).discard(tmp_path / "nope")


def test_what_a_crash_left_in_the_trash_is_deleted_at_start(tmp_path: Path) -> None:
    _tree(tmp_path / "run" / TRASH_DIR / "sandbox.1234")
    _tree(tmp_path / "root" / TRASH_DIR / "container.5678")
    t = Trash([tmp_path / "run", tmp_path / "root"])
    t.empty_later()
    assert t.wait_empty(10)
    assert list((tmp_path / "run" / TRASH_DIR).iterdir()) == []
    assert list((tmp_path / "root" / TRASH_DIR).iterdir()) == []


def test_the_same_name_twice_does_not_collide(tmp_path: Path) -> None:
    t = Trash([tmp_path])
    for _ in range(2):
        victim = _tree(tmp_path / "logs" / "ns_pod_uid")
        t.discard(victim)
        assert not victim.exists()
    assert t.wait_empty(10)
