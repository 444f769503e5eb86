"""Load mgs models ("mgs-mlp" JSON, version 1) in PyTorch and compare with mgs's outputs.

Not needed by `cargo test`. Write the models, inputs and mgs outputs first, then run:

    cargo run --release --example export_mlp -- /tmp/mgs-export
    python3 tests/reference/load_mlp_torch.py /tmp/mgs-export            # PyTorch
    python3 tests/reference/load_mlp_torch.py /tmp/mgs-export --numpy    # numpy only

For every `NAME.mlp.json` in the folder the script reads the model, builds the same network
(`nn.Linear` layers with the activations mapped by name), runs it on the inputs of
`NAME.io.json` and compares with the outputs stored there. Everything is evaluated in float64
(the values of an f32 model are exact in float64). Tolerance, over each output array:

    max |ours - mgs| <= tol * max(1, max |mgs|)

with tol = 1e-12 for f64 models (summation order and last-ulp differences of the elementary
functions) and tol = 1e-5 for f32 models (mgs computed those in float32). Exit status 0 when
every model agrees, 1 otherwise.

Activations (mgs's definitions in src/activation.rs, each matched exactly):

    identity    z                           nn.Identity
    tanh        tanh z                      torch.tanh
    relu        max(z, 0)                   torch.relu
    leaky_relu  z > 0 ? z : slope*z         F.leaky_relu(negative_slope=slope)
    sigmoid     1 / (1 + e^-z)              torch.sigmoid
    softplus    max(z,0) + log1p(e^-|z|)    written out: F.softplus's default threshold=20
                                            returns z itself above 20 (off by up to 2e-9)
    elu         z > 0 ? z : alpha*(e^z - 1) F.elu(alpha=alpha)
    silu        z * sigmoid(z)              F.silu
    gelu_erf    z * Phi(z) (erf form)       F.gelu(approximate="none")
    gelu_tanh   tanh approximation          F.gelu(approximate="tanh")

An unknown activation name raises ValueError.
"""

import argparse
import json
import math
import pathlib
import sys

FORMAT, VERSION = "mgs-mlp", 1


def read_model(path):
    """The model file as (widths, activations, layers), after checking format and version."""
    with open(path) as f:
        model = json.load(f)
    if model.get("format") != FORMAT or model.get("version") != VERSION:
        raise ValueError(f"{path}: not an {FORMAT} version {VERSION} file")
    arch = model["architecture"]
    widths, acts, layers = arch["widths"], arch["activations"], model["layers"]
    if len(acts) != len(widths) - 2 or len(layers) != len(widths) - 1:
        raise ValueError(f"{path}: inconsistent architecture")
    for l, layer in enumerate(layers):
        w, b = layer["weight"], layer["bias"]
        # One inner array per output: the shape of nn.Linear.weight, (n_out, n_in).
        if len(w) != widths[l + 1] or any(len(r) != widths[l] for r in w) or len(b) != widths[l + 1]:
            raise ValueError(f"{path}: layer {l} does not have the shape its widths say")
    return model["precision"], widths, [activation_spec(a) for a in acts], layers


def activation_spec(a):
    """("name", {parameters}) from the serde form: "tanh" or {"leaky_relu": {"slope": s}}."""
    if isinstance(a, str):
        return a, {}
    ((name, params),) = a.items()
    return name, params


def torch_forward(widths, acts, layers, x):
    import torch
    import torch.nn.functional as F
    from torch import nn

    def softplus(z):
        return torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))

    def module(name, p):
        table = {
            "identity": lambda: nn.Identity(),
            "tanh": lambda: nn.Tanh(),
            "relu": lambda: nn.ReLU(),
            "leaky_relu": lambda: nn.LeakyReLU(negative_slope=p["slope"]),
            "sigmoid": lambda: nn.Sigmoid(),
            "softplus": lambda: Lambda(softplus),
            "elu": lambda: nn.ELU(alpha=p["alpha"]),
            "silu": lambda: nn.SiLU(),
            "gelu_erf": lambda: nn.GELU(approximate="none"),
            "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
        }
        if name not in table:
            raise ValueError(f"activation {name!r} has no torch equivalent here")
        return table[name]()

    class Lambda(nn.Module):
        def __init__(self, f):
            super().__init__()
            self.f = f

        def forward(self, z):
            return self.f(z)

    parts = []
    for l, layer in enumerate(layers):
        lin = nn.Linear(widths[l], widths[l + 1], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(layer["weight"], dtype=torch.float64))
            lin.bias.copy_(torch.tensor(layer["bias"], dtype=torch.float64))
        parts.append(lin)
        if l < len(acts):
            parts.append(module(*acts[l]))
    net = nn.Sequential(*parts)
    with torch.no_grad():
        return net(torch.tensor(x, dtype=torch.float64)).numpy()


def numpy_forward(widths, acts, layers, x):
    import numpy as np

    erf = np.vectorize(math.erf, otypes=[np.float64])

    def sigmoid(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def apply(name, p, z):
        if name == "identity":
            return z
        if name == "tanh":
            return np.tanh(z)
        if name == "relu":
            return np.maximum(z, 0.0)
        if name == "leaky_relu":
            return np.where(z > 0, z, p["slope"] * z)
        if name == "sigmoid":
            return sigmoid(z)
        if name == "softplus":
            return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
        if name == "elu":
            return np.where(z > 0, z, p["alpha"] * np.expm1(np.minimum(z, 0.0)))
        if name == "silu":
            return z * sigmoid(z)
        if name == "gelu_erf":
            return z * 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
        if name == "gelu_tanh":
            k = math.sqrt(2.0 / math.pi)
            return 0.5 * z * (1.0 + np.tanh(k * (z + 0.044715 * z**3)))
        raise ValueError(f"activation {name!r} is not known")

    a = np.asarray(x, dtype=np.float64)
    for l, layer in enumerate(layers):
        w = np.asarray(layer["weight"], dtype=np.float64)  # (n_out, n_in), as nn.Linear
        z = a @ w.T + np.asarray(layer["bias"], dtype=np.float64)
        a = apply(*acts[l], z) if l < len(acts) else z
    return a


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--numpy", action="store_true", help="numpy forward pass, no torch")
    args = parser.parse_args()
    import numpy as np

    forward = numpy_forward if args.numpy else torch_forward
    paths = sorted(args.folder.glob("*.mlp.json"))
    if not paths:
        print(f"no *.mlp.json in {args.folder}", file=sys.stderr)
        return 1
    failed = 0
    for path in paths:
        precision, widths, acts, layers = read_model(path)
        io_path = path.with_name(path.name[: -len(".mlp.json")] + ".io.json")
        with open(io_path) as f:
            io = json.load(f)
        ours = forward(widths, acts, layers, io["inputs"])
        theirs = np.asarray(io["outputs"], dtype=np.float64)
        tol = 1e-12 if precision == "f64" else 1e-5
        err = float(np.max(np.abs(ours - theirs)))
        scale = max(1.0, float(np.max(np.abs(theirs))))
        ok = ours.shape == theirs.shape and err <= tol * scale
        failed += not ok
        names = [a[0] for a in acts]
        print(
            f"{'ok  ' if ok else 'FAIL'} {path.name}: {precision} widths {widths} {names}, "
            f"max abs diff {err:.3e} (scale {scale:.3g}, tolerance {tol:g} x scale)"
        )
    backend = "numpy" if args.numpy else "torch"
    print(f"{backend}: {len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
