//! Export for Python (`mgs::export`): NPY round trips bit for bit, the NPY header byte for byte
//! against the format's specification, CSV forms against known text, and the refusal of
//! corrupt, truncated, foreign and oversized files (the last before allocating their size).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{inputs, kernel_seq, model};
use faer::{Mat, MatRef, Par};
use mgs::export::{
    MAX_HEADER_BYTES, from_npy_bytes, history_to_npy_bytes, matrix_to_csv, read_npy, to_npy_bytes,
    write_csv, write_history_npy, write_jacobian_csv, write_jacobian_npy, write_npy,
};
use mgs::kernel::{KernelKind, Route};
use mgs::train::History;
use mgs::{Activation, Error, Float, Jacobian};

// ---------------------------------------------------------------------------------------------
// The largest single allocation of this thread, to show that a huge header allocates nothing of
// its size.

struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| c.set(c.get().max(size)));
}

// SAFETY: forwards to the system allocator; the record is a const-initialised thread local
// without destructor, whose access never allocates.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LargestAllocation = LargestAllocation;

/// The largest allocation `f` makes on this thread.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|c| c.set(0));
    let r = f();
    (r, LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Entries of `m` row-major, as bit patterns.
fn bits<T: Float>(m: MatRef<'_, T>) -> Vec<u64> {
    let mut out = Vec::new();
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            let x = m[(i, j)].to_f64();
            out.push(if std::mem::size_of::<T>() == 4 {
                (x as f32).to_bits() as u64
            } else {
                x.to_bits()
            });
        }
    }
    out
}

/// Values whose bits a lossy path would change: signed zeros, subnormals, extremes, and
/// decimals without a finite binary form.
fn awkward(rows: usize, cols: usize) -> Mat<f64> {
    let special = [
        -0.0,
        0.1,
        -1.0 / 3.0,
        f64::MIN_POSITIVE / 3.0,
        f64::MAX,
        -f64::MIN_POSITIVE,
        1e-300,
        std::f64::consts::PI,
    ];
    Mat::from_fn(rows, cols, |i, j| {
        special[(i * cols + j) % special.len()] * (1.0 + (i * 7 + j) as f64 * 1e-3)
    })
}

fn format_reason<T: std::fmt::Debug>(r: mgs::Result<T>) -> String {
    match r {
        Err(Error::Format { reason }) => reason,
        other => panic!("expected a Format error, got {other:?}"),
    }
}

/// A hand-written NPY version 1.0 file: `dict` padded to a 64-byte boundary, then `data`.
fn npy_v1(dict: &str, data: &[u8]) -> Vec<u8> {
    let header_len = (10 + dict.len() + 1).div_ceil(64) * 64 - 10;
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', header_len - dict.len() - 1));
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn matrices_round_trip_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npy");

    // f64, non-square.
    let m = awkward(3, 5);
    write_npy(&path, m.as_ref()).unwrap();
    let back = read_npy::<f64>(&path).unwrap();
    assert_eq!((back.nrows(), back.ncols()), (3, 5));
    assert_eq!(bits(back.as_ref()), bits(m.as_ref()));

    // f32, non-square the other way.
    let m32 = Mat::from_fn(4, 2, |i, j| m[(i % 3, j + 1)] as f32);
    write_npy(&path, m32.as_ref()).unwrap();
    let back32 = read_npy::<f32>(&path).unwrap();
    assert_eq!(bits(back32.as_ref()), bits(m32.as_ref()));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        128 + 4 * 2 * 4,
        "'<f4' entries take 4 bytes"
    );

    // Views with strides: the transpose (row stride 1), a reversed and a sub-block view.
    let big = awkward(6, 7);
    let views = [
        big.as_ref().transpose(),
        big.as_ref().reverse_rows(),
        big.as_ref().submatrix(1, 2, 4, 3),
        big.as_ref()
            .submatrix(0, 1, 6, 5)
            .transpose()
            .reverse_cols(),
    ];
    for view in views {
        write_npy(&path, view).unwrap();
        let back = read_npy::<f64>(&path).unwrap();
        assert_eq!((back.nrows(), back.ncols()), (view.nrows(), view.ncols()));
        assert_eq!(bits(back.as_ref()), bits(view));
        assert_eq!(
            from_npy_bytes::<f64>(&to_npy_bytes(view).unwrap()).unwrap(),
            back
        );
    }

    // Empty matrices keep their shape.
    for (r, c) in [(0, 0), (0, 3), (2, 0)] {
        let e = Mat::<f64>::zeros(r, c);
        write_npy(&path, e.as_ref()).unwrap();
        let back = read_npy::<f64>(&path).unwrap();
        assert_eq!((back.nrows(), back.ncols()), (r, c));
    }
}

#[test]
fn kernels_and_jacobians_round_trip_in_their_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = model::<f64>(
        3,
        &[(6, Activation::Tanh), (5, Activation::Softplus)],
        2,
        11,
    );
    let x = inputs::<f64>(4, 3, 12);

    let k = kernel_seq(&mlp, x.as_ref(), KernelKind::Full, Route::Factorised);
    let kpath = dir.path().join("k.npy");
    write_npy(&kpath, k.as_ref()).unwrap();
    assert_eq!(
        bits(read_npy::<f64>(&kpath).unwrap().as_ref()),
        bits(k.as_ref())
    );

    let jac = Jacobian::reverse(&mlp, x.as_ref(), Par::Seq).unwrap();
    let jpath = dir.path().join("j.npy");
    write_jacobian_npy(&jpath, &jac).unwrap();
    let back = read_npy::<f64>(&jpath).unwrap();
    assert_eq!((back.nrows(), back.ncols()), (4 * 2, mlp.n_params()));
    // Row r = i·C + c is ∇θ f_c(x_i).
    for i in 0..4 {
        for c in 0..2 {
            let row: Vec<u64> = (0..mlp.n_params())
                .map(|p| back[(i * 2 + c, p)].to_bits())
                .collect();
            let want: Vec<u64> = jac.row(i, c).unwrap().iter().map(|v| v.to_bits()).collect();
            assert_eq!(row, want, "sample {i}, output {c}");
        }
    }

    // The CSV form holds the same rows, each entry parsing back to the same bits.
    let cpath = dir.path().join("j.csv");
    write_jacobian_csv(&cpath, &jac).unwrap();
    let text = std::fs::read_to_string(&cpath).unwrap();
    let parsed: Vec<Vec<u64>> = text
        .lines()
        .map(|l| {
            l.split(',')
                .map(|v| v.parse::<f64>().unwrap().to_bits())
                .collect()
        })
        .collect();
    assert_eq!(parsed.len(), 8);
    assert_eq!(parsed.concat(), bits(jac.as_mat()));
}

#[test]
fn csv_matrices_use_shortest_round_trip_text() {
    let m = faer::mat![[1.0f64, 0.1, -0.0], [-2.5e-7, 1e300, f64::MIN_POSITIVE]];
    assert_eq!(
        matrix_to_csv(m.as_ref()),
        "1.0,0.1,-0.0\n-2.5e-7,1e300,2.2250738585072014e-308\n"
    );
    // f32 entries are written in f32's shortest form, which parses back to the same f32.
    let m32 = faer::mat![[0.1f32, 1.0 / 3.0]];
    assert_eq!(matrix_to_csv(m32.as_ref()), "0.1,0.33333334\n");
    // A transposed view is written as the matrix it shows.
    assert_eq!(
        matrix_to_csv(m.as_ref().transpose().subrows(0, 2)),
        "1.0,-2.5e-7\n0.1,1e300\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    write_csv(&path, m.as_ref()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        matrix_to_csv(m.as_ref())
    );
}

// ---------------------------------------------------------------------------------------------
// The header against the NPY format specification

#[test]
fn the_header_of_a_2x3_f64_array_follows_the_spec_byte_for_byte() {
    let m = faer::mat![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let bytes = to_npy_bytes(m.as_ref()).unwrap();
    // Magic string, then format version 1.0.
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    assert_eq!(&bytes[6..8], &[1, 0]);
    // HEADER_LEN, a little-endian u16: 118, so that 6 + 2 + 2 + 118 = 128 is divisible by 64.
    assert_eq!(&bytes[8..10], &[118, 0]);
    // The header: a Python dict literal of 'descr', 'fortran_order' and 'shape', padded with
    // spaces and terminated by a newline.
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, ), }";
    let mut header = dict.to_string();
    header.push_str(&" ".repeat(118 - dict.len() - 1));
    header.push('\n');
    assert_eq!(std::str::from_utf8(&bytes[10..128]).unwrap(), header);
    // The data: 6 little-endian f64, row-major, starting at the 64-byte boundary 128.
    assert_eq!(bytes.len(), 128 + 48);
    assert_eq!(
        &bytes[128..],
        &f64_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])[..]
    );
    // f32 differs only in its type string and entry width.
    let b32 = to_npy_bytes(faer::mat![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]].as_ref()).unwrap();
    assert_eq!(
        &b32[..128],
        header
            .replace("<f8", "<f4")
            .as_bytes()
            .iter()
            .fold(bytes[..10].to_vec(), |mut v, b| {
                v.push(*b);
                v
            })
    );
    assert_eq!(&b32[128..132], &1.0f32.to_le_bytes());
}

#[test]
fn numpys_own_header_forms_are_read() {
    // np.save writes the shape tuple without a trailing comma.
    let data = f64_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let file = npy_v1(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
        &data,
    );
    assert_eq!(file.len(), 128 + 48);
    let m = from_npy_bytes::<f64>(&file).unwrap();
    assert_eq!(m, faer::mat![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    // Version 2.0 (a u32 header length) and keys in another order.
    let dict = "{'shape': (3, 2), 'fortran_order': False, 'descr': '<f8'}";
    let header_len = (12 + dict.len() + 1).div_ceil(64) * 64 - 12;
    let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
    v2.extend_from_slice(&(header_len as u32).to_le_bytes());
    v2.extend_from_slice(dict.as_bytes());
    v2.extend(std::iter::repeat_n(b' ', header_len - dict.len() - 1));
    v2.push(b'\n');
    v2.extend_from_slice(&data);
    let m = from_npy_bytes::<f64>(&v2).unwrap();
    assert_eq!(m, faer::mat![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
}

// ---------------------------------------------------------------------------------------------
// Histories

/// A history of two epochs: validation in both, a penalty and a metric only in the first, MGS
/// in the second (JSON: the form that stays valid whatever fields the records gain).
fn history() -> History {
    History::from_json(
        r#"{
  "epochs": [
    {"epoch": 0, "lr": 0.1, "train_loss": 0.7,
     "train": {"loss": 0.6, "cross_entropy": 0.6, "accuracy": 0.75},
     "val": {"loss": 0.8, "cross_entropy": 0.8, "accuracy": 0.5},
     "test": null, "new_best": true,
     "penalties": [["l2", 0.01]], "metrics": [["param_norm", 3.5]],
     "mgs": [], "wall_time_s": 0.5},
    {"epoch": 1, "lr": 0.05, "train_loss": 0.4,
     "train": {"loss": 0.35, "cross_entropy": null, "accuracy": null},
     "val": {"loss": 0.45, "cross_entropy": null, "accuracy": null},
     "test": null, "new_best": false,
     "penalties": [], "metrics": [],
     "mgs": [{"probe": "train", "kernel": "Traced",
              "summary": {"trace": 2.0, "logdet": -1.5, "normalized_logdet": -2.25,
                          "cosine_mean": 0.125, "cosine_logdet": -0.5,
                          "effective_rank": 3.0, "condition_number": null},
              "layers": []}],
     "wall_time_s": 0.25}
  ],
  "selected_epoch": 0,
  "best_accuracy_epoch": 0,
  "stopped": null
}"#,
    )
    .unwrap()
}

const HISTORY_COLUMNS: [&str; 23] = [
    "epoch",
    "lr",
    "train_loss",
    "new_best",
    "train_eval_loss",
    "train_eval_cross_entropy",
    "train_eval_accuracy",
    "val_loss",
    "val_cross_entropy",
    "val_accuracy",
    "test_loss",
    "test_cross_entropy",
    "test_accuracy",
    "penalty.l2",
    "param_norm",
    "mgs.train.traced.trace",
    "mgs.train.traced.logdet",
    "mgs.train.traced.normalized_logdet",
    "mgs.train.traced.cosine_mean",
    "mgs.train.traced.cosine_logdet",
    "mgs.train.traced.effective_rank",
    "mgs.train.traced.condition_number",
    "wall_time_s",
];

#[test]
fn history_csv_has_one_row_per_epoch_under_a_header() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.csv");
    h.write_csv(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], HISTORY_COLUMNS.join(","));
    assert_eq!(
        lines[1],
        "0,0.1,0.7,1,0.6,0.6,0.75,0.8,0.8,0.5,,,,0.01,3.5,,,,,,,,0.5"
    );
    assert_eq!(
        lines[2],
        "1,0.05,0.4,0,0.35,,,0.45,,,,,,,,2.0,-1.5,-2.25,0.125,-0.5,3.0,,0.25"
    );
}

#[test]
fn history_npy_is_a_structured_array_of_the_csv_columns() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.npy");
    write_history_npy(&path, &h).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, history_to_npy_bytes(&h).unwrap());
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let fields: String = HISTORY_COLUMNS
        .iter()
        .map(|c| format!("('{c}', '<f8'), "))
        .collect();
    assert_eq!(
        header.trim_end(),
        format!("{{'descr': [{fields}], 'fortran_order': False, 'shape': (2, ), }}")
    );
    assert!(header.ends_with('\n'));
    let values: Vec<f64> = bytes[10 + header_len..]
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let nan = f64::NAN;
    #[rustfmt::skip]
    let want = [
        0.0, 0.1, 0.7, 1.0, 0.6, 0.6, 0.75, 0.8, 0.8, 0.5, nan, nan, nan, 0.01, 3.5,
        nan, nan, nan, nan, nan, nan, nan, 0.5,
        1.0, 0.05, 0.4, 0.0, 0.35, nan, nan, 0.45, nan, nan, nan, nan, nan, nan, nan,
        2.0, -1.5, -2.25, 0.125, -0.5, 3.0, nan, 0.25,
    ];
    assert_eq!(values.len(), want.len());
    for (k, (v, w)) in values.iter().zip(want).enumerate() {
        assert!(
            v.to_bits() == w.to_bits() || (v.is_nan() && w.is_nan()),
            "{k}: {v} vs {w}"
        );
    }
    // A structured array needs distinct field names: a metric named like a fixed column is
    // refused.
    let mut clash = h.clone();
    clash.epochs[0].metrics.push(("epoch".into(), 1.0));
    assert!(matches!(
        history_to_npy_bytes(&clash),
        Err(Error::InvalidState {
            what: "history columns",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[test]
fn corrupt_and_truncated_files_are_format_errors() {
    let good = to_npy_bytes(faer::mat![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]].as_ref()).unwrap();
    // Every cut: inside the magic, the header length, the header, the data.
    for cut in [0, 3, 7, 9, 10, 60, 127, 128, 135, 175] {
        let reason = format_reason(from_npy_bytes::<f64>(&good[..cut]));
        assert!(reason.contains("truncated"), "cut {cut}: {reason}");
    }
    // The same through a file, whose length is known before the data is read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.npy");
    std::fs::write(&path, &good[..150]).unwrap();
    let reason = format_reason(read_npy::<f64>(&path));
    assert!(
        reason.contains("truncated") && reason.contains("cut.npy"),
        "{reason}"
    );
    // Bytes after the data.
    let mut long = good.clone();
    long.push(0);
    assert!(format_reason(from_npy_bytes::<f64>(&long)).contains("trailing bytes"));
    // Not an NPY file at all, or a version this reader does not know.
    let mut foreign = good.clone();
    foreign[1] = b'X';
    assert!(format_reason(from_npy_bytes::<f64>(&foreign)).contains("not an NPY file"));
    let mut future = good.clone();
    future[6] = 4;
    assert!(format_reason(from_npy_bytes::<f64>(&future)).contains("version 4.0"));
    // A header that is not a dict literal, or lacks or repeats a key.
    for (dict, needle) in [
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), ",
            "Python literal",
        ),
        ("['descr', '<f8']", "not a dictionary"),
        ("{'descr': '<f8', 'shape': (2, 3)}", "lacks"),
        (
            "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
            "unexpected",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3)}",
            "sizes",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
            "unexpected",
        ),
        (
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3)}",
            "unexpected",
        ),
    ] {
        let reason = format_reason(from_npy_bytes::<f64>(&npy_v1(dict, &good[128..])));
        assert!(reason.contains(needle), "{dict}: {reason}");
    }
}

#[test]
fn foreign_dtypes_ranks_and_orders_are_refused_with_the_reason() {
    let data = f64_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let file = |descr: &str, fortran: &str, shape: &str| {
        npy_v1(
            &format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"),
            &data,
        )
    };
    let cases = [
        (file("<f8", "False", "(2, 3)"), true, "(read it as f64)"),
        (file(">f8", "False", "(2, 3)"), false, "big-endian"),
        (
            file("<i8", "False", "(2, 3)"),
            false,
            "dtype '<i8' cannot be read as f64",
        ),
        (file("<f8", "True", "(2, 3)"), false, "Fortran-order"),
        (
            file("<f8", "False", "(6,)"),
            false,
            "2-D array, found shape [6] of rank 1",
        ),
        (file("<f8", "False", "(1, 2, 3)"), false, "rank 3"),
        (file("<f8", "False", "()"), false, "rank 0"),
    ];
    for (bytes, f64_ok, needle) in cases {
        // The f64 case reads as f64; as f32, its error names the fitting precision.
        let reason = if f64_ok {
            assert!(from_npy_bytes::<f64>(&bytes).is_ok());
            format_reason(from_npy_bytes::<f32>(&bytes))
        } else {
            format_reason(from_npy_bytes::<f64>(&bytes))
        };
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
    // '<f4' read as f64 says which precision fits.
    let f32_file = to_npy_bytes(faer::mat![[1.0f32]].as_ref()).unwrap();
    let reason = format_reason(from_npy_bytes::<f64>(&f32_file));
    assert!(reason.contains("'<f4' cannot be read as f64") && reason.contains("read it as f32"));
    // Structured dtypes are refused before the parser sees them nested.
    let nested = npy_v1(
        "{'descr': [('a', '<f8'), ('b', [('c', '<f8')])], 'fortran_order': False, 'shape': (1,)}",
        &data[..16],
    );
    assert!(format_reason(from_npy_bytes::<f64>(&nested)).contains("nests deeper"));
}

#[test]
fn huge_claimed_shapes_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.npy");
    // 2⁴⁰ × 2⁴⁰ entries (8 · 2⁸⁰ bytes), and a product that overflows u64, with 48 data bytes.
    for shape in [
        "(1099511627776, 1099511627776)",
        "(18446744073709551615, 3)",
    ] {
        let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        std::fs::write(&path, npy_v1(&dict, &[0u8; 48])).unwrap();
        let (result, largest) = largest_allocation(|| read_npy::<f64>(&path));
        match result {
            Err(Error::TooLarge { what, bytes, .. }) => {
                assert!(what.contains("huge.npy"), "{what}");
                assert!(bytes > 1 << 64, "{bytes}");
            }
            other => panic!("{shape}: expected TooLarge, got {other:?}"),
        }
        assert!(
            largest < 1 << 16,
            "{shape}: an allocation of {largest} bytes"
        );
    }
    // A shape within the memory limit but beyond the file's length: refused as truncated
    // before the 800 MB matrix is allocated.
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (10000, 10000), }";
    std::fs::write(&path, npy_v1(dict, &[0u8; 48])).unwrap();
    let (result, largest) = largest_allocation(|| read_npy::<f64>(&path));
    assert!(format_reason(result).contains("truncated"));
    assert!(largest < 1 << 16, "an allocation of {largest} bytes");
    // A header length far beyond what an array needs: refused before reading it.
    let mut long_header = b"\x93NUMPY\x02\x00".to_vec();
    long_header.extend_from_slice(&u32::MAX.to_le_bytes());
    let (result, largest) = largest_allocation(|| from_npy_bytes::<f64>(&long_header));
    let reason = format_reason(result);
    assert!(reason.contains(&MAX_HEADER_BYTES.to_string()), "{reason}");
    assert!(largest < 1 << 16, "an allocation of {largest} bytes");
}

#[test]
fn io_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.npy");
    match read_npy::<f64>(&missing) {
        Err(Error::Io { path, message, .. }) => {
            assert_eq!(path, missing.display().to_string());
            assert!(!message.is_empty());
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let nowhere = dir.path().join("no-folder").join("k.npy");
    let m = faer::mat![[1.0f64]];
    assert!(matches!(
        write_npy(&nowhere, m.as_ref()),
        Err(Error::Io { path, .. }) if path == nowhere.display().to_string()
    ));
    // A folder is not an NPY file.
    assert!(read_npy::<f64>(dir.path()).is_err());
}
