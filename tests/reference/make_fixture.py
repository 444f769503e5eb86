#!/usr/bin/env python3
"""Independent float64 reference fixture for `mgs`, computed with JAX autodiff.

Everything derivative-related (Jacobians, VJP/JVP/HVP, penalty gradients) comes from
jax.jacrev / jax.grad / jax.jvp / jax.vjp, not from hand-derived formulas.
Conventions: /work/shared/design/mgs-math.md (flat parameter layout, row r = i*C + c).

Usage: python tests/reference/make_fixture.py   (writes tests/reference/fixture.json)
"""
import json
import math
import os

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.special as jsp  # noqa: E402
import numpy as np  # noqa: E402

EPS = 1e-3
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixture.json")


# ---------------------------------------------------------------- activations (by hand)
def _sigmoid(z):
    return 1.0 / (1.0 + jnp.exp(-z))


def activation(name, param):
    if name == "identity":
        return lambda z: z
    if name == "tanh":
        return jnp.tanh
    if name == "relu":
        return lambda z: jnp.maximum(z, 0.0)
    if name == "leaky_relu":
        return lambda z: jnp.where(z > 0, z, param * z)
    if name == "sigmoid":
        return _sigmoid
    if name == "softplus":  # log(1+e^z), stable form
        return lambda z: jnp.maximum(z, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(z)))
    if name == "elu":  # min() keeps the unused branch finite
        return lambda z: jnp.where(z > 0, z, param * jnp.expm1(jnp.minimum(z, 0.0)))
    if name == "silu":
        return lambda z: z * _sigmoid(z)
    if name == "gelu_erf":
        return lambda z: z * 0.5 * (1.0 + jsp.erf(z / math.sqrt(2.0)))
    if name == "gelu_tanh":
        k = math.sqrt(2.0 / math.pi)
        return lambda z: 0.5 * z * (1.0 + jnp.tanh(k * (z + 0.044715 * z**3)))
    raise ValueError(name)


# ---------------------------------------------------------------- model
def make_mlp(d, hidden, C):
    """hidden: list of (width, activation, param). Returns (P, shapes, f(theta, X) -> N x C)."""
    widths = [d] + [h[0] for h in hidden] + [C]
    acts = [activation(a, p) for (_, a, p) in hidden] + [None]
    shapes = [(widths[l + 1], widths[l]) for l in range(len(widths) - 1)]
    P = sum(o * (i + 1) for o, i in shapes)

    def f(theta, X):
        a, off = X, 0
        for (o, i), sig in zip(shapes, acts):
            W = theta[off:off + o * i].reshape(o, i)  # row-major: W[o,i] at o*n_in + i
            off += o * i
            b = theta[off:off + o]
            off += o
            z = a @ W.T + b
            a = z if sig is None else sig(z)
        return a

    return P, shapes, f


# ---------------------------------------------------------------- kernels and metrics
def jacobian(f, theta, X):
    return jax.jacrev(lambda t: f(t, X).reshape(-1))(theta)  # (N*C) x P, row i*C + c



def traced(Kfull, n1, n2, C):
    return jnp.einsum("icjc->ij", Kfull.reshape(n1, C, n2, C))


def chol_logdet(A):
    L = jnp.linalg.cholesky(A)
    return 2.0 * jnp.sum(jnp.log(jnp.diag(L)))


def m_trace(K):
    return jnp.trace(K) / K.shape[0]


def m_logdet(K):
    m = K.shape[0]
    tau = jnp.trace(K) / m
    return chol_logdet(K + EPS * tau * jnp.eye(m)) / m


def m_normalised_logdet(K):
    return m_logdet(K) - jnp.log(jnp.trace(K) / K.shape[0])


def cosine_kernel(K):
    s = 1.0 / jnp.sqrt(jnp.diag(K))
    return K * s[:, None] * s[None, :]


def m_cosine_mean(K):
    m = K.shape[0]
    Kh = cosine_kernel(K)
    return (jnp.sum(Kh) - jnp.trace(Kh)) / (m * (m - 1))


def m_cosine_logdet(K):
    m = K.shape[0]
    return chol_logdet(cosine_kernel(K) + EPS * jnp.eye(m)) / m


PENALTY_METRICS = {
    "trace": m_trace,
    "logdet": m_logdet,
    "normalised_logdet": m_normalised_logdet,
    "cosine_logdet": m_cosine_logdet,
}


def all_metrics(K):
    K = np.asarray(K)
    m = K.shape[0]
    tau = np.trace(K) / m
    lam = np.linalg.eigvalsh(K)  # ascending, K itself (not jittered)
    lp = np.maximum(lam, 0.0)
    p = lp / lp.sum()
    nz = p[p > 0]
    lam_eps = np.linalg.eigvalsh(K + EPS * tau * np.eye(m))
    out = {name: float(g(jnp.asarray(K))) for name, g in PENALTY_METRICS.items()}
    out["cosine_mean"] = float(m_cosine_mean(jnp.asarray(K)))
    out["eigenvalues"] = lam.tolist()
    out["effective_rank"] = float(np.exp(-np.sum(nz * np.log(nz))))
    out["condition_number"] = float(lam_eps[-1] / lam_eps[0])
    # cross-checks of the Cholesky log-determinants against slogdet
    s, ld = np.linalg.slogdet(K + EPS * tau * np.eye(m))
    assert s > 0 and abs(ld / m - out["logdet"]) <= 1e-10 * max(1.0, abs(ld / m))
    Kh = np.asarray(cosine_kernel(jnp.asarray(K)))
    s, ld = np.linalg.slogdet(Kh + EPS * np.eye(m))
    assert s > 0 and abs(ld / m - out["cosine_logdet"]) <= 1e-10 * max(1.0, abs(ld / m))
    return out


# ---------------------------------------------------------------- networks
NETWORKS = [
    ("net1_tanh", 3, [(5, "tanh", None)], 1, 6),
    ("net2_gelu_erf_softplus", 4, [(6, "gelu_erf", None), (5, "softplus", None)], 3, 5),
    ("net3_silu_elu_sigmoid", 2, [(4, "silu", None), (4, "elu", 0.7), (3, "sigmoid", None)], 2, 4),
    ("net4_gelu_tanh_leaky_relu", 5, [(7, "gelu_tanh", None), (6, "leaky_relu", 0.1)], 3, 4),
    ("net5_relu_identity", 3, [(5, "relu", None), (4, "identity", None)], 2, 5),
]
N2 = 3


def rel_err(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def build(k, name, d, hidden, C, N):
    rng = np.random.default_rng(20240 + k)
    P, shapes, f = make_mlp(d, hidden, C)
    parts = []
    for o, i in shapes:
        parts.append((rng.standard_normal((o, i)) / np.sqrt(i)).reshape(-1))
        parts.append(0.1 * rng.standard_normal(o))
    theta = jnp.asarray(np.concatenate(parts))
    assert theta.shape == (P,)
    X = jnp.asarray(rng.standard_normal((N, d)))
    X2 = jnp.asarray(rng.standard_normal((N2, d)))
    U = jnp.asarray(rng.standard_normal((N, C)))
    v = jnp.asarray(rng.standard_normal(P))

    F = f(theta, X)
    jac = jax.jit(lambda t, x: jacobian(f, t, x))
    J = jac(theta, X)
    J2 = jac(theta, X2)
    assert J.shape == (N * C, P)
    # J from reverse mode agrees with forward mode
    Jf = jax.jit(jax.jacfwd(lambda t: f(t, X).reshape(-1)))(theta)
    assert np.allclose(J, Jf, rtol=1e-12, atol=1e-13)

    Kf = J @ J.T
    Kt = traced(Kf, N, N, C)
    Kcf = J @ J2.T
    Kct = traced(Kcf, N, N2, C)
    scale = float(jnp.max(jnp.abs(Kf)))
    assert float(jnp.max(jnp.abs(Kf - Kf.T))) <= 1e-13 * scale, "K_full not symmetric"
    # traced kernel == block trace of full kernel (independent loop)
    Kt_loop = np.zeros((N, N))
    Jn = np.asarray(J)
    for i in range(N):
        for j in range(N):
            Kt_loop[i, j] = sum(Jn[i * C + c] @ Jn[j * C + c] for c in range(C))
    assert np.allclose(Kt, Kt_loop, rtol=1e-13, atol=1e-14 * scale)

    # penalties: K computed from jacrev inside the differentiated function
    def kernel_of(t, kind):
        Jt = jacobian(f, t, X)
        K = Jt @ Jt.T
        return K if kind == "full" else traced(K, N, N, C)

    kinds_metrics = [(kind, mname) for kind in ("full", "traced") for mname in PENALTY_METRICS]

    @jax.jit
    def penalties(t):  # all 8 penalty values g(K(theta)) as one vector
        Ks = {kind: kernel_of(t, kind) for kind in ("full", "traced")}
        return jnp.stack([PENALTY_METRICS[mname](Ks[kind]) for kind, mname in kinds_metrics])

    vals = penalties(theta)
    grads = jax.jit(jax.jacrev(penalties))(theta)  # row q = grad of penalty q (reverse-over-reverse)
    # central finite difference along a random direction, every penalty
    dirn = jnp.asarray(rng.standard_normal(P))
    h = 1e-5
    fd = (penalties(theta + h * dirn) - penalties(theta - h * dirn)) / (2 * h)
    an = grads @ dirn
    penalty = []
    for q, (kind, mname) in enumerate(kinds_metrics):
        err = rel_err(float(fd[q]), float(an[q]))
        assert err < 1e-6, (name, kind, mname, err)
        penalty.append({"metric": mname, "kernel": kind, "value": float(vals[q]),
                        "grad": np.asarray(grads[q]).tolist(), "fd_rel_err": err})

    # VJP / JVP / HVP
    def s(t, x):
        return jnp.sum(U * f(t, x))

    vjp_params, vjp_inputs = jax.jit(jax.grad(s, argnums=(0, 1)))(theta, X)
    assert np.allclose(vjp_params, J.T @ U.reshape(-1), rtol=1e-12, atol=1e-13)
    jvp = jax.jit(lambda t, u: jax.jvp(lambda t: f(t, X), (t,), (u,))[1])(theta, v)
    assert np.allclose(jvp.reshape(-1), J @ v, rtol=1e-12, atol=1e-13)
    hvp = jax.jit(lambda t, u: jax.jvp(jax.grad(lambda t: s(t, X)), (t,), (u,))[1])(theta, v)
    Hfull = jax.jit(jax.hessian(lambda t: s(t, X)))(theta)
    assert np.allclose(hvp, Hfull @ v, rtol=1e-11, atol=1e-12)

    tolist = lambda a: np.asarray(a).tolist()  # noqa: E731
    return {
        "name": name,
        "input_dim": d,
        "hidden": [{"width": w, "activation": a, "param": p} for (w, a, p) in hidden],
        "output_dim": C,
        "num_params": P,
        "params": tolist(theta),
        "x": tolist(X),
        "x2": tolist(X2),
        "f": tolist(F),
        "jacobian": tolist(J),
        "kernel_full": tolist(Kf),
        "kernel_traced": tolist(Kt),
        "cross_full": tolist(Kcf),
        "cross_traced": tolist(Kct),
        "metrics_full": all_metrics(Kf),
        "metrics_traced": all_metrics(Kt),
        "penalty": penalty,
        "cotangent": tolist(U),
        "tangent": tolist(v),
        "vjp_params": tolist(vjp_params),
        "vjp_inputs": tolist(vjp_inputs),
        "jvp": tolist(jvp),
        "hvp": tolist(hvp),
    }


def main():
    nets = [build(k, *spec) for k, spec in enumerate(NETWORKS)]
    doc = {"jax_version": jax.__version__, "numpy_version": np.__version__, "eps": EPS,
           "networks": nets}
    with open(OUT, "w") as fh:
        json.dump(doc, fh)
        fh.write("\n")
    for n in nets:
        worst = max(p["fd_rel_err"] for p in n["penalty"])
        print(f"{n['name']}: P={n['num_params']} m_full={len(n['kernel_full'])} "
              f"worst penalty FD rel err={worst:.1e}")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes), jax {jax.__version__}")


if __name__ == "__main__":
    main()
