"""The entry points find their configs from a checkout and from an installed wheel alike."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from encdec.cli.common import CONF, ROOT, find_conf

REPO = Path(__file__).resolve().parents[2]


def test_a_checkout_uses_its_own_conf_folder() -> None:
    assert CONF == REPO / "conf"
    assert ROOT == REPO


def test_an_installed_package_uses_the_conf_shipped_inside_it(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "site-packages" / "encdec"
    (package / "conf").mkdir(parents=True)
    (package / "conf" / "train.yaml").write_text("defaults: []\n")
    monkeypatch.chdir(tmp_path)
    assert find_conf(package) == (package / "conf", tmp_path)


@pytest.mark.slow
def test_the_wheel_ships_conf_and_composes_without_a_checkout(tmp_path: Path) -> None:
    """Build the wheel from a copy of the checkout (building writes into its source folder),
    unpack it away from the checkout and compose the training config there."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "src", "conf"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, symlinks=True)
        else:
            shutil.copy2(REPO / name, source / name)
    wheel_dir = tmp_path / "wheel"
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, str(source), "-w", str(wheel_dir)], check=True)
    wheel = next(wheel_dir.glob("encdec-*.whl"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "encdec" / "conf" / "train.yaml").is_file()
    assert (site / "encdec" / "serving" / "static" / "index.html").is_file()
    work = tmp_path / "work"
    work.mkdir()
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r}); sys.argv = ['train.py', '--cfg', 'job'];"
        "from encdec.cli.train import main; main()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert "_target_: encdec.tasks" in out.stdout
