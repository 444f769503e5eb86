"""Independent NumPy float64 reference for the centred kernels and the hinged MGS penalty.

Writes tests/reference/penalty_forms_fixture.json (read by tests/penalty_forms.rs). Nothing here
comes from the crate's code: the per-sample Jacobian of a tanh MLP is built by hand-written
backpropagation (checked against central differences of the outputs), the centred Jacobian by
subtracting each sample's mean row, and the log-determinants by numpy.linalg.slogdet.

Parameter layout (the crate's, PyTorch's nn.Linear order): layer after layer, W (n_out x n_in)
row-major, then b. Jacobian rows are sample-major, r = i*C + c.

Run from the repository root:  python3 tests/reference/penalty_forms.py   (needs numpy only)
"""

import json
import os

import numpy as np

JITTER = 1e-3
FD_STEP = 1e-5


def unpack(theta, widths):
    layers, o = [], 0
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        w = theta[o:o + n_out * n_in].reshape(n_out, n_in)
        o += n_out * n_in
        b = theta[o:o + n_out]
        o += n_out
        layers.append((w, b))
    assert o == theta.size
    return layers


def forward(theta, widths, x):
    """Activations a^0..a^{L-1} and pre-activations z^1..z^L for one sample."""
    acts, pres = [x], []
    layers = unpack(theta, widths)
    for l, (w, b) in enumerate(layers):
        z = w @ acts[-1] + b
        pres.append(z)
        if l + 1 < len(layers):
            acts.append(np.tanh(z))
    return acts, pres


def outputs(theta, widths, xs):
    return np.array([forward(theta, widths, x)[1][-1] for x in xs])


def jacobian(theta, widths, xs):
    """(N*C) x P, row i*C + c = gradient of f_c(x_i), by backpropagation per output."""
    layers = unpack(theta, widths)
    c_out = widths[-1]
    rows = []
    for x in xs:
        acts, pres = forward(theta, widths, x)
        for c in range(c_out):
            delta = np.zeros(c_out)
            delta[c] = 1.0
            blocks = [None] * len(layers)
            for l in reversed(range(len(layers))):
                blocks[l] = np.concatenate([np.outer(delta, acts[l]).ravel(), delta])
                if l > 0:
                    w = layers[l][0]
                    delta = (w.T @ delta) * (1.0 - np.tanh(pres[l - 1]) ** 2)
            rows.append(np.concatenate(blocks))
    return np.array(rows)


def centred(j, n, c):
    jr = j.reshape(n, c, -1)
    return (jr - jr.mean(axis=1, keepdims=True)).reshape(n * c, -1)


def kernels(theta, widths, xs):
    n, c = len(xs), widths[-1]
    jc = centred(jacobian(theta, widths, xs), n, c)
    full = jc @ jc.T
    traced = np.einsum("iajb,ab->ij", full.reshape(n, c, n, c), np.eye(c))
    return {"centred_full": full, "centred_traced": traced}


def metric(name, k):
    m = k.shape[0]
    tau = np.trace(k) / m
    if name == "trace":
        return tau
    if name in ("logdet", "normalized_logdet"):
        sign, ld = np.linalg.slogdet(k + JITTER * tau * np.eye(m))
        assert sign > 0
        return ld / m - (np.log(tau) if name == "normalized_logdet" else 0.0)
    if name == "cosine_logdet":
        s = 1.0 / np.sqrt(np.diag(k))
        sign, ld = np.linalg.slogdet(k * np.outer(s, s) + JITTER * np.eye(m))
        assert sign > 0
        return ld / m
    raise ValueError(name)


def penalty(theta, widths, xs, kind, name, weight, target):
    g = metric(name, kernels(theta, widths, xs)[kind])
    return weight * (g if target is None else max(0.0, g - target))


def fd_gradient(f, theta):
    out = np.zeros_like(theta)
    for p in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[p] += FD_STEP
        down[p] -= FD_STEP
        out[p] = (f(up) - f(down)) / (2 * FD_STEP)
    return out


def network(name, widths, n, seed):
    rng = np.random.default_rng(seed)
    parts = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        parts.append(rng.standard_normal(n_out * n_in) / np.sqrt(n_in))
        parts.append(0.1 * rng.standard_normal(n_out))
    theta = np.concatenate(parts)
    xs = rng.standard_normal((n, widths[0]))
    c, p = widths[-1], theta.size

    # The hand-written Jacobian against central differences of the outputs.
    j = jacobian(theta, widths, xs)
    fd_j = np.array([
        fd_gradient(lambda t, r=r: outputs(t, widths, xs).ravel()[r], theta) for r in range(n * c)
    ])
    assert np.max(np.abs(j - fd_j)) <= 1e-8 * max(1.0, np.max(np.abs(j))), "Jacobian"

    ks = kernels(theta, widths, xs)
    full, traced = ks["centred_full"], ks["centred_traced"]
    # Structure: symmetric, every sample's rows sum to zero, rank N(C-1) (here <= P), and the
    # traced kernel equals K_tr - C K_mean.
    assert np.allclose(full, full.T, rtol=0, atol=1e-14 * np.max(np.abs(full)))
    block_sums = full.reshape(n, c, n * c).sum(axis=1)
    assert np.max(np.abs(block_sums)) <= 1e-13 * np.max(np.abs(full))
    assert n * (c - 1) <= p and np.linalg.matrix_rank(full) == n * (c - 1)
    k_plain = j @ j.T
    k_tr = np.einsum("iaja->ij", k_plain.reshape(n, c, n, c))
    jm = j.reshape(n, c, p).mean(axis=1)
    assert np.max(np.abs(traced - (k_tr - c * jm @ jm.T))) <= 1e-12 * np.max(np.abs(traced))

    penalties = []
    for kind in ("centred_full", "centred_traced"):
        for name_ in ("trace", "logdet", "normalized_logdet", "cosine_logdet"):
            penalties.append((kind, name_, 0.8, None))
        g = metric("logdet", ks[kind])
        penalties.append((kind, "logdet", 0.8, g - 0.3))  # above the target: active
        g = metric("cosine_logdet", ks[kind])
        penalties.append((kind, "cosine_logdet", 0.8, g + 0.3))  # below: exactly flat
    entries = []
    for kind, name_, weight, target in penalties:
        f = lambda t: penalty(t, widths, xs, kind, name_, weight, target)
        entries.append({
            "kernel": kind, "metric": name_, "weight": weight, "target": target,
            "value": f(theta), "grad_fd": fd_gradient(f, theta).tolist(),
        })
    return {
        "name": name, "widths": widths, "params": theta.tolist(), "x": xs.tolist(),
        "kernels": {k: v.tolist() for k, v in ks.items()}, "penalties": entries,
    }


def main():
    nets = [
        network("tanh_d3_h5_c2", [3, 5, 2], 5, 7001),
        network("tanh_d2_h4_h3_c3", [2, 4, 3, 3], 4, 7002),
    ]
    out = {"numpy_version": np.__version__, "jitter": JITTER, "fd_step": FD_STEP, "networks": nets}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "penalty_forms_fixture.json")
    with open(path, "w") as fh:
        json.dump(out, fh)
        fh.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
