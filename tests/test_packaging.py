"""The wheel carries templates, pipelines and the sample data, so `pip install .` elsewhere has them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_templates_pipelines_and_sample_data(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("aigc_biz-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates/copy", "templates/report", "pipelines", "sample_data"):
        source = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob("*") if p.is_file()}
        assert source, folder
        assert {f"aigc_biz/_resources/{name}" for name in source} <= names, folder
    assert "aigc_biz/cli/app.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "aigc-biz = aigc_biz.cli:main" in entry_points
