"""The Python snippets of the tutorials in docs/ run as written (in order, sharing a namespace)."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", ["tutorial_fnn_interpretation.md", "tutorial_qep.md"])
def test_tutorial_snippets_run(name):
    text = (DOCS / name).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert blocks, f"{name} has no python snippets"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, f"{name}", "exec"), namespace)  # noqa: S102 - the docs' own code
