#!/usr/bin/env python3
"""Runs mgs (benches/peers.rs) and the Python peers (peers.py) side by side and tabulates.

For every cell of the grid (dtype x widths x C x N, smallest first, all f64 cells before f32) it
writes the cell's input files once, then runs, one after the other on the same machine, the mgs
bench binary and each peer implementation, every one as its own subprocess with the same pinned
thread count and a wall-clock limit per (cell, implementation). Each subprocess prints one JSON
line per operation as it finishes, so an implementation that hits the limit still keeps the
operations it completed; the others are recorded as timed out.

Everything lands in OUT/results.jsonl (appended; a rerun skips the (cell, dtype, impl) already
there, so an interrupted grid resumes), and after every cell OUT/ratios.md and OUT/ratios.json are
rewritten: per operation, mgs's median time and each peer's time divided by it, plus every check
value (kernel trace and Frobenius norm, penalty value, gradient norm, gradient . probe) that
differs from mgs's by more than --rtol (f64; --rtol-f32 for f32).

Thread pinning: torch.set_num_threads(T) (and OMP/MKL/OpenBLAS env), XLA_FLAGS
"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=T", mgs --threads T
(Par::Seq for T = 1, else Par::rayon(T) in a T-thread pool).

Example (the grid of docs/peers.md):
  CARGO_TARGET_DIR=/work/target-peers python3 benches/peers/run.py --out /tmp/peers-out
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OPS = ["jacobian", "kernel_full", "kernel_traced", "penalty_value", "penalty_grad"]
TORCH = ["torch-func", "torch-nvp", "torch-hand"]
JAX = ["nt-jc", "nt-nvp", "nt-sd", "jax-hand"]
# Order the subprocesses run the ops in: cheapest first, so that an implementation that hits the
# per-cell limit on the (N*C)-order full kernel or the explicit Jacobian still reports the rest.
RUN_ORDER = ["kernel_traced", "penalty_value", "penalty_grad", "jacobian", "kernel_full"]
CHECKS = ["trace", "fro", "value", "grad_norm", "grad_dot_probe"]


def build_bench(args):
    """Builds benches/peers.rs in release mode and returns the executable's path."""
    if args.bench_bin:
        return args.bench_bin
    out = subprocess.run(
        ["cargo", "bench", "--bench", "peers", "--no-run", "--message-format=json"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    exe = None
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "peers":
            exe = msg.get("executable") or exe
    if not exe:
        raise SystemExit("could not find the peers bench executable")
    return exe


def thread_env(t):
    env = dict(os.environ)
    for k in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"]:
        env[k] = str(t)
    env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={t}"
    env["CUDA_VISIBLE_DEVICES"] = ""
    env["JAX_PLATFORMS"] = "cpu"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_limited(cmd, env, limit):
    """Runs cmd with a wall-clock limit; returns (json lines, status, seconds, stderr tail)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.time()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO, start_new_session=True)
        try:
            rc = p.wait(timeout=limit)
            status = "ok" if rc == 0 else f"exit {rc}"
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            status = "timeout"
        secs = time.time() - t
        out.seek(0)
        err.seek(0)
        lines = []
        for line in out:
            line = line.strip()
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return lines, status, secs, err.read()[-600:]


def cell_key(r):
    return (r["dtype"], tuple(r["widths"]), r["C"], r["N"])


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def tabulate(records, args):
    """Builds the ratio tables (markdown) and the JSON summary from all records."""
    by = {}
    for r in records:
        by[(cell_key(r), r["impl"], r["op"])] = r
    cells = sorted({cell_key(r) for r in records}, key=lambda k: (k[0] != "f64", k[0], k[1], k[2], k[3]))
    impls = [i for i in TORCH + JAX if any(r["impl"] == i for r in records)]
    summary = {"cells": [], "mismatches": []}
    md = []
    for op in OPS:
        md.append(f"### {op}\n")
        md.append(
            "| dtype | widths | C | N | mgs (ms) | "
            + " | ".join(impls)
            + " |\n|"
            + "---|" * (5 + len(impls))
        )
        for cell in cells:
            dtype, widths, c, n = cell
            m = by.get((cell, "mgs", op))
            mt = m.get("median_s") if m else None
            row = [dtype, "x".join(map(str, widths)), str(c), str(n)]
            row.append(f"{mt * 1e3:.3g}" if mt else cell_status(m))
            entry = {"dtype": dtype, "widths": list(widths), "C": c, "N": n, "op": op,
                     "mgs_s": mt, "peers": {}}
            for impl in impls:
                r = by.get((cell, impl, op))
                if r and r.get("median_s") and mt:
                    ratio = r["median_s"] / mt
                    row.append(f"{ratio:.3g}" + ("*" if r.get("warm_only") else ""))
                    entry["peers"][impl] = {"s": r["median_s"], "ratio": ratio,
                                            "warm_only": r.get("warm_only", False)}
                else:
                    row.append(cell_status(r))
                    entry["peers"][impl] = {"status": cell_status(r)}
            md.append("| " + " | ".join(row) + " |")
            summary["cells"].append(entry)
            # value checks against mgs
            if not m or "median_s" not in m:
                continue
            tol = args.rtol if dtype == "f64" else args.rtol_f32
            for impl in impls:
                r = by.get((cell, impl, op))
                if not r or "median_s" not in r:
                    continue
                for k in CHECKS:
                    if k in r and k in m:
                        e = rel(r[k], m[k])
                        if e > tol:
                            summary["mismatches"].append(
                                {"dtype": dtype, "widths": list(widths), "C": c, "N": n,
                                 "op": op, "impl": impl, "field": k, "mgs": m[k], "peer": r[k],
                                 "rel": e, "tol": tol})
        md.append("")
    md.append(
        "Ratios are peer median time / mgs median time (> 1: mgs is faster). `*`: a single call "
        "slower than the --slow limit, timed alone (includes compilation for JAX). `timeout`: "
        "the implementation hit the per-cell limit before this op; `skip`: not run (over the "
        "memory estimate, or not provided); `err`: raised an error.\n"
    )
    md.append("### Value mismatches\n")
    if summary["mismatches"]:
        md.append("| dtype | widths | C | N | op | impl | field | mgs | peer | rel |\n|---|---|---|---|---|---|---|---|---|---|")
        for x in summary["mismatches"]:
            md.append(
                f"| {x['dtype']} | {'x'.join(map(str, x['widths']))} | {x['C']} | {x['N']} | {x['op']} "
                f"| {x['impl']} | {x['field']} | {x['mgs']:.12g} | {x['peer']:.12g} | {x['rel']:.2e} |"
            )
    else:
        md.append(f"None: every check value agrees with mgs within {args.rtol:g} relative (f64) "
                  f"and {args.rtol_f32:g} (f32).")
    md.append("")
    return "\n".join(md), summary


def cell_status(r):
    if r is None:
        return "—"
    if "skipped" in r:
        return "skip"
    if "error" in r:
        return "err"
    if r.get("status") == "timeout":
        return "timeout"
    return r.get("status", "—")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default="/tmp/peers-out")
    ap.add_argument("--data-dir", default=None, help="where cell inputs go (default OUT/data)")
    ap.add_argument("--N", default="64,256,1024")
    ap.add_argument("--widths", default="64x64,256x256")
    ap.add_argument("--C", default="1,10")
    ap.add_argument("--dtypes", default="f64,f32")
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jitter", type=float, default=1e-6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--impls", default=",".join(TORCH + JAX))
    ap.add_argument("--ops", default=",".join(RUN_ORDER))
    ap.add_argument("--penalty-kernel", default="traced", choices=["traced", "full"])
    ap.add_argument("--cell-timeout", type=float, default=120.0,
                    help="wall-clock limit per (cell, implementation) subprocess, seconds")
    ap.add_argument("--budget", type=float, default=2.0, help="timed seconds aimed at per op")
    ap.add_argument("--min-reps", type=int, default=3)
    ap.add_argument("--max-reps", type=int, default=15)
    ap.add_argument("--slow", type=float, default=20.0)
    ap.add_argument("--max-bytes", type=float, default=4e9,
                    help="peers: skip an op whose dominant buffer is estimated above this")
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--rtol-f32", type=float, default=1e-3)
    ap.add_argument("--torch-python", default="/work/venv-torch/bin/python")
    ap.add_argument("--jax-python", default="/work/venv-jax/bin/python")
    ap.add_argument("--bench-bin", default=None, help="prebuilt benches/peers.rs executable")
    ap.add_argument("--tabulate-only", action="store_true")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    data_dir = args.data_dir or os.path.join(args.out, "data")
    os.makedirs(data_dir, exist_ok=True)
    results = os.path.join(args.out, "results.jsonl")
    records = []
    if os.path.exists(results):
        with open(results) as f:
            records = [json.loads(l) for l in f if l.strip()]

    def write_tables():
        md, summary = tabulate(records, args)
        with open(os.path.join(args.out, "ratios.md"), "w") as f:
            f.write(md)
        with open(os.path.join(args.out, "ratios.json"), "w") as f:
            json.dump(summary, f, indent=1)
        return summary

    if args.tabulate_only:
        s = write_tables()
        print(f"{len(s['mismatches'])} mismatches; tables in {args.out}")
        return
    exe = build_bench(args)
    done = {(cell_key(r), r["impl"]) for r in records}
    env = thread_env(args.threads)
    ops = args.ops
    common = ["--threads", str(args.threads), "--ops", ops, "--penalty-kernel", args.penalty_kernel,
              "--budget", str(args.budget), "--min-reps", str(args.min_reps),
              "--max-reps", str(args.max_reps), "--slow", str(args.slow)]
    impls = [i for i in args.impls.split(",") if i]
    grid = []
    for dtype in args.dtypes.split(","):
        for w in args.widths.split(","):
            widths = [int(v) for v in w.split("x")]
            for c in [int(v) for v in args.C.split(",")]:
                for n in [int(v) for v in args.N.split(",")]:
                    grid.append((dtype, widths, c, n))
    for dtype, widths, c, n in grid:
        prefix = os.path.join(data_dir, f"cell_N{n}_W{'x'.join(map(str, widths))}_C{c}_d{args.d}")
        if not os.path.exists(prefix + ".bin"):
            subprocess.run([args.torch_python, os.path.join(HERE, "peers.py"), "make", "--out", prefix,
                            "--N", str(n), "--d", str(args.d), "--widths", ",".join(map(str, widths)),
                            "--C", str(c), "--seed", str(args.seed), "--jitter", str(args.jitter)],
                           check=True)
        key = (dtype, tuple(widths), c, n)
        for impl in ["mgs"] + impls:
            if (key, impl) in done:
                continue
            if impl == "mgs":
                cmd = [exe, "--data", prefix, "--dtype", dtype] + common
            else:
                py = args.torch_python if impl.startswith("torch") else args.jax_python
                cmd = [py, os.path.join(HERE, "peers.py"), "run", "--impl", impl, "--data", prefix,
                       "--dtype", dtype, "--max-bytes", str(args.max_bytes)] + common
            lines, status, secs, err = run_limited(cmd, env, args.cell_timeout)
            seen = {l["op"] for l in lines}
            for op in ops.split(","):
                if op not in seen:
                    lines.append({"impl": impl, "op": op, "dtype": dtype, "widths": widths, "C": c,
                                  "N": n, "status": status,
                                  **({"stderr": err} if status != "timeout" else {})})
            with open(results, "a") as f:
                for l in lines:
                    l["wall_s"] = round(secs, 2)
                    f.write(json.dumps(l) + "\n")
            records.extend(lines)
            brief = ", ".join(
                f"{l['op']}={l['median_s'] * 1e3:.3g}ms" if "median_s" in l else f"{l['op']}={cell_status(l)}"
                for l in lines)
            print(f"[{time.strftime('%H:%M:%S')}] {dtype} {widths} C={c} N={n} {impl} ({status}, "
                  f"{secs:.1f}s): {brief}", flush=True)
        write_tables()
    s = write_tables()
    print(f"done; {len(s['mismatches'])} mismatches; tables in {args.out}/ratios.md")


if __name__ == "__main__":
    sys.exit(main())
