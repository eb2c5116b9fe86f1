"""Tensor-network part of ``qnets demo``: prints accuracy and the entropy per cut."""

from __future__ import annotations

import math

from qnets.cli.tn_demo import run_tn_demo


def test_tn_demo_prints_accuracy_and_profile(tmp_path):
    lines: list[str] = []
    result = run_tn_demo(epochs=2, out=tmp_path, echo=lines.append)
    assert lines[0].startswith("TN demo: MPS classifier, χ = 8")
    assert lines[1].startswith("test accuracy")
    assert 0.0 < result["entanglement"]["max_entropy"] <= math.log(8)
    assert lines[2].startswith("entanglement entropy per cut")
    assert len(lines[3].strip().strip("|")) == 64  # one bar per cut of the 65-site chain
    assert (tmp_path / "entanglement_profile.png").is_file()
