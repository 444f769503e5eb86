//! A training loop that calls the penalty every step allocates nothing after its first call
//! (factorised route, sequential): counted with a global allocator.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{inputs, model};
use faer::Par;
use mgs::penalty::{KernelKind, Penalty, PenaltyConfig, PenaltyMetric};
use mgs::{Activation, rng_from_seed};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
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
                let before = ALLOCATIONS.load(Ordering::Relaxed);
                for x in [&big, &small, &big] {
                    pen.value_and_grad(&mlp, x.as_ref(), &mut rng, &mut grad, Par::Seq)
                        .unwrap();
                }
                let after = ALLOCATIONS.load(Ordering::Relaxed);
                assert_eq!(after - before, 0, "{metric:?} {kernel:?} subset {subset:?}");
            }
        }
    }
}
