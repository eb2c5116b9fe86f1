"""QEP part of ``qnets demo``: runs in seconds, its gradient check and exploration work."""

from threadpoolctl import threadpool_limits

from qnets.cli.qep_demo import run_qep_demo


def test_qep_demo_gradient_check_and_exploration():
    lines = []
    with threadpool_limits(1):
        out = run_qep_demo(iterations=20, echo=lines.append)
    assert out["gradient_check_rel_error"] < 1e-5
    assert len(out["runs"]) == 2
    # the second start climbs to strong x-correlation (|⟨X0 X4⟩| from 0.07 to ≈ 1)
    assert out["runs"][1]["losses"][-1] < -0.9
    assert any("gradient check" in line for line in lines)
