"""Cost of one QEP gradient vs finite differences and vs the straightforward approach, and a
20-spin TFIM ground state against the exact free-fermion energy, full space and parity sector
(spec ``qep.md`` §4, §5.1).

Sensor: the cluster-Ising ring (``--n-sys``) + 2 sensor qubits with the 51 trainable couplings
(system–sensor ``U(−0.1, 0.1)``, sensor ``N(0, 1)``), one random input ``x`` in the triangle,
MSE on the three projectors, symmetric ``β`` (default 0.4). Per gradient (one sample):

* ``qep``: :class:`qnets.ep.QuantumEP` (free solve + two nudged solves warm-started from the
  free state, by the built-in restarted Lanczos of :mod:`qnets.solvers.lanczos`; real
  arithmetic when ``H`` is real; the matrices assembled from the cached term table), with
  and without the free-phase gap (the gap needs two eigenpairs: ARPACK);
* ``fd``: :class:`qnets.ep.FiniteDifferenceGradient` (central, ``2N + 1 = 103`` equilibria,
  shifted solves warm-started from the free state);
* ``straightforward``: three fresh complex ``scipy.sparse.linalg.eigsh(k=1, which='SA')``
  (free, ``+β``, ``−β``) on ``H`` cast to complex128, expectation values by one sparse
  mat-vec per operator (the authors' pattern).

Wall times are the minimum over ``--repeats`` (the machine is shared); CPU (process) times
the median. BLAS is limited to ``--threads`` threads. Prints one JSON line and appends it to
``benchmarks/results/qep_gradient.jsonl``.

Usage: ``python benchmarks/qep_gradient.py [--n-sys 8] [--beta 0.4] [--repeats 7] [--tfim-n 20]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from qnets.ep import FiniteDifferenceGradient, QuantumEP
from qnets.hamiltonians import cluster_ising, cluster_ising_sensor, tfim
from qnets.solvers import ground_state


def _timed(fn, repeats):
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return float(min(walls)), float(np.median(cpus)), result


def _straightforward(H, theta, x, target, beta):
    """Free + two nudged equilibria, each a fresh complex eigsh; per-operator expectations."""
    target = np.asarray(target, dtype=float)
    train = [op.to_sparse(np.complex128) for op in H.operators("trainable")]
    outs = [op.to_sparse(np.complex128) for op in H.operators("output")]
    M = H.matrix(x=x, theta=theta).astype(np.complex128)

    def solve(mat):
        _, v = spla.eigsh(mat, k=1, which="SA")
        return v[:, 0]

    def expect(ops, psi):
        return np.array([np.vdot(psi, op @ psi).real for op in ops])

    psi = solve(M)
    eps = 2 * (expect(outs, psi) - target)
    out = sum(e * o for e, o in zip(eps, outs))
    plus = expect(train, solve((M + beta * out).tocsr()))
    minus = expect(train, solve((M - beta * out).tocsr()))
    return (plus - minus) / (2 * beta)


def _sensor_problem(n_sys, seed):
    rng = np.random.default_rng(seed)
    H = cluster_ising_sensor(n_sys)
    theta = np.concatenate([rng.uniform(-0.1, 0.1, 36), rng.normal(size=15)])
    gx, gzz = rng.uniform(0, 4, 2)
    if gx + gzz > 4:
        gx, gzz = 4 - gx, 4 - gzz
    return H, theta, np.array([4 - gx - gzz, gzz, gx]), np.array([0.0, 0.0, 1.0])


def _chain_problem(n):
    """Real case: cluster-Ising ring, trainable (g_zxz, g_zz, g_x), output X_0 X_{n/2} (MSE)."""
    H = cluster_ising(n, g_zxz=1.0, roles={"g_zxz": "trainable", "g_zz": "trainable",
                                            "g_x": "trainable"})
    H.add("O", f"X0 X{n // 2}", role="output")
    return H, np.array([0.5, 0.9, 0.7]), None, np.array([0.8])


def _case(problem, beta, repeats):
    H, theta, x, target = problem
    exact, _ = QuantumEP(H, beta=beta, mode="linear_response").gradient(theta, x, target)
    qep = QuantumEP(H, beta=beta, gap=False)
    qep_gap = QuantumEP(H, beta=beta, gap=True)
    fd = FiniteDifferenceGradient(H, h=1e-5)
    qep.gradient(theta, x, target)  # caches (term table, operator matrices)
    t_qep, c_qep, (g_qep, info) = _timed(lambda: qep.gradient(theta, x, target), repeats)
    t_gap, _, _ = _timed(lambda: qep_gap.gradient(theta, x, target), repeats)
    _straightforward(H, theta, x, target, beta)
    t_sf, c_sf, g_sf = _timed(lambda: _straightforward(H, theta, x, target, beta), repeats)
    t_fd, c_fd, (g_fd, info_fd) = _timed(lambda: fd.gradient(theta, x, target), max(1, repeats // 3))
    rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))
    return {
        "n_params": len(theta),
        "real_hamiltonian": H.is_real,
        "qep_wall_s": round(t_qep, 4),
        "qep_cpu_s": round(c_qep, 4),
        "qep_with_gap_wall_s": round(t_gap, 4),
        "straightforward_wall_s": round(t_sf, 4),
        "straightforward_cpu_s": round(c_sf, 4),
        "fd_wall_s": round(t_fd, 4),
        "fd_cpu_s": round(c_fd, 4),
        "speedup_vs_fd_wall": round(t_fd / t_qep, 2),
        "speedup_vs_fd_cpu": round(c_fd / c_qep, 2),
        "speedup_vs_straightforward_wall": round(t_sf / t_qep, 2),
        "speedup_vs_straightforward_cpu": round(c_sf / c_qep, 2),
        "qep_equilibria": info["n_equilibria"],
        "fd_equilibria": info_fd["n_equilibria"],
        "qep_settings": info["n_settings"],
        "fd_settings": info_fd["n_settings"],
        "rel_err_qep_vs_exact": rel(g_qep, exact),
        "rel_err_straightforward_vs_exact": rel(g_sf, exact),
        "rel_err_fd_vs_exact": rel(g_fd, exact),
    }


def _tfim_case(n):
    k = 2 * np.pi * (np.arange(n) + 0.5) / n
    exact = -float(np.sum(np.sqrt(1 + 0.81 - 1.8 * np.cos(k))))  # J = 1, h = 0.9
    start = time.perf_counter()
    H = tfim(n, J=1.0, h=0.9)
    H.matrix()
    build = time.perf_counter() - start
    start = time.perf_counter()
    gs = ground_state(H, method="lanczos", gap=False)
    solve = time.perf_counter() - start
    parity = " ".join(f"X{j}" for j in range(n))
    start = time.perf_counter()
    even = ground_state(H, method="lanczos", gap=False, sector=(parity, 1))
    solve_sector = time.perf_counter() - start
    return {"tfim_n": n, "tfim_build_s": round(build, 2), "tfim_solve_s": round(solve, 2),
            "tfim_energy": gs.energy, "tfim_exact": exact,
            "tfim_abs_error": abs(gs.energy - exact), "tfim_residual": gs.residual,
            "tfim_parity_sector_solve_s": round(solve_sector, 2),
            "tfim_parity_sector_abs_error": abs(even.energy - exact)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sys", type=int, default=8)
    parser.add_argument("--beta", type=float, default=0.4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tfim-n", type=int, default=20, help="0 skips the TFIM part")
    parser.add_argument("--skip-sensor", action="store_true", help="only the TFIM part")
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        record = {"benchmark": "qep_gradient", "n_sys": args.n_sys, "beta": args.beta,
                  "threads": args.threads, "repeats": args.repeats}
        cases = {"sensor": _sensor_problem(args.n_sys, args.seed),
                 "chain": _chain_problem(args.n_sys + 2)}
        for name, problem in ({} if args.skip_sensor else cases).items():
            case = _case(problem, args.beta, args.repeats)
            record.update({f"{name}_{k}": v for k, v in case.items()})
        if args.tfim_n:
            record.update(_tfim_case(args.tfim_n))
    record["machine"] = platform.processor() or platform.machine()
    record["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "qep_gradient.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as fh:
        fh.write(line + "\n")


if __name__ == "__main__":
    main()
