"""Independent NumPy reference for the losses in `mgs::train::loss`.

Writes `tests/reference/losses_fixture.json` (next to this script): for a fixed small batch of
logits and every built-in loss, with class, soft and (MSE only) regression targets, the
training-mode value, its gradient with respect to the logits and the evaluation-mode value;
for ELR also the running targets before and after the step.

The gradients are computed by a different route from the Rust closed forms: the derivative of
each per-sample loss with respect to the probabilities p, chained through the softmax Jacobian
J = diag(p) - p p^T (MSE: directly). The script checks every gradient against complex-step
differentiation, d/dz_k f = Im f(z + i h e_k) / h with h = 1e-30 (no subtractive cancellation,
so agreement is to rounding), and aborts if the relative error exceeds 1e-12.

Run from the repository root:  python3 tests/reference/losses.py
"""

import json
import pathlib

import numpy as np

# --------------------------------------------------------------------------------------------
# The fixed case: N = 5 samples, C = 3 classes.

LOGITS = np.array(
    [
        [0.5, -1.2, 2.0],
        [3.0, 3.0, -0.7],  # tie for the maximum: argmax is the first one (hard bootstrapping)
        [-2.5, 0.3, 0.1],
        [8.0, -3.5, 0.0],  # p_1 ~ 1e-5 < 1e-4: ELR clips it, p_0 and p_2 are inside
        [-4.0, 11.0, 0.5],  # every p outside [1e-4, 1 - 1e-4]: ELR clips all three
    ]
)
LABELS = [2, 0, 1, 0, 2]
SOFT = np.array(
    [
        [0.2, 0.3, 0.5],
        [0.5, 0.5, 0.0],  # a zero entry: SCE's log 0 := A, cross-entropy term skipped
        [0.0, 1.0, 0.0],
        [0.7, 0.1, 0.2],
        [0.1, 0.1, 0.8],
    ]
)
REGRESSION = np.random.default_rng(7).normal(size=(5, 3))
N, C = LOGITS.shape

# ELR: 7 training samples, the batch rows are samples 3, 0, 6, 2, 5; sample 6 never seen (t = 0).
ELR_N_TRAIN = 7
ELR_SAMPLES = [3, 0, 6, 2, 5]
ELR_STATE = 0.7 * np.random.default_rng(11).dirichlet(np.ones(C), size=ELR_N_TRAIN)
ELR_STATE[6] = 0.0

P_MIN, P_MAX = 1e-4, 1.0 - 1e-4


def softmax(z):
    """p and log p row by row (works for complex z; shifted by the real row maximum)."""
    m = np.max(z.real, axis=1, keepdims=True)
    e = np.exp(z - m)
    s = np.sum(e, axis=1, keepdims=True)
    return e / s, (z - m) - np.log(s)


def onehot(labels):
    out = np.zeros((len(labels), C))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def target(kind, eps=0.0):
    q = {"classes": onehot(LABELS), "soft": SOFT, "regression": REGRESSION}[kind]
    return (1.0 - eps) * q + eps / C if kind != "regression" else q


def xlogy_neg(t, logp):
    """-sum_c t_c log p_c per row, terms with t_c = 0 left out."""
    return -np.sum(np.where(t != 0.0, t * logp, 0.0), axis=1)


# --------------------------------------------------------------------------------------------
# Each loss: `value(z) -> per-sample values` (complex-safe; anything "detached" computed from
# the real part) and `dvalue_dp(z) -> dL_i/dp_ic` (None for MSE, given `dvalue_dz` instead).


def cross_entropy(kind, eps):
    t = target(kind, eps)
    value = lambda z: xlogy_neg(t, softmax(z)[1])
    dp = lambda z: -t / softmax(z)[0]
    return value, dp


def mse(kind):
    y = target(kind)
    value = lambda z: 0.5 * np.sum((z - y) ** 2, axis=1)
    dz = lambda z: z - y
    return value, dz


def gce(kind, q):
    t = target(kind)
    value = lambda z: np.sum(t * (1.0 - softmax(z)[0] ** q) / q, axis=1)
    dp = lambda z: -t * softmax(z)[0] ** (q - 1.0)
    return value, dp


def sce(kind, alpha, beta, a):
    t = target(kind)
    with np.errstate(divide="ignore"):
        ell = np.where(t > 0.0, np.log(np.where(t > 0.0, t, 1.0)), a)
    ell = np.maximum(ell, a)

    def value(z):
        p, logp = softmax(z)
        return alpha * xlogy_neg(t, logp) - beta * np.sum(p * ell, axis=1)

    dp = lambda z: -alpha * t / softmax(z)[0] - beta * ell
    return value, dp


def bootstrap(kind, beta, hard, z0):
    t = target(kind)
    p0 = softmax(z0)[0]
    own = onehot(np.argmax(z0, axis=1)) if hard else p0
    b = beta * t + (1.0 - beta) * own  # frozen at z0: p inside the target is a constant
    value = lambda z: xlogy_neg(b, softmax(z)[1])
    dp = lambda z: -b / softmax(z)[0]
    return value, dp


def elr_update(z0, lam, mom):
    p0 = softmax(z0)[0]
    pc = np.clip(p0, P_MIN, P_MAX)
    old = ELR_STATE[ELR_SAMPLES]
    return mom * old + (1.0 - mom) * pc / np.sum(pc, axis=1, keepdims=True)


def elr(kind, lam, mom, z0):
    q = target(kind)
    t_new = elr_update(z0, lam, mom)  # detached, updated before the loss is taken
    p0 = softmax(z0)[0]
    inside = (p0 >= P_MIN) & (p0 <= P_MAX)
    bound = np.clip(p0, P_MIN, P_MAX)

    def clipped(p):
        return np.where(inside, p, bound)  # the clamp: identity inside, constant outside

    def value(z):
        p, logp = softmax(z)
        return xlogy_neg(q, logp) + lam * np.log(1.0 - np.sum(t_new * clipped(p), axis=1))

    def dp(z):
        p = softmax(z)[0]
        r = 1.0 - np.sum(t_new * clipped(p), axis=1, keepdims=True)
        return -q / p - lam * np.where(inside, t_new, 0.0) / r

    return value, dp, t_new


def grad_through_softmax(z, dp):
    """dL/dz = (1/N) J^T dL/dp with J = diag(p) - p p^T per row."""
    p = softmax(z)[0]
    g = np.zeros_like(z)
    for i in range(N):
        jac = np.diag(p[i]) - np.outer(p[i], p[i])
        g[i] = jac.T @ dp[i]
    return g / N


def complex_step(value, z, h=1e-30):
    g = np.zeros_like(z)
    for i in range(N):
        for k in range(C):
            zc = z.astype(complex)
            zc[i, k] += 1j * h
            g[i, k] = np.mean(value(zc)).imag / h
    return g


def check(name, g, g_cs):
    err = np.linalg.norm(g - g_cs) / max(np.linalg.norm(g_cs), 1e-300)
    assert err <= 1e-12, f"{name}: chain rule vs complex step, relative error {err:e}"
    return err


# --------------------------------------------------------------------------------------------


def main():
    z = LOGITS
    cases = []
    worst = 0.0
    for kind in ["classes", "soft"]:
        specs = [
            ({"CrossEntropy": {"label_smoothing": 0.0}}, *cross_entropy(kind, 0.0), cross_entropy(kind, 0.0)[0]),
            ({"CrossEntropy": {"label_smoothing": 0.1}}, *cross_entropy(kind, 0.1), cross_entropy(kind, 0.0)[0]),
            ({"GeneralizedCrossEntropy": {"q": 0.7}}, *gce(kind, 0.7), gce(kind, 0.7)[0]),
            ({"GeneralizedCrossEntropy": {"q": 0.3}}, *gce(kind, 0.3), gce(kind, 0.3)[0]),
            (
                {"SymmetricCrossEntropy": {"alpha": 0.1, "beta": 1.0, "log_clip": -4.0}},
                *sce(kind, 0.1, 1.0, -4.0),
                sce(kind, 0.1, 1.0, -4.0)[0],
            ),
            ({"Bootstrapping": {"beta": 0.95, "hard": False}}, *bootstrap(kind, 0.95, False, z), None),
            ({"Bootstrapping": {"beta": 0.8, "hard": True}}, *bootstrap(kind, 0.8, True, z), None),
        ]
        for config, value, dp, eval_value in specs:
            g = grad_through_softmax(z, dp(z))
            worst = max(worst, check(f"{config} {kind}", g, complex_step(value, z)))
            v = float(np.mean(value(z)))
            cases.append(
                {
                    "loss": config,
                    "targets": kind,
                    "value": v,
                    "grad": g.tolist(),
                    # Bootstrapping evaluates its own (bootstrapped) value.
                    "eval": v if eval_value is None else float(np.mean(eval_value(z))),
                }
            )
    for kind in ["classes", "soft", "regression"]:
        value, dz = mse(kind)
        g = dz(z) / N
        worst = max(worst, check(f"mse {kind}", g, complex_step(value, z)))
        v = float(np.mean(value(z)))
        cases.append({"loss": "MeanSquaredError", "targets": kind, "value": v, "grad": g.tolist(), "eval": v})
    elr_cases = []
    for kind in ["classes", "soft"]:
        value, dp, t_new = elr(kind, 3.0, 0.7, z)
        g = grad_through_softmax(z, dp(z))
        worst = max(worst, check(f"elr {kind}", g, complex_step(value, z)))
        after = ELR_STATE.copy()
        after[ELR_SAMPLES] = t_new
        ce_eval = cross_entropy(kind, 0.0)[0]
        elr_cases.append(
            {
                "loss": {"EarlyLearning": {"lambda": 3.0, "momentum": 0.7}},
                "targets": kind,
                "value": float(np.mean(value(z))),
                "grad": g.tolist(),
                "eval": float(np.mean(ce_eval(z))),
                "state_after": after.ravel().tolist(),
            }
        )
    fixture = {
        "numpy_version": np.__version__,
        "complex_step_worst_rel_err": worst,
        "logits": z.tolist(),
        "labels": LABELS,
        "soft": SOFT.tolist(),
        "regression": REGRESSION.tolist(),
        "cases": cases,
        "elr": {
            "n_train": ELR_N_TRAIN,
            "samples": ELR_SAMPLES,
            "state_before": ELR_STATE.ravel().tolist(),
            "cases": elr_cases,
        },
    }
    out = pathlib.Path(__file__).with_name("losses_fixture.json")
    out.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {out}: {len(cases) + len(elr_cases)} cases, complex-step worst relative error {worst:.2e}")


if __name__ == "__main__":
    main()
