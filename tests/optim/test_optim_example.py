"""examples/optimizer_paths.py runs, every optimizer gets closer to the minimum, the PNG exists."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "optimizer_paths.py"
FINAL = re.compile(r"^(\w+) +final \(([-+.\d]+), ([-+.\d]+)\)  f = (\S+)$", re.M)


def test_optimizer_paths_example(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True,
                            text=True, timeout=120,
                            env={**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    finals = {m[0]: np.array([float(m[1]), float(m[2])]) for m in FINAL.findall(result.stdout)}
    assert set(finals) == {"SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"}
    start = np.array([-7.0, 2.0])
    for name, point in finals.items():
        assert np.linalg.norm(point) < 0.2 * np.linalg.norm(start), name
        assert point[0] ** 2 / 20 + point[1] ** 2 < 0.02 * (49 / 20 + 4), name
    # the book's picture: SGD's x is still far from 0 after 30 steps, AdaGrad's y has settled
    assert abs(finals["SGD"][0]) > 0.1 and abs(finals["AdaGrad"][1]) < 1e-6
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "skipped: matplotlib is not installed" in result.stdout
    else:
        png = tmp_path / "optimizer_paths.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
