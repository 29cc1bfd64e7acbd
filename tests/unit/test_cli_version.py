from click.testing import CliRunner

from podrun import __version__
from podrun.cli import cli


def test_version_names_podrun_and_kube_api() -> None:
    result = CliRunner().invoke(cli, ["version"])
    assert result.exit_code == 0
    assert result.output.startswith(f"podrun {__version__} ")
