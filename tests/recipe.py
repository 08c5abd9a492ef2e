"""The example op of docs/architecture.md ("How to add an op"), added as the recipe says.

The recipe's two code blocks are run as written: the op's definition (which registers it) and
its row of the case table (tests/ops/cases.py). As a pytest plugin, `-p tests.recipe`, this
module adds them before any test module is collected (pytest_configure), so the
registry-generated tests include the op; tests/test_recipe.py runs them so, in a fresh process.
Imported otherwise, it registers nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[1] / "docs" / "architecture.md"
NAME = "cube"


def recipe_blocks() -> tuple[str, str]:
    """The recipe's Python blocks: the op's definition, and its case row."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## How to add an op"):]
    section = section.split("\n## ", 1)[0]         # up to the next section, if any
    op, row = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return op, row


def add_recipe_op() -> None:
    """Register the recipe's op and add its case row, both as the docs write them."""
    from tests.ops import cases

    op, row = recipe_blocks()
    exec(compile(op, f"{DOC}: the op", "exec"), {"__name__": "recipe_op"})   # noqa: S102
    cases.CASES.update(eval(compile("{" + row + "}", f"{DOC}: the case row", "eval"),
                            vars(cases)))


def pytest_configure(config) -> None:
    """As a plugin: the op and its row are in place before collection."""
    add_recipe_op()
