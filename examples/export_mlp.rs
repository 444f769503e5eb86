//! Writes models in the `"mgs-mlp"` JSON format together with inputs and mgs's outputs on them,
//! for `tests/reference/load_mlp_torch.py` to rebuild each network in PyTorch (or numpy) and
//! compare.
//!
//! ```text
//! cargo run --release --example export_mlp -- OUT_DIR
//! python3 tests/reference/load_mlp_torch.py OUT_DIR            # PyTorch
//! python3 tests/reference/load_mlp_torch.py OUT_DIR --numpy    # numpy only
//! ```
//!
//! For each case `NAME` it writes `OUT_DIR/NAME.mlp.json` (the model, through [`Mlp::save`]) and
//! `OUT_DIR/NAME.io.json`: `{"inputs": [[…], …], "outputs": [[…], …]}`, one inner array per
//! sample, the outputs of [`Mlp::forward`] written as the exact `f64` of the model's values.
//! The cases cover every activation (four `f64` models, a linear one included) and one `f32`
//! model; parameters are drawn from a fixed seed with non-zero biases, and the inputs include rows
//! scaled by 10 so that pre-activations reach the saturating and linear tails.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use faer::{Mat, Par};
use mgs::{Activation, Architecture, Float, Init, Mlp, rng_from_seed};

/// The example's errors: the library's, or the file system's for the inputs/outputs file.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
use rand::RngExt;
use serde::Serialize;

/// Inputs and outputs as written (one inner array per sample).
#[derive(Serialize)]
struct InputsOutputs {
    inputs: Vec<Vec<f64>>,
    outputs: Vec<Vec<f64>>,
}

fn rows<T: Float>(m: &Mat<T>) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)].to_f64()).collect())
        .collect()
}

/// A model with Xavier-normal weights and biases uniform in `[-0.5, 0.5)`, and its outputs on
/// 40 inputs (uniform in `[-2, 2)`, the last 8 rows scaled by 10), written to `dir`.
fn export<T: Float>(
    dir: &Path,
    name: &str,
    hidden: &[(usize, Activation)],
    seed: u64,
) -> Result<()> {
    let (d, c) = (5, 3);
    let arch = Architecture::new(d, hidden, c)?;
    let mut rng = rng_from_seed(seed);
    let mut mlp = Mlp::<T>::init(arch.clone(), Init::XavierNormal, &mut rng)?;
    for l in 0..arch.n_layers() {
        for p in arch.bias_range(l) {
            mlp.params_mut()[p] = T::from_f64(rng.random::<f64>() - 0.5);
        }
    }
    let n = 40;
    let x = Mat::from_fn(n, d, |i, _| {
        let scale = if i >= n - 8 { 10.0 } else { 1.0 };
        T::from_f64(scale * (4.0 * rng.random::<f64>() - 2.0))
    });
    let f = mlp.forward(x.as_ref(), Par::Seq)?;
    mlp.save(dir.join(format!("{name}.mlp.json")))?;
    let io = InputsOutputs {
        inputs: rows(&x),
        outputs: rows(&f),
    };
    let path = dir.join(format!("{name}.io.json"));
    let text = serde_json::to_string(&io).expect("finite floats serialise");
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "wrote {} and {}",
        dir.join(format!("{name}.mlp.json")).display(),
        path.display()
    );
    Ok(())
}

fn run(dir: &Path) -> Result<()> {
    use Activation::*;
    export::<f64>(
        dir,
        "smooth_f64",
        &[(16, Tanh), (12, GeluErf), (8, GeluTanh)],
        1,
    )?;
    export::<f64>(
        dir,
        "piecewise_f64",
        &[
            (16, Relu),
            (12, LeakyRelu { slope: 0.1 }),
            (8, Elu { alpha: 0.7 }),
        ],
        2,
    )?;
    export::<f64>(
        dir,
        "logistic_f64",
        &[(16, Sigmoid), (12, Softplus), (10, Silu), (8, Identity)],
        3,
    )?;
    export::<f64>(dir, "linear_f64", &[], 4)?;
    export::<f32>(dir, "mixed_f32", &[(16, Tanh), (12, Silu), (8, GeluErf)], 5)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: export_mlp OUT_DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    match run(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
