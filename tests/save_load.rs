//! Saving and loading: the `"mgs-mlp"` model file (bit-exact round trips in both precisions,
//! every rejection the format documents, a hand-checked fixture), the serde forms of the
//! configuration, record and statistics types, and the checkpoint's serde activations.

mod common;

use common::{all_activations, inputs, kernel_seq, model};
use faer::{Mat, Par};
use mgs::data::{self, Standardizer};
use mgs::kernel::{KernelKind, Route};
use mgs::metrics::{MetricsConfig, metrics};
use mgs::model_file::{MLP_FORMAT, MLP_VERSION};
use mgs::penalty::{PenaltyBound, PenaltyConfig, PenaltyMetric};
use mgs::train::{
    AutoCheckpoint, Checkpoint, EarlyStopping, History, L2Penalty, LossConfig, MgsMonitor,
    MgsRegularizer, Mixup, ObserveMode, Optimizer, Schedule, SelectOn, Sgd, TrainConfig, Trainer,
};
use mgs::{Activation, Architecture, DatasetView, Error, Float, Mlp};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Serialises `value`, reads it back, and checks equality and identical re-serialised bytes.
fn json_round_trip<V: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &V) -> V {
    let text = serde_json::to_string(value).unwrap();
    let back: V = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, value, "{text}");
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    back
}

/// Input width, hidden layers, output width.
type Shape = (usize, Vec<(usize, Activation)>, usize);

/// The architectures of the round-trip tests: every activation in some hidden layer, a linear
/// model, and a deeper one.
fn architectures() -> Vec<Shape> {
    let acts = all_activations();
    let mut out: Vec<Shape> = acts
        .chunks(2)
        .map(|pair| (5, pair.iter().map(|&a| (7, a)).collect(), 3))
        .collect();
    out.push((4, Vec::new(), 2));
    out.push((
        3,
        vec![
            (16, Activation::Tanh),
            (9, Activation::GeluErf),
            (5, Activation::LeakyRelu { slope: -0.3 }),
        ],
        1,
    ));
    out
}

fn bits<T: Float>(m: faer::MatRef<'_, T>) -> Vec<u64> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            out.push(m[(i, j)].to_f64().to_bits());
        }
    }
    out
}

fn save_load_is_bit_exact<T: Float>() {
    let dir = tempfile::tempdir().unwrap();
    for (k, (d, hidden, c)) in architectures().into_iter().enumerate() {
        let mlp = model::<T>(d, &hidden, c, 100 + k as u64);
        let path = dir.path().join(format!("model{k}.json"));
        mlp.save(&path).unwrap();
        let back = Mlp::<T>::load(&path).unwrap();
        assert_eq!(back.arch(), mlp.arch());
        let same_bits = back
            .params()
            .iter()
            .zip(mlp.params())
            .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits());
        assert!(same_bits && back.n_params() == mlp.n_params());
        // Inputs scaled by 4 reach the saturating and the linear regions of every activation.
        let mut x = inputs::<T>(23, d, 7 + k as u64);
        x *= faer::Scale(T::from_f64(4.0));
        let (f, g) = (
            mlp.forward(x.as_ref(), Par::Seq).unwrap(),
            back.forward(x.as_ref(), Par::Seq).unwrap(),
        );
        assert_eq!(bits(f.as_ref()), bits(g.as_ref()), "architecture {k}");
        // The file is the model's JSON, and writing the loaded model gives the same bytes.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, mlp.to_json().unwrap());
        assert_eq!(back.to_json().unwrap(), text);
        assert_eq!(Mlp::<T>::from_json(&text).unwrap(), mlp);
        // The serde impls are the same form, with the same checks.
        assert_eq!(serde_json::to_string(&mlp).unwrap(), text);
        json_round_trip(&mlp);
    }
}

#[test]
fn save_load_round_trip_is_bit_exact_in_f64() {
    save_load_is_bit_exact::<f64>();
}

#[test]
fn save_load_round_trip_is_bit_exact_in_f32() {
    save_load_is_bit_exact::<f32>();
}

#[test]
fn values_that_need_every_digit_round_trip() {
    // Subnormal, largest finite, negative zero, and values whose shortest decimal is long.
    let arch = Architecture::new(2, &[(2, Activation::Relu)], 1).unwrap();
    let p64 = vec![
        f64::from_bits(1),
        f64::MAX,
        -0.0,
        0.1 + 0.2,
        -1.0 / 3.0,
        std::f64::consts::PI,
        1e-300,
        -2.5e300,
        7.0,
    ];
    let mlp = Mlp::<f64>::from_params(arch.clone(), p64).unwrap();
    let back = Mlp::<f64>::from_json(&mlp.to_json().unwrap()).unwrap();
    let b: Vec<u64> = back.params().iter().map(|v| v.to_bits()).collect();
    let a: Vec<u64> = mlp.params().iter().map(|v| v.to_bits()).collect();
    assert_eq!(a, b);
    let p32 = vec![
        f32::from_bits(1),
        f32::MAX,
        -0.0,
        0.1,
        -1.0 / 3.0,
        std::f32::consts::PI,
        1e-38,
        -2.5e38,
        16_777_215.0,
    ];
    let mlp = Mlp::<f32>::from_params(arch, p32).unwrap();
    let text = mlp.to_json().unwrap();
    // f32 values are written as the f64 of the same value.
    assert!(text.contains("0.10000000149011612"), "{text}");
    let back = Mlp::<f32>::from_json(&text).unwrap();
    let b: Vec<u32> = back.params().iter().map(|v| v.to_bits()).collect();
    let a: Vec<u32> = mlp.params().iter().map(|v| v.to_bits()).collect();
    assert_eq!(a, b);
}

/// A 2-3-1 tanh network written out by hand.
const FIXTURE: &str = r#"{
  "format": "mgs-mlp",
  "version": 1,
  "precision": "f64",
  "architecture": {"widths": [2, 3, 1], "activations": ["tanh"]},
  "layers": [
    {"weight": [[0.5, -1.0], [0.25, 0.75], [-0.5, 0]], "bias": [0.1, -0.2, 0]},
    {"weight": [[1, -2, 0.5]], "bias": [0.25]}
  ]
}"#;

#[test]
fn hand_written_fixture_gives_the_hand_computed_output() {
    let mlp = Mlp::<f64>::from_json(FIXTURE).unwrap();
    // Flat layout: W¹ row-major, b¹, W², b².
    assert_eq!(
        mlp.params(),
        &[
            0.5, -1.0, 0.25, 0.75, -0.5, 0.0, 0.1, -0.2, 0.0, 1.0, -2.0, 0.5, 0.25
        ]
    );
    assert_eq!(mlp.weights(0)[(1, 0)], 0.25);
    let x = Mat::from_fn(2, 2, |i, j| [[1.0, 2.0], [-0.5, 0.3]][i][j]);
    let f = mlp.forward(x.as_ref(), Par::Seq).unwrap();
    // x = (1, 2): z = (0.5 − 2 + 0.1, 0.25 + 1.5 − 0.2, −0.5) = (−1.4, 1.55, −0.5).
    let f0 = (-1.4f64).tanh() - 2.0 * 1.55f64.tanh() + 0.5 * (-0.5f64).tanh() + 0.25;
    // x = (−0.5, 0.3): z = (−0.25 − 0.3 + 0.1, −0.125 + 0.225 − 0.2, 0.25) = (−0.45, −0.1, 0.25).
    let f1 = (-0.45f64).tanh() - 2.0 * (-0.1f64).tanh() + 0.5 * 0.25f64.tanh() + 0.25;
    // The crate's tanh is its own vectorised one and the sums are in another order: a few ulps.
    for (got, want) in [(f[(0, 0)], f0), (f[(1, 0)], f1)] {
        assert!(
            (got - want).abs() <= 1e-15 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
    // The same sums evaluated independently (Python's math.tanh): -2.6939812070679228 and
    // 0.1498963152017583.
    assert!((f0 - (-2.6939812070679228)).abs() < 1e-15, "{f0}");
    assert!((f1 - 0.1498963152017583).abs() < 1e-15, "{f1}");
    // The fixture's numbers survive a save and a load unchanged.
    let again = Mlp::<f64>::from_json(&mlp.to_json().unwrap()).unwrap();
    assert_eq!(again, mlp);
}

/// `from_json` of `text` must fail; returns the error.
fn rejected(text: &str) -> Error {
    match Mlp::<f64>::from_json(text) {
        Ok(m) => panic!("accepted {text}: {m:?}"),
        Err(e) => {
            // The serde impl refuses it too.
            assert!(serde_json::from_str::<Mlp<f64>>(text).is_err(), "{text}");
            e
        }
    }
}

fn format_reason(e: Error) -> String {
    match e {
        Error::Format { reason } => reason,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn malformed_model_files_are_clear_errors() {
    let ok = FIXTURE;
    // Wrong format name, unknown version: named before anything else is read.
    let r = format_reason(rejected(&ok.replace("mgs-mlp", "torch-state-dict")));
    assert!(
        r.contains("not an mgs MLP file") && r.contains("torch-state-dict"),
        "{r}"
    );
    let r = format_reason(rejected(&ok.replace(r#""version": 1"#, r#""version": 2"#)));
    assert!(r.contains("version 2 is not supported"), "{r}");
    let r = format_reason(rejected(
        &ok.replace(r#""version": 1"#, r#""version": 2, "future": []"#),
    ));
    assert!(r.contains("version 2"), "{r}");
    // Foreign JSON, or not JSON.
    let r = format_reason(rejected(r#"{"weight": [1.0]}"#));
    assert!(r.contains("no format and version"), "{r}");
    format_reason(rejected("[1, 2, 3]"));
    format_reason(rejected("epoch,lr\n0,0.1\n"));
    format_reason(rejected(""));
    // Every truncation is an error, never a panic.
    let text = model::<f64>(3, &[(4, Activation::Silu)], 2, 5)
        .to_json()
        .unwrap();
    for cut in 0..text.len() {
        let e = rejected(&text[..cut]);
        assert!(matches!(e, Error::Format { .. }), "cut at {cut}: {e:?}");
    }
    // Precision: an f64 file is not an f32 model; an f32 file holds f32 values exactly.
    let r = format_reason(Mlp::<f32>::from_json(ok).unwrap_err());
    assert!(r.contains("f64 model, not f32"), "{r}");
    let f32_text = ok.replace(r#""f64""#, r#""f32""#);
    let r = format_reason(Mlp::<f32>::from_json(&f32_text).unwrap_err());
    assert!(
        r.contains("0.1") && r.contains("not exactly representable"),
        "{r}"
    );
    let exact = f32_text
        .replace("0.1,", "0.125,")
        .replace("-0.2,", "-0.25,");
    assert_eq!(Mlp::<f32>::from_json(&exact).unwrap().params()[6], 0.125);
    // Missing and unknown fields.
    format_reason(rejected(&ok.replace(r#""precision": "f64","#, "")));
    let r = format_reason(rejected(
        &ok.replace(r#""bias": [0.25]"#, r#""bias": [0.25], "b": 1"#),
    ));
    assert!(r.contains("unknown field"), "{r}");
}

#[test]
fn model_files_that_disagree_with_their_architecture_are_refused() {
    let ok = FIXTURE;
    let cases = [
        // A missing bias entry, an extra row, a short row, a missing layer.
        (
            ok.replace("[0.1, -0.2, 0]", "[0.1, -0.2]"),
            "layer 0: the bias has 2",
        ),
        (
            ok.replace("[-0.5, 0]]", "[-0.5, 0], [1, 1]]"),
            "layer 0: the weight has 4 rows",
        ),
        (
            ok.replace("[0.25, 0.75]", "[0.25]"),
            "layer 0: weight row 1 has 1",
        ),
        (
            ok.replace(
                r#",
    {"weight": [[1, -2, 0.5]], "bias": [0.25]}"#,
                "",
            ),
            "1 layers in the file, the architecture has 2",
        ),
    ];
    for (text, want) in cases {
        assert_ne!(text, ok);
        let r = format_reason(rejected(&text));
        assert!(r.contains(want), "{r}");
    }
    // Invalid architectures are the architecture's own errors.
    for (widths, acts) in [
        ("[2, 0, 1]", r#"["tanh"]"#),
        ("[2]", "[]"),
        ("[]", "[]"),
        ("[2, 3, 1]", "[]"),
        ("[2, 3, 1]", r#"["tanh", "relu"]"#),
    ] {
        let text = ok.replace("[2, 3, 1]", widths).replace(r#"["tanh"]"#, acts);
        let e = rejected(&text);
        assert!(
            matches!(e, Error::InvalidArchitecture { .. }),
            "{widths} {acts}: {e:?}"
        );
        let arch = format!(r#"{{"widths": {widths}, "activations": {acts}}}"#);
        assert!(
            serde_json::from_str::<Architecture>(&arch).is_err(),
            "{arch}"
        );
    }
    // Huge claimed widths with few values: refused by their shapes before anything is
    // allocated for the claimed parameter count (P ≈ 10¹⁰ here).
    let huge = ok.replace("[2, 3, 1]", "[100000, 100000, 1]");
    let r = format_reason(rejected(&huge));
    assert!(r.contains("layer 0: the weight has 3 rows"), "{r}");
    // Unknown activation names are refused.
    format_reason(rejected(&ok.replace(r#"["tanh"]"#, r#"["swish"]"#)));
    // Non-finite parameters: the strings of the exact float encoding are refused as
    // non-finite, and numbers beyond the f64 range as malformed.
    let e = rejected(&ok.replace("0.75", r#""NaN""#));
    assert_eq!(
        e,
        Error::NonFinite {
            what: "parameters",
            index: 3
        }
    );
    let e = rejected(&ok.replace("[0.25]", r#"["-inf"]"#));
    assert_eq!(
        e,
        Error::NonFinite {
            what: "parameters",
            index: 12
        }
    );
    format_reason(rejected(&ok.replace("0.75", "1e999")));
}

#[test]
fn files_are_bounded_named_and_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = model::<f64>(3, &[(8, Activation::GeluTanh)], 2, 9);
    let path = dir.path().join("m.json");
    mlp.save(&path).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(Mlp::<f64>::load_limited(&path, size).is_ok());
    assert!(matches!(
        Mlp::<f64>::load_limited(&path, size - 1),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        Mlp::<f64>::load(dir.path().join("missing.json")),
        Err(Error::Io { .. })
    ));
    std::fs::write(&path, "{\"format\":\"mgs-mlp\",\"version\":1").unwrap();
    let r = format_reason(Mlp::<f64>::load(&path).unwrap_err());
    assert!(r.starts_with(&path.display().to_string()), "{r}");
    // Saving over an existing file replaces it whole and leaves no temporary file.
    mlp.save(&path).unwrap();
    assert_eq!(Mlp::<f64>::load(&path).unwrap(), mlp);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
    // The constants are the ones in the file.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(&format!(
        r#"{{"format":"{MLP_FORMAT}","version":{MLP_VERSION},"precision":"f64""#
    )));
}

#[test]
fn activations_serialise_by_name() {
    for a in all_activations() {
        let text = serde_json::to_string(&a).unwrap();
        let tag = match a {
            Activation::LeakyRelu { .. } | Activation::Elu { .. } => {
                format!("{{\"{}\":", a.name())
            }
            _ => format!("\"{}\"", a.name()),
        };
        assert!(text.starts_with(&tag), "{text}");
        json_round_trip(&a);
    }
    assert_eq!(
        serde_json::to_string(&Activation::LeakyRelu { slope: 0.1 }).unwrap(),
        r#"{"leaky_relu":{"slope":0.1}}"#
    );
    assert!(serde_json::from_str::<Activation>(r#""Tanh""#).is_err());
}

#[test]
fn configurations_round_trip_through_json() {
    let dir = tempfile::tempdir().unwrap();
    let penalty = PenaltyConfig {
        metric: PenaltyMetric::CosineLogDet,
        kernel: KernelKind::CentredTraced,
        jitter: 1e-4,
        weight: 0.3,
        subset: Some(12),
        route: Route::Explicit,
        bound: PenaltyBound::Hinge { target: -2.5 },
        ..PenaltyConfig::default()
    };
    json_round_trip(&penalty);
    json_round_trip(&PenaltyConfig::default());
    // Missing fields take the defaults; unknown ones are refused.
    let short: PenaltyConfig = serde_json::from_str(r#"{"weight": 0.5}"#).unwrap();
    assert_eq!(
        short,
        PenaltyConfig {
            weight: 0.5,
            ..PenaltyConfig::default()
        }
    );
    assert!(serde_json::from_str::<PenaltyConfig>(r#"{"wieght": 0.5}"#).is_err());

    let config = TrainConfig {
        epochs: 7,
        batch_size: 5,
        drop_last: true,
        optimizer: Optimizer::Sgd(Sgd {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 1e-4,
            ..Sgd::default()
        }),
        schedule: Schedule::Step {
            gamma: 0.5,
            every: 2,
        },
        loss: LossConfig::SymmetricCrossEntropy {
            alpha: 0.1,
            beta: 1.0,
            log_clip: -4.0,
        },
        seed: u64::MAX,
        dropout: 0.25,
        input_noise_std: 0.01,
        mixup: Some(Mixup::new(0.4).unwrap()),
        select_on: SelectOn::CrossEntropy,
        early_stopping: Some(EarlyStopping {
            patience: 3,
            min_delta: 1e-3,
            restore_best: true,
        }),
        checkpoint: Some(AutoCheckpoint {
            path: dir.path().join("ckpt.json"),
            every: 2,
        }),
        par: Par::Seq,
        ..TrainConfig::default()
    };
    config.check().unwrap();
    let back = json_round_trip(&config);
    back.check().unwrap();
    // `par` is not serialised: a deserialised configuration is sequential.
    let parallel = TrainConfig {
        par: Par::rayon(2),
        ..config.clone()
    };
    let text = serde_json::to_string(&parallel).unwrap();
    assert!(!text.contains("par\""), "{text}");
    assert_eq!(serde_json::from_str::<TrainConfig>(&text).unwrap(), config);
    json_round_trip(&TrainConfig::default());
    assert!(serde_json::from_str::<TrainConfig>(r#"{"epochs": 3, "par": "Seq"}"#).is_err());
    // Validation happens where the configuration is used, as for one written in code.
    let bad: TrainConfig = serde_json::from_str(r#"{"batch_size": 0}"#).unwrap();
    assert!(matches!(
        bad.check(),
        Err(Error::InvalidHyperparameter {
            name: "batch_size",
            ..
        })
    ));

    json_round_trip(&MetricsConfig {
        jitter: 1e-3,
        spectrum: false,
        ..MetricsConfig::default()
    });
}

#[test]
fn standardizer_round_trips_and_is_checked() {
    let iris = data::iris().unwrap();
    let scaler = Standardizer::fit(&iris).unwrap();
    let back = json_round_trip(&scaler);
    assert_eq!(
        back.transform(&iris).unwrap(),
        scaler.transform(&iris).unwrap()
    );
    for text in [
        r#"{"mean": [0.0, 1.0], "std": [1.0]}"#,
        r#"{"mean": [0.0], "std": [0.0]}"#,
        r#"{"mean": [0.0], "std": [-1.0]}"#,
        r#"{"mean": [], "std": []}"#,
        r#"{"mean": [0.0]}"#,
        r#"{"mean": [0.0], "std": [1.0], "var": [1.0]}"#,
    ] {
        assert!(
            serde_json::from_str::<Standardizer>(text).is_err(),
            "{text}"
        );
    }
    assert!(matches!(
        Standardizer::from_stats(vec![0.0, 1.0], vec![1.0]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        Standardizer::from_stats(vec![f64::NAN], vec![1.0]),
        Err(Error::NonFinite { index: 0, .. })
    ));
    assert!(matches!(
        Standardizer::from_stats(vec![0.0, 0.0], vec![1.0, f64::INFINITY]),
        Err(Error::InvalidHyperparameter { .. })
    ));
}

#[test]
fn metrics_round_trip_through_json() {
    let mlp = model::<f64>(3, &[(10, Activation::Tanh)], 2, 4);
    let x = inputs::<f64>(9, 3, 2);
    for spectrum in [true, false] {
        let k = kernel_seq(&mlp, x.as_ref(), KernelKind::Full, Route::Factorised);
        let config = MetricsConfig {
            spectrum,
            ..MetricsConfig::default()
        };
        let m = metrics(k.as_ref(), &config, Par::Seq).unwrap();
        assert_eq!(m.spectrum.is_some(), spectrum);
        json_round_trip(&m);
    }
}

/// A short run with validation, an L2 and an MGS regulariser and the MGS monitor (per-layer
/// records included), with a leaky-ReLU layer.
fn trainer(epochs: usize) -> Trainer<'static, f64> {
    let x: &'static Mat<f64> = Box::leak(Box::new(inputs::<f64>(24, 3, 11)));
    let y: &'static [usize] = Box::leak(
        (0..24)
            .map(|i| i % 3)
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let hidden = [
        (8, Activation::LeakyRelu { slope: 0.1 }),
        (6, Activation::Elu { alpha: 0.7 }),
    ];
    let mlp = model::<f64>(3, &hidden, 3, 1);
    let config = TrainConfig {
        epochs,
        batch_size: 8,
        seed: 3,
        ..TrainConfig::default()
    };
    let penalty = PenaltyConfig {
        weight: 0.01,
        subset: Some(6),
        ..PenaltyConfig::default()
    };
    Trainer::new(
        mlp,
        config,
        DatasetView::classification(x.as_ref(), y).unwrap(),
    )
    .unwrap()
    .with_validation(DatasetView::classification(x.subrows(0, 9), &y[..9]).unwrap())
    .unwrap()
    .with_regularizer(L2Penalty::new(1e-3).unwrap())
    .unwrap()
    .with_regularizer(MgsRegularizer::new(penalty).unwrap())
    .unwrap()
    .with_observer(
        MgsMonitor::new(&[KernelKind::Traced, KernelKind::Full], 1e-6)
            .unwrap()
            .with_probe("train", x.subrows(0, 8))
            .unwrap()
            .with_layers(true),
        ObserveMode::Every(1),
    )
    .unwrap()
}

#[test]
fn histories_round_trip_through_json() {
    let history = trainer(3).run().unwrap();
    assert_eq!(history.epochs.len(), 3);
    let last = history.last().unwrap();
    assert!(last.val.is_some() && last.penalties.len() == 2 && !last.mgs.is_empty());
    assert!(!last.mgs[0].layers.is_empty());
    json_round_trip(&history);
    json_round_trip(&history.epochs[1]);
    json_round_trip(&last.mgs[0]);
    // The history's own JSON methods read the same form; non-finite metrics survive.
    let mut odd = history.clone();
    odd.epochs[0].metrics.push(("nan".into(), f64::NAN));
    odd.stopped = Some("stopped by a test".into());
    let back = History::from_json(&odd.to_json().unwrap()).unwrap();
    assert!(back.epochs[0].metrics.last().unwrap().1.is_nan());
    assert_eq!(
        back.without_timing().epochs[1],
        odd.without_timing().epochs[1]
    );
}

#[test]
fn checkpoints_store_activations_in_their_serde_form() {
    let mut first = trainer(4);
    first.run_for(2).unwrap();
    let text = first.checkpoint().to_text().unwrap();
    assert!(
        text.contains(r#""activations":[{"leaky_relu":{"slope":0.1}},{"elu":{"alpha":0.7}}]"#),
        "{}",
        &text[..text.len().min(400)]
    );
    let ckpt = Checkpoint::<f64>::from_text(&text).unwrap();
    assert_eq!(
        ckpt.activations,
        [
            Activation::LeakyRelu { slope: 0.1 },
            Activation::Elu { alpha: 0.7 }
        ]
    );
    let mut resumed = trainer(4);
    resumed.restore(&ckpt).unwrap();
    resumed.run().unwrap();
    let mut straight = trainer(4);
    straight.run().unwrap();
    assert_eq!(resumed.model().params(), straight.model().params());
    // A checkpoint whose activation parameter differs is refused by the trainer.
    let mut other = ckpt.clone();
    other.activations[0] = Activation::LeakyRelu { slope: 0.2 };
    assert!(matches!(
        trainer(4).restore(&other),
        Err(Error::Format { .. })
    ));
}
