"""Phase-sensor task: labels, sampling, metrics; CI-sized training (spec T2, slow)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from qnets.ep import HingePenalty, QuantumEP
from qnets.ep.phase_sensor import (
    phase_accuracy,
    phase_labels,
    sample_triangle,
    sensor_theta0,
    train_phase_sensor,
)
from qnets.errors import CheckpointError, ConfigError, ShapeError
from qnets.hamiltonians import cluster_ising_sensor


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with threadpool_limits(1):
        yield


def test_labels_sampling_and_metrics():
    assert list(phase_labels([[3.0, 0.5, 0.5], [1.0, 2.5, 0.5], [0.5, 0.5, 3.0],
                              [1.0, 2.0, 1.0]])) == [0, 1, 2, 1]
    x = sample_triangle(2000, np.random.default_rng(0))
    assert x.shape == (2000, 3) and np.allclose(x.sum(1), 4) and np.all(x >= 0)
    counts = np.bincount(phase_labels(x), minlength=3) / 2000
    assert np.allclose(counts, [3 / 8, 1 / 4, 3 / 8], atol=0.04)  # areas of the three phases
    patches = sample_triangle(300, np.random.default_rng(1), patches=True)
    assert np.all(np.abs(patches[:, 2] - np.round(patches[:, 2] * 2) / 2) <= 0.2 + 1e-12)
    acc = phase_accuracy([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [0, 1])
    assert acc == {"max_choice": 0.5, "single_shot": 0.5}
    with pytest.raises(ConfigError, match="n must be a positive integer"):
        sample_triangle(0, 0)
    with pytest.raises(ShapeError, match=r"x must have shape \(n, 3\)"):
        phase_labels(np.ones((2, 2)))


def _train(couplings, seed, n_batches, eval_every=0):
    H = cluster_ising_sensor(4, couplings=couplings)
    names = H.names("trainable")
    penalty = HingePenalty(0.02, 0.1, names=[n for n in names if n.startswith("c_")])
    q = QuantumEP(H, "mse", beta=0.4, mode="symmetric", penalty=penalty)
    test_x = sample_triangle(100, np.random.default_rng(12345))
    return train_phase_sensor(q, sensor_theta0(names, seed), n_batches=n_batches,
                              batch_size=10, lr=0.01, seed=seed, test_x=test_x,
                              eval_every=eval_every)


def test_short_training_improves_the_loss():
    result = _train("xyz", seed=1, n_batches=40, eval_every=20)
    assert result["theta"].shape == (51,)
    first, last = result["history"][1], result["history"][-1]  # batches 20 and 40
    assert last["train_loss"] < first["train_loss"]  # measured 0.757 → 0.625
    assert last["single_shot"] > result["history"][0]["single_shot"] + 0.1  # 0.13 → 0.32


@pytest.mark.slow
def test_ci_sized_phase_sensor_xyz_learns_z_only_fails():
    """Spec T2 CI version: N_sys = 4 + 2, 500 batches, no shot noise."""
    assert _train("xyz", seed=1, n_batches=500)["final"]["max_choice"] >= 0.90
    assert _train("z", seed=1, n_batches=500)["final"]["max_choice"] <= 0.75


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    """Interrupted after batch 4, resumed from the checkpoint: same θ and history as one run."""
    H = cluster_ising_sensor(3)  # 5 qubits: dense eigh, so the solves are deterministic
    names = H.names("trainable")
    test_x = sample_triangle(6, np.random.default_rng(7))

    def train(**kwargs):
        q = QuantumEP(H, "mse", beta=0.4, mode="symmetric", measurement="gaussian", shots=10,
                      seed=5)
        return train_phase_sensor(q, sensor_theta0(names, 2), batch_size=2, lr=0.05, seed=3,
                                  test_x=test_x, eval_every=2, **kwargs)

    full = train(n_batches=6)
    checkpoint = tmp_path / "seed.ckpt.json"

    class Interrupt(Exception):
        pass

    def interrupt(record):
        if record["batch"] == 4:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(n_batches=6, callback=interrupt, checkpoint=checkpoint)
    seen = []
    resumed = train(n_batches=6, checkpoint=checkpoint, callback=seen.append)
    assert resumed["resumed_from"] == 4
    assert [r["batch"] for r in seen] == [6]  # batch 4 was reported before the interruption
    assert [r["batch"] for r in resumed["history"]] == [0, 2, 4, 6]
    np.testing.assert_allclose(resumed["theta"], full["theta"], rtol=1e-10, atol=1e-12)
    for a, b in zip(resumed["history"], full["history"]):
        assert a["max_choice"] == b["max_choice"]
        assert a["single_shot"] == pytest.approx(b["single_shot"], rel=1e-10)
        assert (a["train_loss"] is None and b["train_loss"] is None) or \
            a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-10)
    assert resumed["seconds"] > 0
    with pytest.raises(CheckpointError, match="another schedule"):
        train(n_batches=8, checkpoint=checkpoint)
    checkpoint.write_text("{}")
    with pytest.raises(CheckpointError, match="not a phase-sensor training state"):
        train(n_batches=6, checkpoint=checkpoint)
    with pytest.raises(ConfigError, match="checkpoint_every must be a positive integer"):
        train(n_batches=6, checkpoint_every=0)
