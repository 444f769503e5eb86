//! Evaluation mode: losses and accuracy of a model on a whole data set, in bounded memory.

use faer::Par;

use super::{CrossEntropy, Evaluation, Loss, accuracy};
use crate::data::{DatasetView, TargetsView};
use crate::{Float, Mlp, Result};

/// Rows per forward pass in [`evaluate`] (bounds its memory).
const EVAL_ROWS: usize = 4096;

/// Losses and accuracy of `mlp` on `data` in evaluation mode (no dropout, noise, mixup, label
/// smoothing or other training-only term: [`Loss::evaluate`]). For class targets it also gives
/// the plain softmax cross-entropy and the accuracy. Sets larger than 4096 rows are evaluated in
/// blocks of 4096 rows and the block means averaged with their row counts; smaller sets give
/// exactly `loss.evaluate(mlp.forward(x), targets)`.
///
/// `data` is a [`DatasetView`] or anything that converts into one (`&Dataset` for an `f64`
/// model, `&CastDataset<T>`, `&DatasetView`); it is checked against the model and the loss
/// ([`DatasetView::check_model`]).
///
/// [`CastDataset`]: crate::data::CastDataset
pub fn evaluate<'a, T: Float>(
    mlp: &Mlp<T>,
    data: impl Into<DatasetView<'a, T>>,
    loss: &dyn Loss<T>,
    par: Par,
) -> Result<Evaluation> {
    let data = data.into();
    data.check_model("inputs", mlp.arch(), loss)?;
    evaluate_checked(mlp, &data, loss, par)
}

/// [`evaluate`] on a set already checked against the model and the loss (the trainer checks
/// its sets once, when they are added).
pub(crate) fn evaluate_checked<T: Float>(
    mlp: &Mlp<T>,
    data: &DatasetView<'_, T>,
    loss: &dyn Loss<T>,
    par: Par,
) -> Result<Evaluation> {
    let n = data.len();
    let x = data.inputs();
    let classes = data.targets().classes().is_some();
    let ce = CrossEntropy::new(0.0)?;
    let (mut loss_sum, mut ce_sum, mut correct) = (0.0f64, 0.0f64, 0.0f64);
    let mut start = 0;
    while start < n {
        let rows = EVAL_ROWS.min(n - start);
        let out = mlp.forward(x.subrows(start, rows), par)?;
        let targets = data.targets().rows(start, rows);
        let w = rows as f64 / n as f64;
        let block = |v: f64| if rows == n { v } else { v * w };
        loss_sum += block(loss.evaluate(out.as_ref(), targets)?);
        if let TargetsView::Classes(labels) = targets {
            ce_sum += block(Loss::<T>::evaluate(&ce, out.as_ref(), targets)?);
            // accuracy() is k / rows; recover the integer count k.
            correct += (accuracy(out.as_ref(), labels)? * rows as f64).round();
        }
        start += rows;
    }
    Ok(Evaluation {
        loss: loss_sum,
        cross_entropy: classes.then_some(ce_sum),
        accuracy: classes.then(|| correct / n as f64),
    })
}
