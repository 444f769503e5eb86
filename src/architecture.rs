//! The shape of an MLP: input width, hidden layers (width and activation), output width.
//!
//! ```
//! use mgs::{Activation, Architecture};
//! let arch = Architecture::new(4, &[(16, Activation::Tanh), (16, Activation::Relu)], 3)?;
//! // P = 16·(4+1) + 16·(16+1) + 3·(16+1)
//! assert_eq!(arch.n_params(), 80 + 272 + 51);
//! assert_eq!(arch.layer_param_range(1), 80..352);
//! # Ok::<(), mgs::Error>(())
//! ```

use std::ops::Range;

use crate::{Activation, Error, Result};

/// The layer widths and activations of an MLP with a linear output layer.
///
/// Layers are numbered `l = 1..=L` as in the design note; index `l − 1` in the methods below.
/// Layer `l` maps `n_{l−1}` inputs to `n_l` outputs; the last layer is linear.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    widths: Vec<usize>,
    activations: Vec<Activation>,
    offsets: Vec<usize>,
}

impl Architecture {
    /// Builds and validates an architecture: `input` features, `hidden` layers as
    /// `(width, activation)`, `output` linear outputs. Zero hidden layers gives a linear model.
    ///
    /// The parameter count `P = Σ_l n_l (n_{l−1} + 1)` is computed with checked arithmetic: an
    /// architecture whose `P` does not fit in a `usize` is [`Error::InvalidArchitecture`], never
    /// a wrapped count. (Every other size derived from the widths alone, such as `Σ_l n_l ≤ P`,
    /// then fits too.) Whether its parameters fit in memory is checked where they are allocated
    /// ([`crate::limits`]).
    pub fn new(input: usize, hidden: &[(usize, Activation)], output: usize) -> Result<Self> {
        let mut widths = Vec::with_capacity(hidden.len() + 2);
        widths.push(input);
        widths.extend(hidden.iter().map(|h| h.0));
        widths.push(output);
        if let Some(pos) = widths.iter().position(|&w| w == 0) {
            return Err(Error::InvalidArchitecture {
                reason: format!("width of layer {pos} (0 = input) is zero"),
            });
        }
        let activations: Vec<Activation> = hidden.iter().map(|h| h.1).collect();
        for a in &activations {
            a.check()?;
        }
        let mut offsets = Vec::with_capacity(widths.len());
        offsets.push(0usize);
        let mut total = 0usize;
        for l in 1..widths.len() {
            let layer = widths[l - 1]
                .checked_add(1)
                .and_then(|fan_in| fan_in.checked_mul(widths[l]));
            total = match layer.and_then(|count| total.checked_add(count)) {
                Some(t) => t,
                None => {
                    let exact: u128 = (1..widths.len())
                        .map(|l| widths[l] as u128 * (widths[l - 1] as u128 + 1))
                        .fold(0, u128::saturating_add);
                    return Err(Error::InvalidArchitecture {
                        reason: format!(
                            "the parameter count P = Σ n_l (n_(l−1) + 1) = {exact} does not fit \
                             in a usize (at most {})",
                            usize::MAX
                        ),
                    });
                }
            };
            offsets.push(total);
        }
        Ok(Self {
            widths,
            activations,
            offsets,
        })
    }

    /// Number of input features `d = n_0`.
    #[must_use]
    pub fn input_dim(&self) -> usize {
        self.widths[0]
    }

    /// Number of outputs `C = n_L`.
    #[must_use]
    pub fn output_dim(&self) -> usize {
        *self.widths.last().expect("at least input and output")
    }

    /// Number of (affine) layers `L`, output layer included.
    #[must_use]
    pub fn n_layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// All widths `n_0, …, n_L`.
    #[must_use]
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// Activation of the hidden layers, `σ_1, …, σ_{L−1}`.
    #[must_use]
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    /// Total number of parameters `P = Σ_l n_l (n_{l−1} + 1)`.
    #[must_use]
    pub fn n_params(&self) -> usize {
        *self.offsets.last().expect("offsets non-empty")
    }

    /// Sum of the layer widths `Σ_l n_l` (the factorised kernel's cost factor).
    #[must_use]
    pub fn sum_widths(&self) -> usize {
        self.widths[1..].iter().sum()
    }

    /// Range of layer `layer` (0-based) in the flat parameter vector: `W` (row-major) then `b`.
    ///
    /// # Panics
    /// If `layer >= n_layers()`: the layer index is the caller's alone (a programming error, not
    /// bad data), as for slice indexing.
    #[must_use]
    pub fn layer_param_range(&self, layer: usize) -> Range<usize> {
        self.check_layer(layer);
        self.offsets[layer]..self.offsets[layer + 1]
    }

    /// Range of the weight matrix `W` of layer `layer` (0-based) in the flat parameter vector.
    ///
    /// # Panics
    /// If `layer >= n_layers()`.
    #[must_use]
    pub fn weight_range(&self, layer: usize) -> Range<usize> {
        self.check_layer(layer);
        let start = self.offsets[layer];
        start..start + self.widths[layer + 1] * self.widths[layer]
    }

    /// Range of the bias `b` of layer `layer` (0-based) in the flat parameter vector.
    ///
    /// # Panics
    /// If `layer >= n_layers()`.
    #[must_use]
    pub fn bias_range(&self, layer: usize) -> Range<usize> {
        self.weight_range(layer).end..self.offsets[layer + 1]
    }

    /// The documented panic of the per-layer accessors, with a message naming the index.
    #[inline]
    #[track_caller]
    fn check_layer(&self, layer: usize) {
        assert!(
            layer < self.n_layers(),
            "layer index {layer} out of range: the architecture has {} layers",
            self.n_layers()
        );
    }

    /// Largest width over all layers (input and output included); sizes scratch buffers.
    #[must_use]
    pub fn max_width(&self) -> usize {
        self.widths.iter().copied().max().unwrap_or(0)
    }
}
