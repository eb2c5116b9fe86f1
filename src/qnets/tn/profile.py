r"""Entanglement profile of a trained tensor network: entropies and Schmidt spectra at every cut.

* :class:`~qnets.tn.MPS`, :class:`~qnets.tn.MPSClassifier`, :class:`~qnets.tn.MPSBornMachine`:
  every contiguous cut of the chain (spec §2.1, one canonicalisation sweep). For a
  classifier the label tensor is an extra site of physical dimension ``C`` (joint
  entanglement of all classes).
* :class:`~qnets.tn.TTNClassifier`: every edge of the tree (spec §2.3): one bottom-up QR
  pass makes every node an isometry towards the root, then a top-down pass carries the
  environment ``X`` of each edge (``ρ_edge ∝ X X^†``) and reads the Schmidt values of the
  subtree below it from the singular values of ``X``. Physical (leaf) legs are included.

The von Neumann entropy of a cut is :math:`S = -\sum_\alpha s_\alpha^2 \ln s_\alpha^2`
(natural log; ``base=2`` for bits) and obeys :math:`S \le \ln \chi_{\text{cut}}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qnets.errors import ConfigError
from qnets.tn.mps import MPS, _svd, spectrum_entropy

__all__ = ["EntanglementProfile", "entanglement_profile"]


@dataclass
class EntanglementProfile:
    """Entropies and Schmidt spectra of a tensor network at every cut.

    Attributes
    ----------
    kind : {"mps", "ttn"}
    cuts : list
        MPS: ``k`` for the cut ``{sites 0..k-1} | rest`` of the chain (``k = 1 … n_sites-1``;
        for a classifier the chain includes the label site at ``label_site``). TTN: the
        sorted tuple of input indices below the edge.
    entropies : numpy.ndarray, shape (n_cuts,)
        In nats, or in ``base`` units.
    spectra : list of numpy.ndarray
        Normalised Schmidt values per cut (descending, ``Σ s² = 1``).
    bond_dims : numpy.ndarray of int, shape (n_cuts,)
        Largest possible Schmidt rank of the cut: the bond dimension, capped for an MPS by
        the Hilbert-space dimension of the smaller side; ``S ≤ ln(bond_dim)`` (:attr:`bounds`).
    base : float or None
    labels : list of str
        Short human-readable description of each cut.
    """

    kind: str
    cuts: list
    entropies: np.ndarray
    spectra: list
    bond_dims: np.ndarray
    base: float | None = None
    labels: list = field(default_factory=list)

    @property
    def bounds(self) -> np.ndarray:
        """``ln(bond_dim)`` per cut, in the profile's units."""
        scale = 1.0 if self.base is None else np.log(self.base)
        return np.log(self.bond_dims.astype(np.float64)) / scale

    @property
    def schmidt_ranks(self) -> np.ndarray:
        """Number of Schmidt values above ``1e-12 · s_max`` per cut."""
        return np.array([int((s > 1e-12 * s[0]).sum()) for s in self.spectra])

    def summary(self) -> dict[str, Any]:
        """Headline numbers (JSON-ready): max / mean entropy, where, bound, units."""
        i = int(np.argmax(self.entropies))
        return {
            "kind": self.kind,
            "n_cuts": len(self.cuts),
            "max_entropy": float(self.entropies[i]),
            "argmax_cut": self.labels[i] if self.labels else str(self.cuts[i]),
            "mean_entropy": float(np.mean(self.entropies)),
            "max_bound": float(np.max(self.bounds)),
            "units": "nats" if self.base is None else f"log base {self.base}",
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready lists."""
        return {
            **self.summary(),
            "cuts": [c if isinstance(c, int) else list(map(int, c)) for c in self.cuts],
            "labels": list(self.labels),
            "entropies": self.entropies.tolist(),
            "bond_dims": self.bond_dims.tolist(),
            "schmidt_values": [s.tolist() for s in self.spectra],
        }


def entanglement_profile(model, *, base: float | None = None) -> EntanglementProfile:
    """Entanglement entropies and Schmidt spectra at every cut of an MPS or tree network.

    Parameters
    ----------
    model : MPS, MPSClassifier, MPSBornMachine or TTNClassifier
    base : float, optional
        Logarithm base of the entropies (``None``: natural log).

    Returns
    -------
    EntanglementProfile
    """
    from qnets.tn.born import MPSBornMachine
    from qnets.tn.classifiers import MPSClassifier, TTNClassifier

    if base is not None:
        spectrum_entropy(np.ones(1), base=base)  # validates base
    if isinstance(model, TTNClassifier):
        return _ttn_profile(model, base)
    if isinstance(model, (MPSClassifier, MPSBornMachine)):
        mps = model.to_mps()
        label = getattr(model, "label_site", None)
    elif isinstance(model, MPS):
        mps, label = model, None
    else:
        raise ConfigError(
            "model: expected an MPS, MPSClassifier, MPSBornMachine or TTNClassifier, got "
            f"{type(model).__name__}"
        )
    with torch.no_grad():
        spectra = mps.schmidt_spectra()
    cuts = list(range(1, mps.n_sites))
    labels = []
    for k in cuts:
        if label is None:
            labels.append(f"sites <{k}")
        else:  # chain site k-1 is the last site on the left
            inputs = k if k <= label else k - 1
            labels.append(f"inputs <{inputs}" + (" + label" if k > label else ""))
    return EntanglementProfile(
        kind="mps",
        cuts=cuts,
        entropies=np.array([spectrum_entropy(s, base=base) for s in spectra]),
        spectra=spectra,
        bond_dims=_effective_bonds(mps),
        base=base,
        labels=labels,
    )


def _effective_bonds(mps: MPS) -> np.ndarray:
    """``min(χ_k, Π_{i≤k} d_i, Π_{i>k} d_i)`` per cut: the largest possible Schmidt rank."""
    logd = np.log(np.array(mps.phys_dims, dtype=np.float64))
    left, right = np.cumsum(logd)[:-1], np.cumsum(logd[::-1])[::-1][1:]
    cap = np.exp(np.minimum(np.minimum(left, right), 62 * np.log(2)))
    return np.minimum(np.array(mps.bond_dims, dtype=np.int64), np.round(cap).astype(np.int64))


@torch.no_grad()
def _ttn_profile(model, base) -> EntanglementProfile:
    nodes = [p.detach().to(torch.float64).clone() for p in model.nodes]
    n_levels = len(nodes)
    # Bottom-up: node (a, a, b) -> Q (a, a, r) isometric, R (r, b) pushed into the parent.
    for level in range(n_levels - 1):
        t = nodes[level]
        n, a, _, b = t.shape
        q, r = torch.linalg.qr(t.reshape(n, a * a, b))
        r = r / torch.linalg.matrix_norm(r, keepdim=True).clamp_min(1e-300)
        nodes[level] = q.reshape(n, a, a, q.shape[-1])
        parent = nodes[level + 1]
        r_left, r_right = r[0::2], r[1::2]
        parent = torch.einsum("nip,npqk->niqk", r_left, parent)
        parent = torch.einsum("njq,npqk->npjk", r_right, parent)
        nodes[level + 1] = parent
    cuts, spectra, dims, labels = [], [], [], []
    # Top-down: env[level][j] is X (b, m) of the edge above node j of `level`.
    root = nodes[-1][0]
    envs = [root.permute(2, 0, 1).reshape(root.shape[2], -1)]  # not an edge (class leg)
    env_level = None
    for level in range(n_levels - 1, -1, -1):
        t = nodes[level]
        n, a, _, b = t.shape
        child_envs = []
        for j in range(n):
            x = envs[j] if env_level is not None else None
            for side in (0, 1):
                if level == n_levels - 1:
                    mat = t[j].permute(side, 1 - side, 2).reshape(a, -1)
                else:
                    y = torch.tensordot(t[j], x, dims=([2], [0]))  # (a, a, m)
                    mat = y.permute(side, 1 - side, 2).reshape(a, -1)
                u, s, _ = _svd(mat)
                s = s / torch.linalg.vector_norm(s)
                child_envs.append(u * s)
                leaves = _subtree_leaves(model, level - 1, 2 * j + side)
                cuts.append(tuple(int(i) for i in leaves))
                spectra.append(s.cpu().numpy().astype(np.float64))
                dims.append(a)
                labels.append(
                    f"level {level - 1} node {2 * j + side}" if level > 0 else f"input {leaves[0]}"
                )
        envs, env_level = child_envs, level
    return EntanglementProfile(
        kind="ttn",
        cuts=cuts,
        entropies=np.array([spectrum_entropy(s, base=base) for s in spectra]),
        spectra=spectra,
        bond_dims=np.array(dims, dtype=np.int64),
        base=base,
        labels=labels,
    )


def _subtree_leaves(model, level: int, index: int) -> np.ndarray:
    """Input indices below node ``index`` of ``level`` (``level = -1``: a single leaf)."""
    order = model.order.cpu().numpy()
    size = 2 ** (level + 1)
    return np.sort(order[index * size : (index + 1) * size])
