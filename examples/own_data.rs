//! Your own data, end to end: a CSV with text class labels, an id column and missing cells is
//! loaded, split and standardised; a small MLP is trained with the MGS penalty while the MGS
//! monitor watches a probe; the model is saved and loaded back; and the final MGS kernel of the
//! test set is exported as `.npy` for NumPy, with the training history as CSV.
//!
//! ```text
//! cargo run --release --example own_data -- [--csv FILE --label COLUMN [--skip COLUMN]] [--out DIR]
//! ```
//!
//! Without `--csv` it writes a demo file first: the bundled iris data with the species as text
//! (`setosa`, …), an `id` column and two rows with an `NA` cell (dropped). The outputs go to
//! `DIR` (default: a fresh temporary folder): `model.mlp.json`, `kernel.npy`, `history.csv`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mgs::data::{
    ClassLabels, Column, CsvOptions, Missing, Standardizer, load_csv, stratified_split,
};
use mgs::export::{read_npy, write_npy};
use mgs::faer::Par;
use mgs::kernel::{KernelKind, KernelParams, Route, kernel};
use mgs::penalty::{PenaltyConfig, PenaltyMetric};
use mgs::train::{Adam, MgsMonitor, MgsRegularizer, ObserveMode, Optimizer, TrainConfig, Trainer};
use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};

/// What to read and where to write.
struct Options {
    csv: Option<PathBuf>,
    label: String,
    skip: Vec<String>,
    out: Option<PathBuf>,
}

const USAGE: &str = "usage: own_data [--csv FILE --label COLUMN [--skip COLUMN]...] [--out DIR]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        csv: None,
        label: "species".to_string(),
        skip: Vec::new(),
        out: None,
    };
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--csv" => o.csv = Some(PathBuf::from(value()?)),
            "--label" => o.label = value()?,
            "--skip" => o.skip.push(value()?),
            "--out" => o.out = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.csv.is_none() {
        o.skip = vec!["id".to_string()];
    }
    Ok(o)
}

/// The demo file: iris with text labels, an id column and two rows with a missing cell.
fn write_demo_csv(path: &Path) -> mgs::Result<()> {
    let iris = mgs::data::iris()?;
    let names = iris.class_names().unwrap_or_default().to_vec();
    let labels = iris.labels().unwrap_or_default();
    let mut text = String::from("id,sepal_length,sepal_width,petal_length,petal_width,species\n");
    for i in 0..iris.n_samples() {
        let row = iris.row(i).unwrap_or_default();
        let mut cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        if i == 7 || i == 93 {
            cells[2] = "NA".to_string();
        }
        text += &format!("s{i:03},{},{}\n", cells.join(","), names[labels[i]]);
    }
    std::fs::write(path, text).map_err(|e| mgs::Error::InvalidState {
        what: "demo CSV",
        reason: format!("cannot write {}: {e}", path.display()),
    })
}

fn run(o: &Options, out: &Path) -> mgs::Result<()> {
    // 1. Load: text labels, skipped columns, rows with missing cells dropped.
    let csv = match &o.csv {
        Some(p) => p.clone(),
        None => {
            let p = out.join("demo.csv");
            write_demo_csv(&p)?;
            p
        }
    };
    let options = CsvOptions::classification()
        .with_target(Column::Name(o.label.clone()))
        .with_class_labels(ClassLabels::Text)
        .with_skip(o.skip.iter().cloned().map(Column::Name))
        .with_missing(Missing::DropRows);
    let data = load_csv(&csv, &options)?;
    let classes = data.class_names().unwrap_or_default().to_vec();
    let n_classes = classes.len();
    println!(
        "{}: {} samples, {} features, classes {:?}",
        csv.display(),
        data.n_samples(),
        data.n_features(),
        classes
    );

    // 2. Split (stratified 60/20/20) and standardise on the training part only.
    let split = stratified_split(&data, (0.6, 0.2, 0.2), &mut rng_from_seed(1))?;
    let scaler = Standardizer::fit(&split.train)?;
    let (train, val, test) = (
        scaler.transform(&split.train)?,
        scaler.transform(&split.validation)?,
        scaler.transform(&split.test)?,
    );

    // 3. Train with the MGS penalty; the monitor measures MGS on the validation inputs.
    let d = data.n_features();
    let arch = Architecture::new(
        d,
        &[(32, Activation::Tanh), (32, Activation::Tanh)],
        n_classes,
    )?;
    let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(2))?;
    let config = TrainConfig {
        epochs: 60,
        batch_size: 16,
        optimizer: Optimizer::Adam(Adam {
            lr: 5e-3,
            ..Adam::default()
        }),
        seed: 3,
        ..TrainConfig::default()
    };
    let penalty = PenaltyConfig {
        metric: PenaltyMetric::NormalizedLogDet,
        kernel: KernelKind::Traced,
        weight: 0.05,
        subset: Some(16),
        ..PenaltyConfig::default()
    };
    let monitor =
        MgsMonitor::new(&[KernelKind::Traced], 1e-6)?.with_probe("validation", val.features())?;
    let mut trainer = Trainer::new(mlp, config, &train)?
        .with_validation(&val)?
        .with_test(&test)?
        .with_regularizer(MgsRegularizer::new(penalty)?)?
        .with_observer(monitor, ObserveMode::Every(10))?;
    let history = trainer.run()?;
    for e in history.epochs.iter().filter(|e| !e.mgs.is_empty()) {
        let m = &e
            .mgs("validation", KernelKind::Traced)
            .unwrap_or(&e.mgs[0])
            .summary;
        println!(
            "epoch {:>2}: train loss {:.4}, validation accuracy {:.3}, MGS normalised log-det {:.4}",
            e.epoch,
            e.train_loss,
            e.val.as_ref().and_then(|v| v.accuracy).unwrap_or(f64::NAN),
            m.normalized_logdet
        );
    }
    let last = history.last().and_then(|e| e.test.as_ref());
    println!(
        "test accuracy after {} epochs: {:.3}",
        history.epochs.len(),
        last.and_then(|t| t.accuracy).unwrap_or(f64::NAN)
    );

    // 4. Save the model, load it back, and check that it computes the same bits.
    let model_path = out.join("model.mlp.json");
    let model = trainer.into_model();
    model.save(&model_path)?;
    let loaded = Mlp::<f64>::load(&model_path)?;
    let (a, b) = (
        model.forward(test.features(), Par::Seq)?,
        loaded.forward(test.features(), Par::Seq)?,
    );
    let same =
        (0..a.nrows()).all(|i| (0..a.ncols()).all(|j| a[(i, j)].to_bits() == b[(i, j)].to_bits()));
    println!(
        "saved {}; loaded back, forward outputs identical bit for bit: {same}",
        model_path.display()
    );

    // 5. Export the final traced MGS kernel of the test set, and the history.
    let params = KernelParams::new(KernelKind::Traced, Route::Factorised);
    let k = kernel(&loaded, test.features(), None, &params, Par::Seq)?;
    let npy = out.join("kernel.npy");
    write_npy(&npy, k.as_ref())?;
    let back = read_npy::<f64>(&npy)?;
    let equal = back.nrows() == k.nrows()
        && (0..k.nrows())
            .all(|i| (0..k.ncols()).all(|j| back[(i, j)].to_bits() == k[(i, j)].to_bits()));
    history.write_csv(out.join("history.csv"))?;
    println!(
        "wrote the {}×{} test kernel to {} (read back equal: {equal}) and {}",
        k.nrows(),
        k.ncols(),
        npy.display(),
        out.join("history.csv").display()
    );
    println!(
        "in Python: K = numpy.load({:?}); h = pandas.read_csv({:?})",
        npy.display().to_string(),
        out.join("history.csv").display().to_string()
    );
    if !(same && equal) {
        return Err(mgs::Error::InvalidState {
            what: "own_data example",
            reason: "a saved model or an exported kernel did not read back equal".to_string(),
        });
    }
    Ok(())
}

fn main() -> ExitCode {
    let o = match parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (out, _keep) = match &o.out {
        Some(dir) => (dir.clone(), None),
        None => match tempfile::tempdir() {
            Ok(t) => (t.path().to_path_buf(), Some(t)),
            Err(e) => {
                eprintln!("error: cannot make a temporary folder: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    match run(&o, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
