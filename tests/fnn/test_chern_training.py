"""CI-sized spec B5: an FNN with the `system` encoder learns the Chern transition.

Clean L = 8 data (1000 train / 400 test), 64-32-16-2, z = 0.01i, init 1.0, Adam 1e-3,
batch 64, 8 epochs (cosine). Measured: 100 % test accuracy, P(topological) crossing 0.5
between κ = 0.500 and 0.509, ≈ 10 s on one core.
"""

import numpy as np
import torch

from qnets.fnn import FermionNetwork
from qnets.fnn.datasets import chern_dataset
from qnets.hamiltonians import chern_insulator
from qnets.training import TrainConfig, Trainer


def test_system_encoder_learns_the_chern_transition():
    train, test = chern_dataset(1000, 8, seed=0), chern_dataset(400, 8, seed=1)
    net = FermionNetwork([64, 32, 16, 2], encoder="system", eta=0.01, init_bound=1.0, seed=0)
    config = TrainConfig(epochs=8, batch_size=64, lr=1e-3, weight_decay=0.0, larc=False)
    data = [(torch.from_numpy(d.hamiltonians), torch.from_numpy(d.labels)) for d in (train, test)]
    history = Trainer(net, torch.nn.functional.cross_entropy, *data, config, progress=False).fit()
    assert history[-1]["test_accuracy"] >= 0.97
    kappas = np.linspace(0.1, 1.0, 100)
    hamiltonians = torch.from_numpy(np.stack([chern_insulator(8, k) for k in kappas]))
    with torch.no_grad():
        p = torch.softmax(net(hamiltonians), -1)[:, 1].numpy()
    above = int(np.argmax(p > 0.5))
    assert above > 0 and (p[above:] > 0.5).mean() > 0.95
    crossing = np.interp(0.5, [p[above - 1], p[above]], [kappas[above - 1], kappas[above]])
    assert abs(crossing - 0.5) <= 0.03
