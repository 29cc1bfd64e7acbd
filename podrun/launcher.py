"""The installed `podrun` command, written over pip's console script by
`.venv/bin/python -m podrun.launcher` (tests/setup.sh runs it after every install).

Why: pip's wrapper starts the venv's interpreter with site, which runs every .pth file of the
venv (the editable install's finder imports pathlib; distutils-precedence), ~20 ms quiet and
~70 ms on a loaded host before podrun's first line, for a CLI whose budget is ~100 ms. This
script starts the same interpreter with -S and does the little of site's work podrun needs:
sys.prefix of the venv (podrun finds its pause binary there), site-packages on sys.path,
and the podrun package of the source tree for an editable install.

Bytecode: with PYTHONDONTWRITEBYTECODE set (these machines set it), every command would
compile podrun from source (~30 ms for cli.py alone); the script then keeps the bytecode in
<venv>/pycache instead, out of the source tree, as a regular install keeps it in the venv.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

SCRIPT = '''\
#!{python} -S
# podrun's command, written by `python -m podrun.launcher` (podrun/launcher.py says why):
# the venv's interpreter without site, podrun's paths set here.
import sys
sys.prefix = sys.exec_prefix = {venv!r}
if not sys.flags.safe_path:
    del sys.path[0]  # the script's directory, bin/
sys.path += {paths!r}
{finder}if sys.dont_write_bytecode:
    sys.dont_write_bytecode = False
    sys.pycache_prefix = {pycache!r}
from podrun.cli_fast import main
if __name__ == "__main__":
    sys.exit(main())
'''

# An editable install: podrun from its source tree, and nothing else from there (as the
# setuptools finder does: tests/, bench/ stay off sys.path).
FINDER = '''\
from importlib.machinery import PathFinder


class _PodrunSource:
    @staticmethod
    def find_spec(name, path=None, target=None):
        return PathFinder.find_spec(name, [{src!r}]) if name == "podrun" else None


sys.meta_path.append(_PodrunSource)
'''


def script_text(venv: str, python: str, site_dirs: list[str], package_dir: str) -> str:
    """The script for this venv; the finder only when podrun is not in site-packages."""
    src = os.path.dirname(package_dir)
    finder = "" if src in site_dirs else FINDER.format(src=src)
    return SCRIPT.format(python=python, venv=venv, paths=site_dirs, finder=finder,
                         pycache=os.path.join(venv, "pycache"))


def install(bin_dir: Path | None = None) -> bool:
    """Write <venv>/bin/podrun for the running venv; False if it was already this script."""
    venv = sys.prefix
    paths = sysconfig.get_paths()
    site_dirs = list(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    package_dir = os.path.dirname(os.path.abspath(__file__))
    target = (bin_dir or Path(venv) / "bin") / "podrun"
    text = script_text(venv, os.path.join(venv, "bin", "python"), site_dirs, package_dir)
    if target.exists() and target.read_text() == text:
        return False
    tmp = target.with_name(".podrun.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.replace(target)
    return True


if __name__ == "__main__":
    if sys.prefix == sys.base_prefix:
        sys.exit("podrun.launcher: run it with the venv's python (.venv/bin/python -m podrun.launcher)")
    install()
