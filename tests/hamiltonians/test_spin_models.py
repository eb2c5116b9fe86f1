"""Model zoo: Kitaev honeycomb geometry and fluxes, XXZ / Heisenberg oracles, bad input."""

import numpy as np
import pytest

from qnets.errors import ConfigError
from qnets.hamiltonians import (
    bond_operator,
    heisenberg,
    honeycomb_bonds,
    honeycomb_plaquettes,
    kitaev_honeycomb,
    plaquette_operator,
    xxz,
)


@pytest.mark.parametrize("shape", [(4, 2), (4, 4), (6, 2)])
def test_honeycomb_every_site_has_one_bond_of_each_type(shape):
    Lx, Ly = shape
    bonds = honeycomb_bonds(Lx, Ly)
    assert len(bonds) == 3 * Lx * Ly // 2
    for site in range(Lx * Ly):
        kinds = sorted(k for i, j, k in bonds if site in (i, j))
        assert kinds == ["x", "y", "z"]


@pytest.mark.parametrize("shape", [(4, 2), (6, 2)])
def test_plaquettes_commute_with_kitaev_model_and_each_other(shape):
    H = kitaev_honeycomb(*shape, Jx=0.3, Jy=0.5, Jz=0.9).matrix()
    Ws = [plaquette_operator(*shape, p).to_sparse() for p in range(len(honeycomb_plaquettes(*shape)))]
    for W in Ws:
        assert abs(H @ W - W @ H).max() < 1e-12
        assert abs(W @ Ws[0] - Ws[0] @ W).max() < 1e-12
    # the [111] field breaks the flux conservation and makes H complex
    Hf = kitaev_honeycomb(*shape, h=0.1)
    assert Hf.matrix().dtype == np.complex128
    assert abs(Hf.matrix() @ Ws[0] - Ws[0] @ Hf.matrix()).max() > 1e-3


def test_heisenberg_ring_energy_and_xxz_terms():
    # 4-site Heisenberg ring with Pauli operators: E0 = −8 (singlet; 4·S·S = σ·σ).
    energies = np.linalg.eigvalsh(heisenberg(4).dense())
    assert np.isclose(energies[0], -8.0)
    H = xxz(3, J=0.5, delta=2.0, h=0.1, periodic=False)
    assert H.names() == ["J", "Jz", "h"] and np.isclose(H.term("Jz").value, 1.0)
    expected = 0.5 * (bond_operator(3, 0, 1, "XX") + bond_operator(3, 0, 1, "YY")
                      + bond_operator(3, 1, 2, "XX") + bond_operator(3, 1, 2, "YY")).to_dense()
    expected += (bond_operator(3, 0, 1) + bond_operator(3, 1, 2)).to_dense()
    expected -= 0.1 * sum(np.kron(np.kron(*(np.eye(2 ** j), np.diag([1, -1]))), np.eye(2 ** (2 - j)))
                          for j in range(3))
    assert np.allclose(H.dense(), expected)


def test_model_bad_input():
    with pytest.raises(ConfigError, match="Lx must be an even integer"):
        honeycomb_bonds(3, 2)
    with pytest.raises(ConfigError, match="index must be an integer in 0 … 3"):
        plaquette_operator(4, 2, 7)
    with pytest.raises(ConfigError, match="roles: unknown parameter names"):
        kitaev_honeycomb(4, 2, roles={"Jw": "input"})
    with pytest.raises(ConfigError, match="two different sites"):
        bond_operator(3, 1, 1)
