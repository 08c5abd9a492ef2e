"""docs/training.md runs: its python blocks, in order, as one script (a tutorial that does not
run teaches the wrong thing)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "training.md"


def test_the_tutorial_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "(1438, 64) float32" in out and "dense1_w (64, 64) float32" in out
    assert "parameter 'dense1_w': the model expects float32 (64, 128)" in out
    assert namespace["accuracy"] >= 0.95
    assert namespace["history"].val_loss[-1] is not None
