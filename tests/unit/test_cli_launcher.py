"""podrun/launcher.py: the installed `podrun` script starts python without site, still finds
podrun, its dependencies and the venv's prefix, and says what podrun says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from podrun import __version__, launcher

pytestmark = pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs the venv")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    assert launcher.install(tmp_path) is True
    assert launcher.install(tmp_path) is False  # the same script: not rewritten
    return tmp_path / "podrun"


def run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def test_script_starts_python_without_site(script: Path) -> None:
    first = script.read_text().splitlines()[0]
    assert first == f"#!{sys.prefix}/bin/python -S"
    assert os.access(script, os.X_OK)


def test_script_runs_podrun_as_before(script: Path, tmp_path: Path) -> None:
    r = run(script, "version", "--client")
    assert (r.returncode, r.stdout) == (0, f"podrun {__version__} (Kubernetes v1.33 Pod API)\n")
    sock = tmp_path / "none.sock"
    r = run(script, "--socket", str(sock), "get", "pods")
    assert r.returncode == 1
    assert r.stderr == (f"error: cannot connect to the podrun daemon at {sock}: is it running? "
                        "(podrun daemon)\n")
    r = run(script, "get", "pods", "--bogus")  # click's usage error
    assert r.returncode == 2 and "No such option '--bogus'" in r.stderr
    r = run(script, "--help")
    assert r.returncode == 0 and "Commands:" in r.stdout


def test_script_sets_the_venv_prefix_and_keeps_bytecode_out_of_the_tree(tmp_path: Path) -> None:
    """sys.prefix is the venv's (podrun finds its pause binary under it); with
    PYTHONDONTWRITEBYTECODE the bytecode goes to <venv>/pycache."""
    text = launcher.script_text(sys.prefix, f"{sys.prefix}/bin/python",
                                [p for p in sys.path if p.endswith("site-packages")],
                                str(Path(launcher.__file__).parent))
    probe = text.replace("from podrun.cli_fast import main\n", "").replace(
        'if __name__ == "__main__":\n    sys.exit(main())\n',
        "import podrun\nprint(sys.prefix, sys.flags.no_site, sys.pycache_prefix, "
        "podrun.__file__, 'tests' in sys.modules or any(p.endswith('/tests') for p in sys.path))\n")
    (tmp_path / "probe").write_text(probe)
    (tmp_path / "probe").chmod(0o755)
    r = run(tmp_path / "probe", PYTHONDONTWRITEBYTECODE="1")
    assert r.returncode == 0, r.stderr
    prefix, no_site, pycache, package, tests_visible = r.stdout.split()
    assert prefix == sys.prefix and no_site == "1"
    assert pycache == os.path.join(sys.prefix, "pycache")
    assert package == str(Path(launcher.__file__).parent / "__init__.py")
    assert tests_visible == "False"
