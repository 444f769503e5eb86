//! The penalty allocates nothing after its first call (factorised route, sequential), and a
//! training step allocates nothing after the first: counted per thread with a global allocator.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{inputs, model};
use faer::{Mat, Par};
use mgs::penalty::{KernelKind, Penalty, PenaltyConfig, PenaltyMetric};
use mgs::train::{Adam, LossConfig, MgsRegularizer, Mixup, Optimizer, TrainConfig, Trainer};
use mgs::{Activation, DatasetView, rng_from_seed};

struct Counting;
thread_local! {
    /// Allocations made by this thread (tests run on threads of their own).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn count() {
    // `try_with`: the thread's own teardown may allocate after its locals are gone.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn repeated_value_and_grad_does_not_allocate() {
    let mlp = model::<f64>(5, &[(24, Activation::Tanh), (16, Activation::Silu)], 3, 1);
    let big = inputs::<f64>(40, 5, 2);
    let small = inputs::<f64>(25, 5, 3);
    let mut grad = vec![0.0; mlp.n_params()];
    let mut rng = rng_from_seed(4);
    for metric in PenaltyMetric::ALL {
        for kernel in KernelKind::ALL {
            for subset in [None, Some(30)] {
                let cfg = PenaltyConfig {
                    metric,
                    kernel,
                    subset,
                    ..Default::default()
                };
                let mut pen = Penalty::new(cfg).unwrap();
                pen.value_and_grad(&mlp, big.as_ref(), &mut rng, &mut grad, Par::Seq)
                    .unwrap();
                let before = allocations();
                for x in [&big, &small, &big] {
                    pen.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut grad, Par::Seq)
                        .unwrap();
                }
                let after = allocations();
                assert_eq!(after - before, 0, "{metric:?} {kernel:?} subset {subset:?}");
            }
        }
    }
}

/// Allocations of the second epoch of a run on the first `n` samples of `x`.
fn second_epoch_allocations(
    x: &Mat<f64>,
    y: &[usize],
    n: usize,
    cfg: &TrainConfig,
    mgs: bool,
) -> usize {
    let mlp = model::<f64>(5, &[(24, Activation::Tanh), (16, Activation::Tanh)], 3, 1);
    let ds = DatasetView::classification(x.subrows(0, n), &y[..n]).unwrap();
    let mut t = Trainer::new(mlp, cfg.clone(), ds).unwrap();
    if mgs {
        let pen = PenaltyConfig {
            subset: Some(8),
            ..Default::default()
        };
        t = t
            .with_regularizer(MgsRegularizer::new(pen).unwrap())
            .unwrap();
    }
    t.run_for(1).unwrap();
    let before = allocations();
    t.run_for(1).unwrap();
    allocations() - before
}

#[test]
fn training_steps_do_not_allocate() {
    let x = inputs::<f64>(96, 5, 7);
    let y: Vec<usize> = (0..96).map(|i| i % 3).collect();
    let base = TrainConfig {
        epochs: 2,
        batch_size: 12,
        optimizer: Optimizer::Adam(Adam::default()),
        ..TrainConfig::default()
    };
    let variants = [
        base.clone(),
        TrainConfig {
            dropout: 0.2,
            input_noise_std: 0.1,
            ..base.clone()
        },
        TrainConfig {
            mixup: Some(Mixup::new(0.5).unwrap()),
            ..base.clone()
        },
        TrainConfig {
            loss: LossConfig::GeneralizedCrossEntropy { q: 0.7 },
            ..base.clone()
        },
        TrainConfig {
            loss: LossConfig::EarlyLearning {
                lambda: 3.0,
                momentum: 0.7,
            },
            ..base.clone()
        },
    ];
    for (i, cfg) in variants.iter().enumerate() {
        for mgs in [false, true] {
            // 4 steps per epoch against 8: the epoch's own allocations (shuffle, evaluation, the
            // record) do not depend on the number of steps, so any difference is per step.
            let short = second_epoch_allocations(&x, &y, 48, cfg, mgs);
            let long = second_epoch_allocations(&x, &y, 96, cfg, mgs);
            assert_eq!(
                long, short,
                "variant {i}, mgs {mgs}: {short} vs {long} allocations"
            );
        }
    }
}

/// Viewing an owned dataset (class labels or regression targets) borrows its buffers: building
/// the views allocates nothing.
#[test]
fn viewing_an_owned_dataset_does_not_allocate() {
    let classes = mgs::data::iris().unwrap();
    let regression = mgs::data::diabetes().unwrap();
    let before = allocations();
    let views = [
        classes.view(),
        DatasetView::from(&classes),
        regression.view(),
        DatasetView::from(&regression),
    ];
    let after = allocations();
    assert_eq!(after - before, 0);
    assert_eq!(views.map(|v| v.len()), [150, 150, 442, 442]);
    assert_eq!(
        views[1].inputs().as_ptr(),
        classes.feature_values().as_ptr()
    );
    assert_eq!(
        views[3].inputs().as_ptr(),
        regression.feature_values().as_ptr()
    );
}
