//! The one data vocabulary: an owned [`Dataset`] reaches the trainer as a [`DatasetView`] that
//! borrows its buffers (pointer equality, bit-identical training to the copying bridge), the
//! `f32` cast converts once and rejects overflow, and every bad set is an error where it is
//! added.

use faer::Mat;
use mgs::data::{CastDataset, Dataset, DatasetView, Standardizer, Targets, TargetsView};
use mgs::data::{diabetes, iris, stratified_split, wine};
use mgs::train::{Adam, LossConfig, Optimizer, TrainConfig, Trainer};
use mgs::{Activation, Architecture, Error, Float, Init, Mlp, rng_from_seed};

fn model<T: Float>(d: usize, c: usize) -> Mlp<T> {
    let arch = Architecture::new(d, &[(8, Activation::Tanh)], c).unwrap();
    Mlp::init(arch, Init::XavierNormal, &mut rng_from_seed(3)).unwrap()
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 3,
        batch_size: 16,
        optimizer: Optimizer::Adam(Adam {
            lr: 1e-2,
            ..Adam::default()
        }),
        seed: 7,
        ..TrainConfig::default()
    }
}

/// Standardised iris, split 60/20/20 with class proportions kept.
fn iris_parts() -> (Dataset, Dataset, Dataset) {
    let split = stratified_split(&iris().unwrap(), (0.6, 0.2, 0.2), &mut rng_from_seed(0)).unwrap();
    let s = Standardizer::fit(&split.train).unwrap();
    (
        s.transform(&split.train).unwrap(),
        s.transform(&split.validation).unwrap(),
        s.transform(&split.test).unwrap(),
    )
}

/// The view's inputs and labels are the dataset's own buffers.
fn assert_borrows(view: DatasetView<'_, f64>, ds: &Dataset) {
    assert_eq!(view.inputs().as_ptr(), ds.feature_values().as_ptr());
    let labels = view.targets().classes().unwrap();
    assert_eq!(labels.as_ptr(), ds.labels().unwrap().as_ptr());
    assert_eq!(labels.len(), ds.n_samples());
}

#[test]
fn view_borrows_the_owned_buffers() {
    let ds = iris().unwrap();
    for view in [ds.view(), DatasetView::from(&ds)] {
        assert_borrows(view, &ds);
        assert_eq!((view.len(), view.inputs().ncols()), (150, 4));
        for i in 0..150 {
            for j in 0..4 {
                assert_eq!(view.inputs()[(i, j)], ds.row(i).unwrap()[j]);
            }
        }
    }
    // Regression targets: a row-major matrix over the dataset's value buffer.
    let reg = diabetes().unwrap();
    let view = reg.view();
    assert_eq!(view.inputs().as_ptr(), reg.feature_values().as_ptr());
    let TargetsView::Regression(y) = view.targets() else {
        panic!("diabetes has regression targets");
    };
    assert_eq!(y.as_ptr(), reg.regression_targets().unwrap().as_ptr());
    assert_eq!((y.nrows(), y.ncols()), (442, 1));
    // Several targets per sample keep the row-major order.
    let two = Dataset::new(
        vec![1.0, 2.0, 3.0],
        1,
        Targets::Regression {
            values: vec![10.0, 11.0, 20.0, 21.0, 30.0, 31.0],
            n_targets: 2,
        },
    )
    .unwrap();
    let TargetsView::Regression(y) = two.view().targets() else {
        panic!("regression targets");
    };
    assert_eq!((y[(0, 1)], y[(1, 0)], y[(2, 1)]), (11.0, 20.0, 31.0));
}

#[test]
fn the_trainer_holds_the_owned_buffers() {
    let (tr, va, te) = iris_parts();
    let trainer = Trainer::new(model::<f64>(4, 3), config(), &tr)
        .unwrap()
        .with_validation(va.view())
        .unwrap()
        .with_test(&te)
        .unwrap();
    assert_borrows(trainer.train_set(), &tr);
    assert_borrows(trainer.validation_set().unwrap(), &va);
    assert_borrows(trainer.test_set().unwrap(), &te);
}

/// The copying bridge: the features copied into a column-major matrix, and the labels.
fn bridge<'a, T: Float>(x: &'a Mat<T>, d: &'a Dataset) -> DatasetView<'a, T> {
    DatasetView::classification(x.as_ref(), d.labels().unwrap()).unwrap()
}

/// Parameters and per-epoch losses (bits) after a run.
fn outcome<T: Float>(mut t: Trainer<'_, T>) -> (Vec<T>, Vec<u64>) {
    let h = t.run().unwrap();
    let losses = h
        .epochs
        .iter()
        .flat_map(|e| [e.train_loss, e.val.unwrap().loss, e.test.unwrap().loss])
        .map(f64::to_bits)
        .collect();
    (t.model().params().to_vec(), losses)
}

#[test]
fn owned_views_train_exactly_like_the_copying_bridge() {
    let (tr, va, te) = iris_parts();
    // f64: borrowed views against copies of the features in column-major matrices.
    let owned = Trainer::new(model::<f64>(4, 3), config(), &tr)
        .unwrap()
        .with_validation(&va)
        .unwrap()
        .with_test(&te)
        .unwrap();
    let copies = [&tr, &va, &te].map(|d| d.features_as::<f64>());
    let copied = Trainer::new(model::<f64>(4, 3), config(), bridge(&copies[0], &tr))
        .unwrap()
        .with_validation(bridge(&copies[1], &va))
        .unwrap()
        .with_test(bridge(&copies[2], &te))
        .unwrap();
    let (a, b) = (outcome(owned), outcome(copied));
    assert_eq!(a, b);
    assert_eq!(a.1.len(), 9);
    // f32: the cast against the per-matrix conversion.
    let casts: [CastDataset<f32>; 3] = [&tr, &va, &te].map(|d| d.cast::<f32>().unwrap());
    let cast = Trainer::new(model::<f32>(4, 3), config(), &casts[0])
        .unwrap()
        .with_validation(casts[1].view())
        .unwrap()
        .with_test(&casts[2])
        .unwrap();
    let copies32 = [&tr, &va, &te].map(|d| d.features_as::<f32>());
    let copied32 = Trainer::new(model::<f32>(4, 3), config(), bridge(&copies32[0], &tr))
        .unwrap()
        .with_validation(bridge(&copies32[1], &va))
        .unwrap()
        .with_test(bridge(&copies32[2], &te))
        .unwrap();
    assert_eq!(outcome(cast), outcome(copied32));
}

#[test]
fn cast_converts_once_and_rejects_overflow() {
    let ds = wine().unwrap();
    let c = ds.cast::<f32>().unwrap();
    let view = c.view();
    assert_eq!((c.len(), c.is_empty()), (178, false));
    for i in 0..178 {
        for j in 0..13 {
            assert_eq!(view.inputs()[(i, j)], ds.features()[(i, j)] as f32);
        }
    }
    assert_eq!(view.targets().classes(), ds.labels());
    // A cast to f64 is an exact copy.
    let c64 = ds.cast::<f64>().unwrap();
    assert_eq!(c64.view().inputs(), ds.features());
    // Regression targets are converted too.
    let reg = diabetes().unwrap();
    let c = reg.cast::<f32>().unwrap();
    let TargetsView::Regression(y) = c.view().targets() else {
        panic!("regression targets");
    };
    let values = reg.regression_targets().unwrap();
    assert!((0..442).all(|i| y[(i, 0)] == values[i] as f32));
    // Finite in f64, infinite in f32: an error naming the row-major index.
    let big = Dataset::new(
        vec![0.0, 1.0, 2.0, 1e300],
        2,
        Targets::Classes {
            labels: vec![0, 1],
            n_classes: 2,
        },
    )
    .unwrap();
    assert!(matches!(
        big.cast::<f32>(),
        Err(Error::NonFinite { index: 3, .. })
    ));
    assert!(big.cast::<f64>().is_ok());
    let big_target =
        Dataset::new(vec![0.0, 1.0], 1, Targets::regression(vec![1.0, -1e300])).unwrap();
    assert!(matches!(
        big_target.cast::<f32>(),
        Err(Error::NonFinite { index: 1, .. })
    ));
}

#[test]
fn bad_sets_are_errors_where_they_are_added() {
    let empty = Dataset::new(
        Vec::new(),
        4,
        Targets::Classes {
            labels: Vec::new(),
            n_classes: 3,
        },
    )
    .unwrap();
    assert!(empty.view().is_empty());
    assert!(matches!(
        Trainer::new(model::<f64>(4, 3), config(), &empty),
        Err(Error::EmptyBatch {
            what: "training inputs"
        })
    ));
    let (tr, _, _) = iris_parts();
    let trainer = || Trainer::new(model::<f64>(4, 3), config(), &tr).unwrap();
    assert!(matches!(
        trainer().with_validation(&empty),
        Err(Error::EmptyBatch {
            what: "validation inputs"
        })
    ));
    // Wrong input width; regression targets for the cross-entropy; labels beyond the outputs.
    let w = wine().unwrap();
    assert!(matches!(
        trainer().with_test(&w),
        Err(Error::ShapeMismatch {
            what: "test inputs",
            ..
        })
    ));
    let reg = diabetes().unwrap();
    assert!(matches!(
        Trainer::new(model::<f64>(10, 1), config(), &reg),
        Err(Error::Incompatible {
            what: "loss and targets",
            ..
        })
    ));
    let mse = TrainConfig {
        loss: LossConfig::MeanSquaredError,
        ..config()
    };
    assert!(Trainer::new(model::<f64>(10, 1), mse, &reg).is_ok());
    assert!(matches!(
        Trainer::new(model::<f64>(4, 2), config(), &tr),
        Err(Error::InvalidLabel {
            what: "labels",
            n_classes: 2,
            ..
        })
    ));
    // A caller's own matrices: non-finite inputs (row-major index), label count, soft rows.
    let mut x = Mat::from_fn(2, 3, |i, j| (i + j) as f64);
    x[(1, 0)] = f64::NAN;
    assert!(matches!(
        DatasetView::classification(x.as_ref(), &[0, 1]),
        Err(Error::NonFinite {
            what: "inputs",
            index: 3
        })
    ));
    x[(1, 0)] = 0.0;
    assert!(matches!(
        DatasetView::classification(x.as_ref(), &[0]),
        Err(Error::ShapeMismatch { what: "labels", .. })
    ));
    let soft = Mat::from_fn(2, 2, |i, _| if i == 0 { 0.5 } else { 0.6 });
    assert!(matches!(
        DatasetView::new(x.as_ref(), TargetsView::Soft(soft.as_ref())),
        Err(Error::InvalidValue {
            what: "soft target",
            ..
        })
    ));
}

#[test]
fn evaluation_of_an_owned_set_matches_its_copy() {
    let (tr, va, _) = iris_parts();
    let mut t = Trainer::new(model::<f64>(4, 3), config(), &tr).unwrap();
    t.run_for(1).unwrap();
    let x = va.features_as::<f64>();
    let copy = DatasetView::classification(x.as_ref(), va.labels().unwrap()).unwrap();
    let (a, b) = (t.evaluate(&va).unwrap(), t.evaluate(copy).unwrap());
    assert_eq!(a, b);
    assert!(a.accuracy.unwrap() > 0.0 && a.loss.is_finite());
    let free = mgs::train::evaluate(t.model(), &va, t.loss(), faer::Par::Seq).unwrap();
    assert_eq!(free, a);
}
