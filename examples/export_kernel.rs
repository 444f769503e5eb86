//! Export an MGS kernel for Python: a small MLP's traced kernel written as `.npy` (and CSV), read
//! back, compared, and a snippet to load it in NumPy.
//!
//! ```text
//! cargo run --release --example export_kernel -- [OUT_DIR]
//! ```
//!
//! Writes `kernel.npy` and `kernel.csv` to `OUT_DIR` (default: a fresh temporary folder).

use std::path::PathBuf;
use std::process::ExitCode;

use faer::{Mat, Par};
use mgs::export::{read_npy, write_csv, write_npy};
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};

fn run(out: PathBuf) -> mgs::Result<()> {
    // A 4 → 16 → 16 → 3 tanh network and 12 inputs.
    let arch = Architecture::new(4, &[(16, Activation::Tanh), (16, Activation::Tanh)], 3)?;
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(7))?;
    let x = Mat::from_fn(12, 4, |i, j| ((i * 4 + j) as f64 * 0.37).sin());
    let k = kernel(
        &mlp,
        x.as_ref(),
        None,
        &KernelParams::new(KernelKind::Traced, Route::Factorised),
        Par::Seq,
    )?;

    let npy = out.join("kernel.npy");
    write_npy(&npy, k.as_ref())?;
    write_csv(out.join("kernel.csv"), k.as_ref())?;
    let back = read_npy::<f64>(&npy)?;
    let max_abs_diff = (0..k.nrows())
        .flat_map(|i| (0..k.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| (k[(i, j)] - back[(i, j)]).abs())
        .fold(0.0f64, f64::max);
    println!(
        "wrote the {}×{} traced MGS kernel to {}",
        k.nrows(),
        k.ncols(),
        npy.display()
    );
    println!("max |K − read_npy(K)| = {max_abs_diff:e}");
    println!("load it in Python:");
    println!("    import numpy as np");
    println!("    K = np.load({:?})", npy.display().to_string());
    println!("    print(K.shape, K.dtype, np.linalg.eigvalsh(K)[:3])");
    if max_abs_diff != 0.0 {
        return Err(mgs::Error::InvalidState {
            what: "exported kernel",
            reason: format!("read back with a difference of {max_abs_diff:e}"),
        });
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (out, keep) = match args.next() {
        Some(dir) => (PathBuf::from(dir), None),
        None => match tempfile::tempdir() {
            Ok(dir) => (dir.path().to_path_buf(), Some(dir)),
            Err(e) => {
                eprintln!("cannot create a temporary folder: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if args.next().is_some() {
        eprintln!("usage: export_kernel [OUT_DIR]");
        return ExitCode::FAILURE;
    }
    match run(out) {
        Ok(()) if keep.is_some() => {
            println!("(a temporary folder, removed at exit: pass OUT_DIR to keep the files)");
            ExitCode::SUCCESS
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
