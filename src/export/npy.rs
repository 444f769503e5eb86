//! NPY writing (through `npyz`) and a bounded, validating NPY reader (see the [module
//! docs](super)).

use std::io::Read;
use std::path::Path;

use faer::{Mat, MatRef};
use npyz::{AutoSerialize, DType, Field, WriteOptions, WriterBuilder};
use py_literal::Value;

use crate::limits::{bytes_of, check_bytes};
use crate::train::History;
use crate::train::io::{open_for_reading, write_atomic};
use crate::{Error, Float, Jacobian, Result};

/// The longest NPY header [`read_npy`] accepts, in bytes: NumPy's own default bound
/// (`max_header_size` of `np.load`). A 2-D float array's header is 118 bytes.
pub const MAX_HEADER_BYTES: usize = 10_000;

/// Bytes before the header text: the magic `\x93NUMPY`, the version, the header length.
const PREAMBLE_V1: usize = 10;

/// Brackets deeper than this cannot be a plain array's header (a dict holding a shape tuple).
const MAX_NESTING: usize = 2;

/// Elements decoded per read of [`decode`].
const CHUNK_ELEMENTS: usize = 1024;

/// `'<f4'` or `'<f8'`, the dtype of `T`.
fn descr<T: Float>() -> &'static str {
    if std::mem::size_of::<T>() == 4 {
        "<f4"
    } else {
        "<f8"
    }
}

/// `"f32"` or `"f64"`.
fn type_name<T: Float>() -> &'static str {
    if std::mem::size_of::<T>() == 4 {
        "f32"
    } else {
        "f64"
    }
}

fn format_err(source: &str, reason: impl std::fmt::Display) -> Error {
    Error::Format {
        reason: format!("{source}: {reason}"),
    }
}

/// The NPY image of `m` with element type `E` (`cast` converts exactly).
fn encode_as<T: Float, E: AutoSerialize>(
    m: MatRef<'_, T>,
    cast: impl Fn(T) -> E,
) -> std::io::Result<Vec<u8>> {
    let (rows, cols) = (m.nrows(), m.ncols());
    let mut out = Vec::with_capacity(128 + rows * cols * std::mem::size_of::<E>());
    let mut writer = WriteOptions::<E>::new()
        .default_dtype()
        .shape(&[rows as u64, cols as u64])
        .writer(&mut out)
        .begin_nd()?;
    for i in 0..rows {
        for j in 0..cols {
            writer.push(&cast(m[(i, j)]))?;
        }
    }
    writer.finish()?;
    Ok(out)
}

/// The bytes of an `.npy` file holding `m`: a 2-D array in C order, `'<f8'` for `f64`, `'<f4'`
/// for `f32`, whatever the strides of the view (a transposed or strided view is written as the
/// matrix it shows). The buffer's size is checked against the memory limit first.
///
/// ```
/// use faer::mat;
/// let bytes = mgs::export::to_npy_bytes(mat![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]].as_ref())?;
/// assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
/// assert_eq!(bytes.len(), 128 + 6 * 8);
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn to_npy_bytes<T: Float>(m: MatRef<'_, T>) -> Result<Vec<u8>> {
    let elements = (m.nrows() as u128).saturating_mul(m.ncols() as u128);
    check_bytes(
        &format!("NPY image of a {} × {} matrix", m.nrows(), m.ncols()),
        bytes_of::<T>(elements).saturating_add(128),
    )?;
    let encoded = if std::mem::size_of::<T>() == 4 {
        encode_as(m, |x| x.to_f64() as f32)
    } else {
        encode_as(m, |x| x.to_f64())
    };
    // Writing into memory fails only if npyz's shape bookkeeping does, which the loop above
    // matches by construction.
    encoded.map_err(|e| Error::Format {
        reason: format!("cannot encode the NPY image: {e}"),
    })
}

/// Writes `m` to `path` as an `.npy` file ([`to_npy_bytes`]), atomically.
pub fn write_npy<T: Float>(path: impl AsRef<Path>, m: MatRef<'_, T>) -> Result<()> {
    write_atomic(path.as_ref(), &to_npy_bytes(m)?)
}

/// Writes a per-sample Jacobian to `path` as an `(N·C) × P` `.npy` array: row `r = i·C + c`
/// holds `∇_θ f_c(x_i)` (sample-major: the `C` outputs of sample 0, then those of sample 1, …),
/// columns follow the flat parameter vector ([`Mlp::params`](crate::Mlp::params)). In NumPy,
/// `J.reshape(N, C, P)[i, c]` is that gradient.
pub fn write_jacobian_npy<T: Float>(path: impl AsRef<Path>, jacobian: &Jacobian<T>) -> Result<()> {
    write_npy(path, jacobian.as_mat())
}

/// The `.npy` image of a history: a structured array of shape `(epochs,)` with one `'<f8'`
/// field per column of [`History::to_csv`], under the same names and in the same order; absent
/// values are NaN (see the [module docs](super)).
///
/// A column name that appears twice (e.g. an observer's metric named `epoch`) is
/// [`Error::InvalidState`]: NumPy requires distinct field names.
pub fn history_to_npy_bytes(history: &History) -> Result<Vec<u8>> {
    let columns = history.columns();
    for (k, c) in columns.iter().enumerate() {
        if columns[..k].iter().any(|d| d.name == c.name) {
            return Err(Error::InvalidState {
                what: "history columns",
                reason: format!(
                    "two columns are named '{}'; a structured NumPy array needs distinct names",
                    c.name
                ),
            });
        }
    }
    let rows = history.epochs.len();
    let fields = columns
        .iter()
        .map(|c| Field {
            name: c.name.clone(),
            dtype: f64::default_dtype(),
        })
        .collect();
    let mut out = WriteOptions::new_header_only()
        .dtype(DType::Record(fields))
        .shape(&[rows as u64])
        .writer(Vec::new())
        .write_header_only()
        .map_err(|e| Error::Format {
            reason: format!("cannot encode the NPY header of a history: {e}"),
        })?;
    out.reserve(rows * columns.len() * 8);
    for row in 0..rows {
        for c in &columns {
            out.extend_from_slice(&c.values[row].unwrap_or(f64::NAN).to_le_bytes());
        }
    }
    Ok(out)
}

/// Writes a history to `path` as a structured `.npy` array ([`history_to_npy_bytes`]),
/// atomically. In Python: `pd.DataFrame(np.load(path))`.
pub fn write_history_npy(path: impl AsRef<Path>, history: &History) -> Result<()> {
    write_atomic(path.as_ref(), &history_to_npy_bytes(history)?)
}

/// Reads a matrix written by [`write_npy`] (or by NumPy: a C-order 2-D array of `T`'s dtype,
/// `'<f8'` for `f64`, `'<f4'` for `f32`), bit for bit.
///
/// The read is bounded: the header is at most [`MAX_HEADER_BYTES`], the shape it claims is
/// checked against the memory limit ([`Error::TooLarge`]) and against the file's length (a
/// truncated file is an [`Error::Format`]) before the matrix is allocated. Another dtype or byte
/// order, a rank other than 2, Fortran order and bytes after the data are [`Error::Format`]s that
/// say so; a missing or unreadable file is an [`Error::Io`] naming the path.
pub fn read_npy<T: Float>(path: impl AsRef<Path>) -> Result<Mat<T>> {
    let path = path.as_ref();
    let source = path.display().to_string();
    let file = open_for_reading(path, true).map_err(|e| Error::io(path, "", e))?;
    // Regular files tell their length, so that a short one is refused before allocating.
    let length = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    decode(std::io::BufReader::new(file), length, &source)
}

/// [`read_npy`] from the bytes of an `.npy` file.
///
/// ```
/// use faer::mat;
/// use mgs::export::{from_npy_bytes, to_npy_bytes};
/// let k = mat![[2.0f32, -1.0], [-1.0, 2.0]];
/// assert_eq!(from_npy_bytes::<f32>(&to_npy_bytes(k.as_ref())?)?, k);
/// assert!(from_npy_bytes::<f64>(&to_npy_bytes(k.as_ref())?).is_err()); // '<f4', not '<f8'
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn from_npy_bytes<T: Float>(bytes: &[u8]) -> Result<Mat<T>> {
    decode(bytes, Some(bytes.len() as u64), "NPY bytes")
}

/// What [`parse_header`] found.
struct Header {
    /// The `descr` type string.
    descr: String,
    /// The `fortran_order` flag.
    fortran_order: bool,
    /// The `shape`.
    shape: Vec<u64>,
    /// Bytes before the data (preamble and header).
    len: u64,
}

/// Fills `buf` from `reader`; running out of data is a "truncated" [`Error::Format`].
fn read_exact(reader: &mut impl Read, buf: &mut [u8], source: &str, what: &str) -> Result<()> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            format_err(
                source,
                format_args!("truncated file: it ends inside the {what}"),
            )
        } else {
            Error::io(Path::new(source), "", e)
        }
    })
}

/// Reads and validates the preamble and the header dictionary.
fn parse_header(reader: &mut impl Read, source: &str) -> Result<Header> {
    let (text, major, header_len) = read_header_text(reader, source)?;
    let (descr, fortran_order, shape) = header_fields(&text, source)?;
    Ok(Header {
        descr,
        fortran_order,
        shape,
        len: (PREAMBLE_V1 + if major == 1 { 0 } else { 2 } + header_len) as u64,
    })
}

/// The preamble (magic, version, header length) and the header's text, bounded and checked for
/// nesting; returns the text, the major version and the header length.
fn read_header_text(reader: &mut impl Read, source: &str) -> Result<(String, u8, usize)> {
    let mut start = [0u8; 8];
    read_exact(reader, &mut start, source, "magic string")?;
    if &start[..6] != b"\x93NUMPY" {
        return Err(format_err(
            source,
            "not an NPY file (it does not start with \\x93NUMPY)",
        ));
    }
    let (major, minor) = (start[6], start[7]);
    let header_len = match (major, minor) {
        (1, 0) => {
            let mut n = [0u8; 2];
            read_exact(reader, &mut n, source, "header length")?;
            u16::from_le_bytes(n) as usize
        }
        (2, 0) | (3, 0) => {
            let mut n = [0u8; 4];
            read_exact(reader, &mut n, source, "header length")?;
            usize::try_from(u32::from_le_bytes(n)).unwrap_or(usize::MAX)
        }
        _ => {
            return Err(format_err(
                source,
                format_args!("unsupported NPY version {major}.{minor} (1.0, 2.0 and 3.0 are read)"),
            ));
        }
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(format_err(
            source,
            format_args!("header of {header_len} bytes, more than the {MAX_HEADER_BYTES} accepted"),
        ));
    }
    let mut text = vec![0u8; header_len];
    read_exact(reader, &mut text, source, "header")?;
    let text =
        String::from_utf8(text).map_err(|_| format_err(source, "the header is not UTF-8 text"))?;
    // The parser recurses on brackets: refuse what no plain array's header holds before it.
    let mut depth = 0usize;
    for ch in text.chars() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(format_err(
                source,
                "the header nests deeper than a plain array's (structured dtypes are not read)",
            ));
        }
    }
    Ok((text, major, header_len))
}

/// The header dictionary's three entries, each there exactly once: `descr`, `fortran_order`,
/// `shape`.
fn header_fields(text: &str, source: &str) -> Result<(String, bool, Vec<u64>)> {
    let value: Value = text.trim_end().parse().map_err(|e| {
        format_err(
            source,
            format_args!("the header is not a Python literal: {e}"),
        )
    })?;
    let Value::Dict(items) = value else {
        return Err(format_err(source, "the header is not a dictionary"));
    };
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    for (key, value) in items {
        match (key, value) {
            (Value::String(k), Value::String(v)) if k == "descr" && descr.is_none() => {
                descr = Some(v);
            }
            (Value::String(k), Value::Boolean(v))
                if k == "fortran_order" && fortran_order.is_none() =>
            {
                fortran_order = Some(v);
            }
            (Value::String(k), Value::Tuple(dims)) if k == "shape" && shape.is_none() => {
                let dims = dims
                    .iter()
                    .map(|d| match d {
                        Value::Integer(n) => u64::try_from(n).ok(),
                        _ => None,
                    })
                    .collect::<Option<Vec<u64>>>()
                    .ok_or_else(|| {
                        format_err(source, "'shape' holds something other than sizes")
                    })?;
                shape = Some(dims);
            }
            (key, value) => {
                return Err(format_err(
                    source,
                    format_args!(
                        "unexpected header entry {key}: {value} (a plain array's header holds \
                         'descr' (a type string), 'fortran_order' (a bool) and 'shape' (a tuple) \
                         once each)"
                    ),
                ));
            }
        }
    }
    match (descr, fortran_order, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok((descr, fortran_order, shape)),
        _ => Err(format_err(
            source,
            "the header lacks one of 'descr', 'fortran_order' and 'shape'",
        )),
    }
}

/// Reads a 2-D array of `T` from an `.npy` stream of `length` bytes (when known).
fn decode<T: Float>(mut reader: impl Read, length: Option<u64>, source: &str) -> Result<Mat<T>> {
    let header = parse_header(&mut reader, source)?;
    let want = descr::<T>();
    if header.descr != want {
        let hint = match header.descr.as_str() {
            ">f8" | ">f4" => " (big-endian; save with dtype '<f8' or '<f4')".to_string(),
            "<f8" | "<f4" => format!(
                " (read it as {})",
                if header.descr == "<f8" { "f64" } else { "f32" }
            ),
            _ => String::new(),
        };
        return Err(format_err(
            source,
            format_args!(
                "dtype '{}' cannot be read as {} (which needs '{want}'){hint}",
                header.descr,
                type_name::<T>()
            ),
        ));
    }
    if header.fortran_order {
        return Err(format_err(
            source,
            "Fortran-order arrays are not read (save np.ascontiguousarray(a))",
        ));
    }
    let [rows, cols] = header.shape[..] else {
        return Err(format_err(
            source,
            format_args!(
                "expected a 2-D array, found shape {:?} of rank {}",
                header.shape,
                header.shape.len()
            ),
        ));
    };
    let elements = (rows as u128) * (cols as u128);
    let bytes = bytes_of::<T>(elements);
    check_bytes(
        &format!("{source}: NPY array of shape ({rows}, {cols})"),
        bytes,
    )?;
    if let Some(length) = length {
        let data = length.saturating_sub(header.len) as u128;
        if data != bytes {
            let problem = if data < bytes {
                "truncated file"
            } else {
                "trailing bytes"
            };
            return Err(format_err(
                source,
                format_args!(
                    "{problem}: shape ({rows}, {cols}) needs {bytes} data bytes, the file holds {data}"
                ),
            ));
        }
    }
    // Within the memory limit, hence within `usize`.
    let (rows, cols) = (rows as usize, cols as usize);
    let size = std::mem::size_of::<T>();
    let mut m = Mat::<T>::zeros(rows, cols);
    let mut buf = vec![0u8; CHUNK_ELEMENTS * size];
    let total = rows * cols;
    let mut k = 0;
    while k < total {
        let n = CHUNK_ELEMENTS.min(total - k);
        read_exact(&mut reader, &mut buf[..n * size], source, "data")?;
        for (offset, b) in buf[..n * size].chunks_exact(size).enumerate() {
            let x = if size == 4 {
                T::from_f64(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            } else {
                T::from_f64(f64::from_le_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            };
            let flat = k + offset;
            m[(flat / cols, flat % cols)] = x;
        }
        k += n;
    }
    if length.is_none() {
        let mut extra = [0u8; 1];
        let more = reader
            .read(&mut extra)
            .map_err(|e| Error::io(Path::new(source), "", e))?;
        if more > 0 {
            return Err(format_err(
                source,
                "trailing bytes: the stream goes on after the data",
            ));
        }
    }
    Ok(m)
}
