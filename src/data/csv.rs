//! Loading a user's own delimited text (CSV, TSV, whitespace-separated) into a [`Dataset`].
//!
//! Every field except the label column is a feature and must parse as a finite number.
//! Blank lines are skipped (line numbers in errors still count them); a UTF-8 byte-order mark
//! and Windows line endings are accepted. With a delimiter byte, fields may be enclosed in
//! double quotes (`"…"`, a quote inside written as `""`, no line breaks inside), and spaces or
//! tabs around a field are ignored. With [`CsvOptions::whitespace`] any run of whitespace
//! separates fields and quotes are not special.
//!
//! Class labels must be non-negative integers (`3` or `3.0`). If the distinct labels are
//! exactly `0..K` they are kept; otherwise the sorted distinct values are mapped to `0..K` in
//! increasing order and the original values are kept as the dataset's class names (so labels
//! `{1, 2, 7}` become `{0, 1, 2}` with class names `["1", "2", "7"]`).
//!
//! Malformed input is an [`Error::Parse`] with the 1-based line and column (field index; 0
//! when the whole line or the options are at fault):
//!
//! ```
//! use mgs::Error;
//! use mgs::data::{CsvOptions, LabelColumn, parse_csv};
//! let opts = CsvOptions::classification().with_label_column(LabelColumn::Name("y".into()));
//! let ds = parse_csv("a,y,b\n1.5,0,2\n3,1,4\n", &opts)?;
//! assert_eq!((ds.n_samples(), ds.n_features()), (2, 2));
//! assert_eq!(ds.feature_names(), Some(&["a".to_string(), "b".to_string()][..]));
//! assert_eq!(ds.labels(), Some(&[0, 1][..]));
//!
//! let err = parse_csv("a,y,b\n1.5,0,2\n3,1,x4\n", &opts).unwrap_err();
//! assert!(matches!(err, Error::Parse { line: 3, column: 3, .. }));
//! assert_eq!(err.to_string(), "parse error at line 3, column 3: not a number: \"x4\"");
//! # Ok::<(), mgs::Error>(())
//! ```

use std::borrow::Cow;
use std::path::Path;

use crate::data::{Dataset, Targets};
use crate::{Error, Result};

/// Which field holds the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelColumn {
    /// The field at this 0-based index.
    Index(usize),
    /// The field whose header name is this (needs a header line).
    Name(String),
    /// The last field.
    Last,
}

/// What the target column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Integer class labels.
    Classification,
    /// Real-valued targets.
    Regression,
}

/// How to read delimited text.
///
/// The default is comma-separated with a header line, the label in the last column, and
/// classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first non-blank line holds column names.
    pub has_header: bool,
    /// The field separator (an ASCII byte other than `"`, `\r` or `\n`); ignored when
    /// `whitespace` is set.
    pub delimiter: u8,
    /// Split fields on runs of whitespace instead of `delimiter`.
    pub whitespace: bool,
    /// Which field is the target.
    pub label_column: LabelColumn,
    /// Classification or regression.
    pub task: Task,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: true,
            delimiter: b',',
            whitespace: false,
            label_column: LabelColumn::Last,
            task: Task::Classification,
        }
    }
}

impl CsvOptions {
    /// Comma-separated, header line, label last, classification (the default).
    pub fn classification() -> Self {
        Self::default()
    }

    /// Comma-separated, header line, target last, regression.
    pub fn regression() -> Self {
        Self {
            task: Task::Regression,
            ..Self::default()
        }
    }

    /// Sets whether there is a header line.
    pub fn with_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Sets the delimiter byte (and turns whitespace splitting off).
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self.whitespace = false;
        self
    }

    /// Splits fields on runs of whitespace.
    pub fn whitespace(mut self) -> Self {
        self.whitespace = true;
        self
    }

    /// Sets the label column.
    pub fn with_label_column(mut self, label_column: LabelColumn) -> Self {
        self.label_column = label_column;
        self
    }

    /// Sets the task.
    pub fn with_task(mut self, task: Task) -> Self {
        self.task = task;
        self
    }

    fn separator(&self) -> Result<Separator> {
        if self.whitespace {
            return Ok(Separator::Whitespace);
        }
        let d = self.delimiter;
        if !d.is_ascii() || matches!(d, b'"' | b'\r' | b'\n') {
            return Err(Error::InvalidHyperparameter {
                name: "delimiter",
                value: d as f64,
                reason: "the delimiter must be an ASCII byte other than a quote or a line break",
            });
        }
        Ok(Separator::Byte(d))
    }
}

/// Reads the file at `path` and parses it with [`parse_csv`].
///
/// Errors: [`Error::Io`] if the file cannot be read, [`Error::Parse`] for text that is not
/// UTF-8 (with the line of the first bad byte) and everything [`parse_csv`] reports.
pub fn load_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        Error::Parse {
            line,
            column: 0,
            reason: format!(
                "invalid UTF-8 at byte {} of the line",
                e.valid_up_to() - line_start + 1
            ),
        }
    })?;
    parse_csv(text, options)
}

/// Parses delimited text into a [`Dataset`] (see the module docs for the format).
///
/// Errors ([`Error::Parse`], line and column 1-based): empty input or no data rows; a row whose
/// field count differs from the first line's (`expected N fields, found M`, column 0); an empty
/// or non-numeric field (quoted in the message); a NaN or infinite value; a label column name
/// not in the header, or given without a header; a label index past the last field; a class
/// label that is negative or not an integer; an unterminated quote. An invalid delimiter is
/// [`Error::InvalidHyperparameter`].
pub fn parse_csv(text: &str, options: &CsvOptions) -> Result<Dataset> {
    let table = read_table(
        numbered_lines(text),
        options.separator()?,
        options.has_header,
        Some(&options.label_column),
        options.task,
    )?;
    let feature_names = table.feature_names();
    let (targets, class_names) = match table.labels {
        RawLabels::Classes(raw) => {
            let (labels, n_classes, names) = map_class_labels(&raw);
            (Targets::Classes { labels, n_classes }, names)
        }
        RawLabels::Values(values) => (Targets::regression(values), None),
        RawLabels::None => (Targets::regression(Vec::new()), None),
    };
    let mut ds = Dataset::new(table.features, table.n_features, targets)?;
    if let Some(names) = feature_names {
        ds = ds.with_feature_names(names)?;
    }
    if let Some(names) = class_names {
        ds = ds.with_class_names(names)?;
    }
    Ok(ds)
}

/// Maps integer labels to `0..K`: kept when they already are exactly `0..K`, else by rank among
/// the sorted distinct values (then the original values become class names).
fn map_class_labels(raw: &[u64]) -> (Vec<usize>, usize, Option<Vec<String>>) {
    let mut distinct = raw.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let k = distinct.len();
    let already_dense = distinct.iter().enumerate().all(|(i, &v)| v == i as u64);
    if already_dense {
        return (raw.iter().map(|&v| v as usize).collect(), k, None);
    }
    let labels = raw
        .iter()
        .map(|v| distinct.binary_search(v).unwrap_or(0))
        .collect();
    let names = distinct.iter().map(u64::to_string).collect();
    (labels, k, Some(names))
}

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Separator {
    /// A single ASCII byte, with optional double-quoting.
    Byte(u8),
    /// Runs of whitespace.
    Whitespace,
}

/// Target values as read, before class labels are mapped.
pub(crate) enum RawLabels {
    /// No label column was requested.
    None,
    /// Non-negative integer class labels as written.
    Classes(Vec<u64>),
    /// Finite regression targets.
    Values(Vec<f64>),
}

/// A parsed numeric table.
pub(crate) struct Table {
    /// The header's fields, when there was a header.
    pub header: Option<Vec<String>>,
    /// Index of the label field in each line, when there was one.
    pub label_index: Option<usize>,
    /// Number of feature columns.
    pub n_features: usize,
    /// Row-major features.
    pub features: Vec<f64>,
    /// The label column.
    pub labels: RawLabels,
}

impl Table {
    /// The header's names of the feature columns.
    fn feature_names(&self) -> Option<Vec<String>> {
        let header = self.header.as_ref()?;
        Some(
            header
                .iter()
                .enumerate()
                .filter(|&(j, _)| Some(j) != self.label_index)
                .map(|(_, name)| name.clone())
                .collect(),
        )
    }
}

/// The lines of `text` numbered from 1, without `\r` before the `\n` and without a leading
/// byte-order mark.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n').enumerate().map(|(i, line)| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        (i + 1, line)
    })
}

fn parse_err(line: usize, column: usize, reason: impl Into<String>) -> Error {
    Error::Parse {
        line,
        column,
        reason: reason.into(),
    }
}

/// A field for an error message: quoted, and cut short if long.
fn quoted(field: &str) -> String {
    const MAX_CHARS: usize = 40;
    if field.chars().count() <= MAX_CHARS {
        format!("\"{field}\"")
    } else {
        let head: String = field.chars().take(MAX_CHARS).collect();
        format!("\"{head}…\"")
    }
}

/// Splits one line into fields.
fn split_fields(line: &str, sep: Separator, line_no: usize) -> Result<Vec<Cow<'_, str>>> {
    let delim = match sep {
        Separator::Whitespace => return Ok(line.split_whitespace().map(Cow::Borrowed).collect()),
        Separator::Byte(d) => d,
    };
    let is_pad = |b: u8| (b == b' ' || b == b'\t') && b != delim;
    let bytes = line.as_bytes();
    let len = bytes.len();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        while i < len && is_pad(bytes[i]) {
            i += 1;
        }
        if i < len && bytes[i] == b'"' {
            let column = fields.len() + 1;
            let mut value = String::new();
            i += 1;
            loop {
                let Some(q) = bytes[i..].iter().position(|&b| b == b'"').map(|q| i + q) else {
                    return Err(parse_err(line_no, column, "unterminated quoted field"));
                };
                // `i` and `q` sit next to ASCII bytes, so both are character boundaries.
                value.push_str(&line[i..q]);
                if bytes.get(q + 1) == Some(&b'"') {
                    value.push('"');
                    i = q + 2;
                } else {
                    i = q + 1;
                    break;
                }
            }
            while i < len && is_pad(bytes[i]) {
                i += 1;
            }
            if i < len && bytes[i] != delim {
                return Err(parse_err(
                    line_no,
                    column,
                    "unexpected text after a closing quote",
                ));
            }
            fields.push(Cow::Owned(value));
        } else {
            let start = i;
            let end = bytes[i..]
                .iter()
                .position(|&b| b == delim)
                .map_or(len, |p| i + p);
            let mut stop = end;
            while stop > start && is_pad(bytes[stop - 1]) {
                stop -= 1;
            }
            fields.push(Cow::Borrowed(&line[start..stop]));
            i = end;
        }
        if i >= len {
            return Ok(fields);
        }
        i += 1; // the delimiter; a delimiter at the end of the line leaves an empty last field
    }
}

/// Parses a field as a finite number.
fn parse_number(field: &str, line: usize, column: usize) -> Result<f64> {
    if field.is_empty() {
        return Err(parse_err(line, column, "empty field"));
    }
    let value: f64 = field
        .parse()
        .map_err(|_| parse_err(line, column, format!("not a number: {}", quoted(field))))?;
    if !value.is_finite() {
        return Err(parse_err(
            line,
            column,
            format!("non-finite value {}", quoted(field)),
        ));
    }
    Ok(value)
}

/// Parses a field as a non-negative integer class label.
fn parse_class_label(field: &str, line: usize, column: usize) -> Result<u64> {
    /// Integers above 2^53 are not all representable in an `f64`.
    const MAX_LABEL: f64 = 9_007_199_254_740_992.0;
    let value: f64 = field.parse().map_err(|_| {
        parse_err(
            line,
            column,
            format!(
                "class label {} is not a non-negative integer",
                quoted(field)
            ),
        )
    })?;
    if !value.is_finite() || value.fract() != 0.0 {
        return Err(parse_err(
            line,
            column,
            format!("class label {} is not an integer", quoted(field)),
        ));
    }
    if value < 0.0 {
        return Err(parse_err(
            line,
            column,
            format!("class label {} is negative", quoted(field)),
        ));
    }
    if value > MAX_LABEL {
        return Err(parse_err(
            line,
            column,
            format!("class label {} is too large", quoted(field)),
        ));
    }
    Ok(value as u64)
}

/// Resolves the label column against the first line (`header` when there is one).
fn resolve_label(
    label: &LabelColumn,
    header: Option<&[String]>,
    n_fields: usize,
    first_line: usize,
) -> Result<usize> {
    let index = match label {
        LabelColumn::Last => n_fields - 1,
        LabelColumn::Index(i) => *i,
        LabelColumn::Name(name) => {
            let Some(header) = header else {
                return Err(parse_err(
                    first_line,
                    0,
                    format!(
                        "label column {} is given by name, but the options say there is no \
                         header line",
                        quoted(name)
                    ),
                ));
            };
            return header.iter().position(|h| h == name).ok_or_else(|| {
                let known: Vec<String> = header.iter().map(|h| quoted(h)).collect();
                parse_err(
                    first_line,
                    0,
                    format!(
                        "unknown label column name {}; the header has {}",
                        quoted(name),
                        known.join(", ")
                    ),
                )
            });
        }
    };
    if index >= n_fields {
        return Err(parse_err(
            first_line,
            0,
            format!(
                "label column index {index} is out of range: lines have {n_fields} fields \
                 (indices 0 to {})",
                n_fields - 1
            ),
        ));
    }
    Ok(index)
}

/// Reads numbered lines into a [`Table`]: an optional header, then rows that all have the same
/// number of fields as the first line; `label` (if any) picks the target field.
pub(crate) fn read_table<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    sep: Separator,
    has_header: bool,
    label: Option<&LabelColumn>,
    task: Task,
) -> Result<Table> {
    let mut lines = lines.filter(|(_, line)| !line.trim().is_empty());
    let Some((first_no, first_line)) = lines.next() else {
        return Err(parse_err(1, 0, "empty input: no data rows"));
    };
    let first_fields = split_fields(first_line, sep, first_no)?;
    let n_fields = first_fields.len();
    let min_fields = if label.is_some() { 2 } else { 1 };
    if n_fields < min_fields {
        return Err(parse_err(
            first_no,
            0,
            format!(
                "expected at least {min_fields} fields (features{}), found {n_fields}",
                if label.is_some() { " and a label" } else { "" }
            ),
        ));
    }
    let header: Option<Vec<String>> =
        has_header.then(|| first_fields.iter().map(|f| f.to_string()).collect());
    let label_index = match label {
        Some(label) => Some(resolve_label(label, header.as_deref(), n_fields, first_no)?),
        None => None,
    };
    let n_features = n_fields - usize::from(label_index.is_some());

    let mut features = Vec::new();
    let mut classes = Vec::new();
    let mut values = Vec::new();
    let mut n_rows = 0;
    let mut parse_row = |line_no: usize, fields: &[Cow<'_, str>]| -> Result<()> {
        if fields.len() != n_fields {
            return Err(parse_err(
                line_no,
                0,
                format!("expected {n_fields} fields, found {}", fields.len()),
            ));
        }
        for (j, field) in fields.iter().enumerate() {
            if Some(j) == label_index {
                match task {
                    Task::Classification => classes.push(parse_class_label(field, line_no, j + 1)?),
                    Task::Regression => values.push(parse_number(field, line_no, j + 1)?),
                }
            } else {
                features.push(parse_number(field, line_no, j + 1)?);
            }
        }
        n_rows += 1;
        Ok(())
    };
    if !has_header {
        parse_row(first_no, &first_fields)?;
    }
    for (line_no, line) in lines {
        let fields = split_fields(line, sep, line_no)?;
        parse_row(line_no, &fields)?;
    }
    if n_rows == 0 {
        return Err(parse_err(
            first_no + 1,
            0,
            "no data rows after the header line",
        ));
    }
    let labels = match (label_index, task) {
        (None, _) => RawLabels::None,
        (Some(_), Task::Classification) => RawLabels::Classes(classes),
        (Some(_), Task::Regression) => RawLabels::Values(values),
    };
    Ok(Table {
        header,
        label_index,
        n_features,
        features,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_padding() {
        let fields = split_fields(r#" "a,b" , c ,"x""y","#, Separator::Byte(b','), 1).unwrap();
        assert_eq!(fields, vec!["a,b", "c", "x\"y", ""]);
        let err = split_fields(r#"1,"abc"#, Separator::Byte(b','), 4).unwrap_err();
        assert!(matches!(
            err,
            Error::Parse {
                line: 4,
                column: 2,
                ..
            }
        ));
        let fields = split_fields("1\t 2\t", Separator::Byte(b'\t'), 1).unwrap();
        assert_eq!(fields, vec!["1", "2", ""]);
    }

    #[test]
    fn label_mapping() {
        assert_eq!(map_class_labels(&[1, 0, 1]), (vec![1, 0, 1], 2, None));
        let (labels, k, names) = map_class_labels(&[7, 1, 2, 7]);
        assert_eq!((labels, k), (vec![2, 0, 1, 2], 3));
        assert_eq!(names.unwrap(), vec!["1", "2", "7"]);
    }
}
