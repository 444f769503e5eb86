#!/usr/bin/env python3
"""Peer implementations of the mgs operations, for the side-by-side comparison.

Two sub-commands:

  peers.py make --out PREFIX --N 64 --d 32 --widths 64,64 --C 10 [--seed 0] [--jitter 1e-6]
      Draws parameters, inputs and a probe vector from a seed and writes PREFIX.bin (raw
      little-endian float64: params, then x row-major N x d, then probe) and PREFIX.json (shapes
      and offsets in float64 elements). Only numpy is needed. The Rust bench binary
      (benches/peers.rs) reads the same two files.

  peers.py run --impl IMPL --data PREFIX [--dtype f64|f32] [--threads T] [--ops a,b,...]
      Times the operations of one implementation on one cell and prints one JSON line per
      operation (flushed as soon as it is done), with the same fields as the Rust side.

Parameter layout (identical to mgs and to PyTorch's nn.Linear): layer after layer, W (n_out x
n_in) row-major, then b. The MLP has tanh hidden layers and a linear output layer.

Operations (each timed end to end from (theta, X)):
  jacobian       the (N*C) x P per-sample Jacobian, rows r = i*C + c   (check: ||J||_F^2)
  kernel_full    K = J J^T, (N*C) x (N*C)                              (check: trace, ||K||_F)
  kernel_traced  K_tr[i,j] = sum_c K[(i,c),(j,c)], N x N               (check: trace, ||K||_F)
  penalty_value  g = (1/m) log det(K + eps*tau*I), tau = tr(K)/m, Cholesky (check: value)
  penalty_grad   g and dg/dtheta by autodiff (check: value, ||grad||, grad . probe)
The penalty uses the traced kernel unless --penalty-kernel full.

Implementations (--impl):
  torch-func   torch.func: vmap(jacrev) Jacobian, then J J^T; gradient by torch.func.grad
  torch-nvp    the torch.func NTK tutorial's NTK-vector-product variant (vmap over sample pairs of
               vjp then jvp); no Jacobian op; gradient by torch.func.grad
  torch-hand   hand-factorised per layer, K = sum_l (D_l D_l^T) o (A_{l-1} A_{l-1}^T + 1) in
               plain torch ops; gradient by autograd
  nt-jc        neural-tangents empirical_ntk_fn, JACOBIAN_CONTRACTION, under jit; jax.grad
  nt-nvp       neural-tangents empirical_ntk_fn, NTK_VECTOR_PRODUCTS, under jit; jax.grad
  nt-sd        neural-tangents empirical_ntk_fn, STRUCTURED_DERIVATIVES, under jit; jax.grad
  jax-hand     hand-factorised per layer in jax.numpy under jit; jax.grad; the Jacobian op is
               jit(vmap(jacrev))
neural-tangents' traced kernel (trace_axes=(-1,)) is the *mean* over outputs; it is multiplied
by C here to match mgs's K_tr (sum over outputs).

Timing (mirrors benches/peers.rs): two untimed warm-up calls (compilation for JAX), the second of
which sets reps = clamp(budget / t, min_reps, max_reps); the median of the timed calls is
reported. A first call slower than --slow seconds is reported alone ("warm_only": true).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

OPS = ["jacobian", "kernel_full", "kernel_traced", "penalty_value", "penalty_grad"]
IMPLS = ["torch-func", "torch-nvp", "torch-hand", "nt-jc", "nt-nvp", "nt-sd", "jax-hand"]


# ----------------------------------------------------------------------------- cell files


def layer_shapes(d, widths, c):
    dims = [d] + list(widths) + [c]
    return [(dims[l + 1], dims[l]) for l in range(len(dims) - 1)]


def n_params(d, widths, c):
    return sum(o * (i + 1) for o, i in layer_shapes(d, widths, c))


def make(args):
    widths = [int(w) for w in args.widths.split(",")]
    rng = np.random.default_rng(args.seed)
    params = []
    for n_out, n_in in layer_shapes(args.d, widths, args.C):
        std = math.sqrt(2.0 / (n_in + n_out))
        params.append(std * rng.standard_normal(n_out * n_in))
        params.append(0.1 * rng.standard_normal(n_out))
    params = np.concatenate(params)
    x = rng.standard_normal(args.N * args.d)
    probe = rng.standard_normal(params.size)
    assert params.size == n_params(args.d, widths, args.C)
    header = {
        "format": "mgs-peers-1",
        "d": args.d,
        "widths": widths,
        "C": args.C,
        "N": args.N,
        "activation": "tanh",
        "seed": args.seed,
        "jitter": args.jitter,
        "n_params": int(params.size),
        "dtype_on_disk": "float64 little-endian",
        "arrays": {},
    }
    blobs, off = [], 0
    for name, arr, shape in [
        ("params", params, [params.size]),
        ("x", x, [args.N, args.d]),
        ("probe", probe, [probe.size]),
    ]:
        header["arrays"][name] = {"offset": off, "len": int(arr.size), "shape": shape}
        blobs.append(arr.astype("<f8"))
        off += arr.size
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".bin", "wb") as f:
        for b in blobs:
            f.write(b.tobytes())
    with open(args.out + ".json", "w") as f:
        json.dump(header, f, indent=1)


def read_cell(prefix):
    with open(prefix + ".json") as f:
        h = json.load(f)
    allv = np.fromfile(prefix + ".bin", dtype="<f8")

    def arr(name):
        a = h["arrays"][name]
        return allv[a["offset"] : a["offset"] + a["len"]].reshape(a["shape"])

    assert h["activation"] == "tanh"
    return h, arr("params"), arr("x"), arr("probe")


# ----------------------------------------------------------------------------- timing


def time_op(f, sync, args):
    t = time.perf_counter()
    out = sync(f())
    t_first = time.perf_counter() - t
    if t_first > args.slow:
        return t_first, [t_first], True, out
    t = time.perf_counter()
    out = sync(f())
    t0 = time.perf_counter() - t
    reps = int(min(max(args.budget / max(t0, 1e-9), args.min_reps), args.max_reps))
    times = []
    for _ in range(max(reps, 1)):
        t = time.perf_counter()
        out = sync(f())
        times.append(time.perf_counter() - t)
    return float(np.median(times)), times, False, out


def checks(op, out, probe):
    """Check values from an op's result (converted to float64 numpy)."""
    if op == "jacobian":
        j = np.asarray(out, dtype=np.float64)
        return {"trace": float(np.sum(j * j))}
    if op in ("kernel_full", "kernel_traced"):
        k = np.asarray(out, dtype=np.float64)
        return {"trace": float(np.trace(k)), "fro": float(np.linalg.norm(k))}
    if op == "penalty_value":
        return {"value": float(out)}
    v, g = out
    g = np.asarray(g, dtype=np.float64).ravel()
    return {
        "value": float(v),
        "grad_norm": float(np.linalg.norm(g)),
        "grad_dot_probe": float(g @ probe),
    }


# ----------------------------------------------------------------------------- PyTorch


def torch_impl(name, h, params, x, args):
    import torch

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    from torch.func import grad_and_value, jacrev, jvp, vjp, vmap

    dt = torch.float64 if args.dtype == "f64" else torch.float32
    d, widths, C, N = h["d"], h["widths"], h["C"], h["N"]
    shapes = layer_shapes(d, widths, C)
    theta = torch.tensor(params, dtype=dt)
    X = torch.tensor(x, dtype=dt)
    eps = h["jitter"]

    def unflat(th):
        out, off = [], 0
        for n_out, n_in in shapes:
            W = th[off : off + n_out * n_in].reshape(n_out, n_in)
            off += n_out * n_in
            b = th[off : off + n_out]
            off += n_out
            out.append((W, b))
        return out

    def mlp(th, xb):
        h_ = xb
        layers = unflat(th)
        for l, (W, b) in enumerate(layers):
            h_ = h_ @ W.T + b
            if l + 1 < len(layers):
                h_ = torch.tanh(h_)
        return h_

    def logdet_pen(K):
        m = K.shape[0]
        tau = torch.trace(K) / m
        Ke = K + (eps * tau) * torch.eye(m, dtype=K.dtype)
        L = torch.linalg.cholesky(Ke)
        return 2.0 * torch.log(torch.diagonal(L)).sum() / m

    def f1(th, xi):
        return mlp(th, xi.unsqueeze(0)).squeeze(0)

    if name == "torch-func":
        jac3 = vmap(jacrev(f1), in_dims=(None, 0))  # N x C x P

        def jacobian(th):
            return jac3(th, X).reshape(N * C, -1)

        def kfull(th):
            J = jacobian(th)
            return J @ J.T

        def ktraced(th):
            J = jac3(th, X).reshape(N, -1)  # sum over c and p in one product
            return J @ J.T

    elif name == "torch-nvp":
        # The torch.func NTK tutorial ("ntk_vps"): per pair of samples, vjp of f(x1) on each
        # output basis vector, then jvp of f(x2) along it.
        def ntk4(th):
            def get_ntk(x1, x2):
                def fx1(t):
                    return f1(t, x1)

                def fx2(t):
                    return f1(t, x2)

                _, vjp_fn = vjp(fx1, th)

                def get_ntk_slice(vec):
                    (v,) = vjp_fn(vec)
                    _, jv = jvp(fx2, (th,), (v,))
                    return jv

                basis = torch.eye(C, dtype=dt)
                return vmap(get_ntk_slice)(basis)

            return vmap(vmap(get_ntk, (None, 0)), (0, None))(X, X)  # N x N x C x C

        jacobian = None

        def kfull(th):
            return ntk4(th).permute(0, 2, 1, 3).reshape(N * C, N * C)

        def ktraced(th):
            return torch.einsum("ijcc->ij", ntk4(th))

    elif name == "torch-hand":

        def forward_signals(th):
            layers = unflat(th)
            acts, derivs = [X], []
            h_ = X
            for l, (W, b) in enumerate(layers[:-1]):
                a = torch.tanh(h_ @ W.T + b)
                derivs.append(1.0 - a * a)
                acts.append(a)
                h_ = a
            # D_L = I_C for every sample; D_l = (D_{l+1} W_{l+1}) * sigma'(z_l)
            Ds = [None] * len(layers)
            Ds[-1] = torch.eye(C, dtype=dt).expand(N, C, C)
            for l in range(len(layers) - 2, -1, -1):
                Ds[l] = (Ds[l + 1] @ layers[l + 1][0]) * derivs[l].unsqueeze(1)
            return acts, Ds  # acts[l] = A_{l} (input of layer l+1), Ds[l]: N x C x n_{l+1}

        def jacobian(th):
            acts, Ds = forward_signals(th)
            blocks = []
            for A, D in zip(acts, Ds):
                blocks.append(torch.einsum("ico,ik->icok", D, A).reshape(N * C, -1))
                blocks.append(D.reshape(N * C, -1))
            return torch.cat(blocks, dim=1)

        def kfull(th):
            acts, Ds = forward_signals(th)
            K = 0.0
            for A, D in zip(acts, Ds):
                GA = A @ A.T + 1.0
                GA = GA[:, None, :, None].expand(N, C, N, C).reshape(N * C, N * C)
                D2 = D.reshape(N * C, -1)
                K = K + (D2 @ D2.T) * GA
            return K

        def ktraced(th):
            acts, Ds = forward_signals(th)
            K = 0.0
            for A, D in zip(acts, Ds):
                D2 = D.reshape(N, -1)
                K = K + (D2 @ D2.T) * (A @ A.T + 1.0)
            return K

    else:
        raise SystemExit(f"unknown torch impl {name}")

    kpen = kfull if args.penalty_kernel == "full" else ktraced

    def pen(th):
        return logdet_pen(kpen(th))

    if name == "torch-hand":

        def pen_grad():
            th = theta.detach().clone().requires_grad_(True)
            v = pen(th)
            (g,) = torch.autograd.grad(v, th)
            return v.detach(), g

    else:
        gv = grad_and_value(pen)

        def pen_grad():
            g, v = gv(theta)
            return v, g

    def sync(out):
        return out

    fns = {
        "jacobian": (lambda: jacobian(theta)) if jacobian is not None else None,
        "kernel_full": lambda: kfull(theta),
        "kernel_traced": lambda: ktraced(theta),
        "penalty_value": lambda: pen(theta),
        "penalty_grad": pen_grad,
    }

    def to_np(op, out):
        if op == "penalty_grad":
            return (out[0].item(), out[1].detach().numpy())
        if op == "penalty_value":
            return out.item()
        return out.detach().numpy()

    return fns, sync, to_np


# ----------------------------------------------------------------------------- JAX


def jax_impl(name, h, params, x, args):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    dt = jnp.float64 if args.dtype == "f64" else jnp.float32
    d, widths, C, N = h["d"], h["widths"], h["C"], h["N"]
    shapes = layer_shapes(d, widths, C)
    eps = h["jitter"]
    tree, off = [], 0
    for n_out, n_in in shapes:
        W = jnp.asarray(params[off : off + n_out * n_in].reshape(n_out, n_in), dtype=dt)
        off += n_out * n_in
        b = jnp.asarray(params[off : off + n_out], dtype=dt)
        off += n_out
        tree.append((W, b))
    X = jnp.asarray(x, dtype=dt)

    def apply(p, xb):
        h_ = xb
        for l, (W, b) in enumerate(p):
            h_ = h_ @ W.T + b
            if l + 1 < len(p):
                h_ = jnp.tanh(h_)
        return h_

    def flat(p):
        return jnp.concatenate([jnp.concatenate([W.ravel(), b]) for W, b in p])

    def logdet_pen(K):
        m = K.shape[0]
        tau = jnp.trace(K) / m
        Ke = K + (eps * tau) * jnp.eye(m, dtype=K.dtype)
        L = jnp.linalg.cholesky(Ke)
        return 2.0 * jnp.sum(jnp.log(jnp.diagonal(L))) / m

    def jac_vmap(p, xb):
        def f1(q, xi):
            return apply(q, xi[None])[0]

        jt = jax.vmap(jax.jacrev(f1), in_axes=(None, 0))(p, xb)  # pytree of N x C x ...
        blocks = []
        for jW, jb in jt:
            blocks.append(jW.reshape(N * C, -1))
            blocks.append(jb.reshape(N * C, -1))
        return jnp.concatenate(blocks, axis=1)

    if name.startswith("nt-"):
        # neural-tangents 0.6.5 imports its TensorFlow port (nt.experimental -> jax2tf ->
        # tensorflow) at package import; it is not used here, so stand in an empty module for it
        # rather than install TensorFlow.
        import types

        sys.modules.setdefault(
            "neural_tangents.experimental", types.ModuleType("neural_tangents.experimental")
        )
        import neural_tangents as nt

        impl = {
            "nt-jc": nt.NtkImplementation.JACOBIAN_CONTRACTION,
            "nt-nvp": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
            "nt-sd": nt.NtkImplementation.STRUCTURED_DERIVATIVES,
        }[name]
        full_fn = nt.empirical_ntk_fn(apply, trace_axes=(), vmap_axes=0, implementation=impl)
        tr_fn = nt.empirical_ntk_fn(apply, trace_axes=(-1,), vmap_axes=0, implementation=impl)

        def kfull(p):
            return full_fn(X, None, p).transpose(0, 2, 1, 3).reshape(N * C, N * C)

        def ktraced(p):
            # neural-tangents divides the trace by C; mgs sums over outputs
            return tr_fn(X, None, p) * C

        jacobian = None
    elif name == "jax-hand":

        def forward_signals(p):
            acts, derivs = [X], []
            h_ = X
            for W, b in p[:-1]:
                a = jnp.tanh(h_ @ W.T + b)
                derivs.append(1.0 - a * a)
                acts.append(a)
                h_ = a
            Ds = [None] * len(p)
            Ds[-1] = jnp.broadcast_to(jnp.eye(C, dtype=dt), (N, C, C))
            for l in range(len(p) - 2, -1, -1):
                Ds[l] = (Ds[l + 1] @ p[l + 1][0]) * derivs[l][:, None, :]
            return acts, Ds

        def kfull(p):
            acts, Ds = forward_signals(p)
            K = 0.0
            for A, D in zip(acts, Ds):
                GA = A @ A.T + 1.0
                GA = jnp.broadcast_to(GA[:, None, :, None], (N, C, N, C)).reshape(N * C, N * C)
                D2 = D.reshape(N * C, -1)
                K = K + (D2 @ D2.T) * GA
            return K

        def ktraced(p):
            acts, Ds = forward_signals(p)
            K = 0.0
            for A, D in zip(acts, Ds):
                D2 = D.reshape(N, -1)
                K = K + (D2 @ D2.T) * (A @ A.T + 1.0)
            return K

        def jacobian(p):
            return jac_vmap(p, X)

    else:
        raise SystemExit(f"unknown jax impl {name}")

    kpen = kfull if args.penalty_kernel == "full" else ktraced

    def pen(p):
        return logdet_pen(kpen(p))

    vg = jax.jit(jax.value_and_grad(pen))
    j_kfull, j_ktr, j_pen = jax.jit(kfull), jax.jit(ktraced), jax.jit(pen)
    j_jac = jax.jit(jacobian) if jacobian is not None else None

    def pen_grad():
        v, g = vg(tree)
        return v, flat(g)

    fns = {
        "jacobian": (lambda: j_jac(tree)) if j_jac is not None else None,
        "kernel_full": lambda: j_kfull(tree),
        "kernel_traced": lambda: j_ktr(tree),
        "penalty_value": lambda: j_pen(tree),
        "penalty_grad": pen_grad,
    }

    def sync(out):
        return jax.block_until_ready(out)

    def to_np(op, out):
        if op == "penalty_grad":
            return (float(out[0]), np.asarray(out[1]))
        if op == "penalty_value":
            return float(out)
        return np.asarray(out)

    return fns, sync, to_np


# ----------------------------------------------------------------------------- run


def est_bytes(name, op, h, itemsize, penalty_kernel):
    """Rough peak-memory estimate of the implementation's dominant buffer (to skip cells that
    would swamp a shared machine rather than let them run out of memory)."""
    N, C = h["N"], h["C"]
    P = h["n_params"]
    jac = N * C * P * itemsize
    m = N * C if (op == "kernel_full" or (op.startswith("penalty") and penalty_kernel == "full")) else N
    kern = m * m * itemsize
    grad = op == "penalty_grad"
    if name == "torch-nvp":
        return N * N * C * P * itemsize * (3 if grad else 1)
    if name in ("torch-func", "nt-jc", "nt-nvp") or op == "jacobian":
        return jac * (3 if grad else 1)
    return kern * 4


def run(args):
    h, params, x, probe = read_cell(args.data)
    name = args.impl
    if name.startswith("torch"):
        fns, sync, to_np = torch_impl(name, h, params, x, args)
    else:
        fns, sync, to_np = jax_impl(name, h, params, x, args)
    itemsize = 8 if args.dtype == "f64" else 4
    base = {
        "impl": name,
        "variant": name,
        "dtype": args.dtype,
        "threads": args.threads,
        "N": h["N"],
        "d": h["d"],
        "widths": h["widths"],
        "C": h["C"],
        "P": h["n_params"],
    }
    for op in args.ops.split(","):
        line = dict(base, op=op)
        f = fns[op]
        if f is None:
            line["skipped"] = "not provided by this implementation"
        elif (b := est_bytes(name, op, h, itemsize, args.penalty_kernel)) > args.max_bytes:
            line["skipped"] = f"estimated {b:.3e} B over --max-bytes {args.max_bytes:.3e}"
        else:
            try:
                med, times, warm_only, out = time_op(f, sync, args)
                line.update(median_s=med, times=times, warm_only=warm_only)
                line.update(checks(op, to_np(op, out), probe))
                if op.startswith("penalty"):
                    line["penalty_kernel"] = args.penalty_kernel
            except Exception as e:  # report and go on with the next op
                line["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        print(json.dumps(line), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--N", type=int, required=True)
    m.add_argument("--d", type=int, default=32)
    m.add_argument("--widths", default="64,64")
    m.add_argument("--C", type=int, default=1)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--jitter", type=float, default=1e-6)
    r = sub.add_parser("run")
    r.add_argument("--impl", required=True, choices=IMPLS)
    r.add_argument("--data", required=True)
    r.add_argument("--dtype", default="f64", choices=["f64", "f32"])
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--ops", default=",".join(OPS))
    r.add_argument("--penalty-kernel", default="traced", choices=["traced", "full"])
    r.add_argument("--budget", type=float, default=2.0)
    r.add_argument("--min-reps", type=int, default=3)
    r.add_argument("--max-reps", type=int, default=15)
    r.add_argument("--slow", type=float, default=20.0)
    r.add_argument("--max-bytes", type=float, default=4e9)
    args = ap.parse_args()
    if args.cmd == "make":
        make(args)
    else:
        run(args)


if __name__ == "__main__":
    sys.exit(main())
