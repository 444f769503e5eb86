//! Loading a user's own delimited text (CSV, TSV, whitespace-separated) into a [`Dataset`]; the
//! format is documented on [`parse_csv`].

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use crate::data::gzip::gunzip_with_limit;
use crate::data::{Dataset, Targets};
use crate::{Error, Result};

/// The default bound on what [`load_csv`] reads into memory: 256 MiB.
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;

/// A column of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The field at this 0-based index.
    Index(usize),
    /// The field whose header name is this (needs a header line, and the name must occur there
    /// exactly once).
    Name(String),
    /// The last field.
    Last,
}

/// What the target columns mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// One column of class labels (read as [`CsvOptions::class_labels`] says).
    Classification,
    /// One or more columns of real-valued targets.
    Regression,
}

/// How class labels are read and ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassLabels {
    /// [`ClassLabels::Integer`] when every label is an integer, [`ClassLabels::Text`] otherwise.
    #[default]
    Auto,
    /// Integers, parsed exactly (not through `f64`): an optional sign, decimal digits, and
    /// optionally a fraction of zeros (`3`, `-1`, `+7`, `3.0`), within the range of `i128`.
    /// Classes are numbered in increasing numeric order.
    Integer,
    /// Any text (after removing quotes and surrounding blanks). Classes are numbered in
    /// increasing byte order of their names (so `"B" < "a"` and `"10" < "9"`).
    Text,
}

/// What to do with a missing value: an empty field, `NA` or `N/A` (any case), or a NaN
/// spelling (`NaN`, `nan`, `-nan`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// An [`Error::Parse`] at its line and column (the default).
    #[default]
    Error,
    /// Drop every row with a missing value in a feature or target column (skipped columns are
    /// not looked at). Other errors in a dropped row are still errors.
    DropRows,
}

/// How to read delimited text.
///
/// The default is comma-separated with a header line, the target in the last column,
/// classification with [`ClassLabels::Auto`], no skipped columns, missing values an error, and
/// at most [`DEFAULT_MAX_BYTES`] read by [`load_csv`]. Build one from [`CsvOptions::default`],
/// [`CsvOptions::classification`] or [`CsvOptions::regression`] and the `with_*` methods (or by
/// assigning the public fields); new fields may be added in later versions, so the struct cannot
/// be built with a literal outside this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CsvOptions {
    /// Whether the first non-blank line holds column names.
    pub has_header: bool,
    /// The field separator (an ASCII byte other than `"`, `\r` or `\n`); ignored when
    /// `whitespace` is set.
    pub delimiter: u8,
    /// Split fields on runs of whitespace instead of `delimiter`.
    pub whitespace: bool,
    /// The target columns: exactly one for classification, one or more for regression (their
    /// order is the order of the targets of each sample).
    pub targets: Vec<Column>,
    /// Classification or regression.
    pub task: Task,
    /// How class labels are read (classification only).
    pub class_labels: ClassLabels,
    /// Columns that are neither features nor targets (an identifier, a date, …); their fields
    /// are not parsed.
    pub skip: Vec<Column>,
    /// What to do with missing values.
    pub missing: Missing,
    /// The most bytes [`load_csv`] reads from a file, and the most a gzip-compressed file may
    /// expand to.
    pub max_bytes: usize,
    #[doc(hidden)]
    pub non_exhaustive: crate::NonExhaustive,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: true,
            delimiter: b',',
            whitespace: false,
            targets: vec![Column::Last],
            task: Task::Classification,
            class_labels: ClassLabels::Auto,
            skip: Vec::new(),
            missing: Missing::Error,
            max_bytes: DEFAULT_MAX_BYTES,
            non_exhaustive: crate::NonExhaustive::default(),
        }
    }
}

impl CsvOptions {
    /// Comma-separated, header line, label last, classification (the default).
    #[must_use]
    pub fn classification() -> Self {
        Self::default()
    }

    /// Comma-separated, header line, target last, regression.
    #[must_use]
    pub fn regression() -> Self {
        Self::default().with_task(Task::Regression)
    }

    /// Sets whether there is a header line.
    #[must_use]
    pub fn with_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Sets the delimiter byte (and turns whitespace splitting off).
    #[must_use]
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self.whitespace = false;
        self
    }

    /// Splits fields on runs of whitespace.
    #[must_use]
    pub fn whitespace(mut self) -> Self {
        self.whitespace = true;
        self
    }

    /// Sets a single target column (the class labels, or the one regression target).
    #[must_use]
    pub fn with_target(self, column: Column) -> Self {
        self.with_targets([column])
    }

    /// Sets the target columns (several only for regression).
    #[must_use]
    pub fn with_targets(mut self, columns: impl IntoIterator<Item = Column>) -> Self {
        self.targets = columns.into_iter().collect();
        self
    }

    /// Sets the task.
    #[must_use]
    pub fn with_task(mut self, task: Task) -> Self {
        self.task = task;
        self
    }

    /// Sets how class labels are read.
    #[must_use]
    pub fn with_class_labels(mut self, class_labels: ClassLabels) -> Self {
        self.class_labels = class_labels;
        self
    }

    /// Sets the columns to skip.
    #[must_use]
    pub fn with_skip(mut self, columns: impl IntoIterator<Item = Column>) -> Self {
        self.skip = columns.into_iter().collect();
        self
    }

    /// Sets the missing-value policy.
    #[must_use]
    pub fn with_missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }

    /// Sets the most bytes [`load_csv`] reads (and a gzip file may expand to).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
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

/// Reads the file at `path` and parses it with [`parse_csv`] (see there for the format).
///
/// The file is read through a bound of [`CsvOptions::max_bytes`] bytes, so a huge file or an
/// endless one such as `/dev/zero` is an error, not an attempt to read it all. A file that
/// starts with the gzip magic bytes `1f 8b` (which UTF-8 text cannot) is decompressed first,
/// to at most `max_bytes` bytes as well.
///
/// Errors: [`Error::Io`] if the file cannot be read; [`Error::TooLarge`] beyond `max_bytes`;
/// [`Error::Format`] for corrupt gzip data; [`Error::Parse`] for text that is not UTF-8 (with
/// the line of the first bad byte); everything [`parse_csv`] reports.
pub fn load_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let bytes = read_bounded(path, options.max_bytes)?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip_with_limit(&bytes, options.max_bytes)?
    } else {
        bytes
    };
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

/// Reads at most `max_bytes` bytes of the file at `path`; more is [`Error::TooLarge`].
fn read_bounded(path: &Path, max_bytes: usize) -> Result<Vec<u8>> {
    let io_err = |e: std::io::Error| Error::io(path, "", e);
    let too_large = || Error::TooLarge {
        what: format!("the CSV file {}", path.display()),
        bytes: max_bytes as u128 + 1,
        limit: max_bytes as u128,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    // A regular file's size is known: refuse a large one before reading anything.
    let known_len = file.metadata().map_err(io_err)?.len();
    if known_len > max_bytes as u64 {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() > max_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Parses delimited text into a [`Dataset`].
///
/// # Format
///
/// * One sample per line; lines end in `\n` or `\r\n`; blank lines are skipped (line numbers in
///   errors still count them); a leading UTF-8 byte-order mark is ignored.
/// * Fields are separated by [`CsvOptions::delimiter`] (a comma by default) or, with
///   [`CsvOptions::whitespace`], by runs of blanks. With a delimiter, a field may be enclosed in
///   double quotes (`"…"`, a quote inside written as `""`, no line breaks inside), and blanks
///   around a field are ignored; with whitespace, quotes are not special.
/// * With [`CsvOptions::has_header`], the first non-blank line names the columns; the names of
///   the feature columns become the dataset's feature names. Every line must have as many
///   fields as the first.
/// * [`CsvOptions::targets`] picks the target columns (by index, header name or
///   [`Column::Last`]) and [`CsvOptions::skip`] the columns to ignore; every other column is a
///   feature and must parse as a finite number (Rust's `f64` syntax: `1`, `-2.5`, `3e-4`).
///   There must be at least one feature column; a column may not be both a target and skipped.
/// * Classification: one target column of class labels, read as [`ClassLabels`] says (by
///   default integers if they all are, text otherwise). The distinct labels, in increasing
///   numeric (integers) or byte (text) order, become classes `0..K`; unless the labels were
///   exactly the integers `0..K`, their names in that order are kept as the dataset's
///   [`Dataset::class_names`] (labels `{1, 2, 7}` become `{0, 1, 2}` with class names
///   `["1", "2", "7"]`; `{"cat", "dog"}` become `{0, 1}` named `["cat", "dog"]`). Integer labels
///   are compared exactly, so `9007199254740992` and `9007199254740993` (2^53 and 2^53 + 1) are
///   two classes.
/// * Regression: one or more target columns of finite numbers, stored row by row in the order
///   of [`CsvOptions::targets`].
/// * Missing values (empty field, `NA`, `N/A`, NaN) are an error by default, or drop their row
///   with [`Missing::DropRows`]; infinities are always an error.
///
/// # Errors
///
/// Malformed input is an [`Error::Parse`] with the 1-based line and column (field index; 0
/// when the whole line or the options are at fault): empty input or no data rows (also when all
/// rows were dropped); a row whose field count differs from the first line's (`expected N
/// fields, found M`, column 0); a field that is not a number (quoted in the message), a missing
/// value under [`Missing::Error`] or an infinite value; a column name not in the header (or
/// there twice, or given without a header); a column index past the last field; a column named
/// twice in the options; no feature column left; a class label that is not an integer under
/// [`ClassLabels::Integer`]; an unterminated quote. Options that cannot work are
/// [`Error::InvalidHyperparameter`]: an invalid delimiter, no target column, or several for
/// classification.
///
/// ```
/// use mgs::Error;
/// use mgs::data::{Column, CsvOptions, Missing, parse_csv};
/// let opts = CsvOptions::classification()
///     .with_target(Column::Name("species".into()))
///     .with_skip([Column::Name("id".into())]);
/// let ds = parse_csv("id,a,species,b\n7,1.5,cat,2\n8,3,dog,4\n9,0,cat,1\n", &opts)?;
/// assert_eq!((ds.n_samples(), ds.n_features()), (3, 2));
/// assert_eq!(ds.feature_names(), Some(&["a".to_string(), "b".to_string()][..]));
/// assert_eq!(ds.labels(), Some(&[0, 1, 0][..]));
/// assert_eq!(ds.class_names(), Some(&["cat".to_string(), "dog".to_string()][..]));
///
/// let err = parse_csv("id,a,species,b\n7,1.5,cat,2\n8,3,dog,x4\n", &opts).unwrap_err();
/// assert!(matches!(err, Error::Parse { line: 3, column: 4, .. }));
/// assert_eq!(err.to_string(), "parse error at line 3, column 4: not a number: \"x4\"");
///
/// // Two regression targets; a row with a missing value dropped.
/// let opts = CsvOptions::regression()
///     .with_targets([Column::Index(0), Column::Index(1)])
///     .with_missing(Missing::DropRows);
/// let ds = parse_csv("y1,y2,x\n1,2,0.5\nNA,3,1\n4,5,1.5\n", &opts)?;
/// assert_eq!(ds.n_regression_targets(), Some(2));
/// assert_eq!(ds.regression_targets(), Some(&[1.0, 2.0, 4.0, 5.0][..]));
/// assert_eq!(ds.feature_values(), &[0.5, 1.5]);
/// # Ok::<(), mgs::Error>(())
/// ```
pub fn parse_csv(text: &str, options: &CsvOptions) -> Result<Dataset> {
    if options.targets.is_empty() {
        return Err(Error::InvalidHyperparameter {
            name: "targets",
            value: 0.0,
            reason: "at least one target column is needed",
        });
    }
    read_table(numbered_lines(text), options)?.into_dataset()
}

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Separator {
    /// A single ASCII byte, with optional double-quoting.
    Byte(u8),
    /// Runs of whitespace.
    Whitespace,
}

/// The targets of a parsed table.
pub(crate) enum TableTargets {
    /// Class labels mapped to `0..n_classes`, with the names of the classes unless the labels
    /// were exactly `0..n_classes`.
    Classes {
        labels: Vec<usize>,
        n_classes: usize,
        names: Option<Vec<String>>,
    },
    /// Row-major `n × n_targets` regression targets (`n_targets = 0` when no target column
    /// was asked for).
    Values { values: Vec<f64>, n_targets: usize },
}

/// A parsed numeric table.
pub(crate) struct Table {
    /// The header's names of the feature columns, when there was a header.
    pub feature_names: Option<Vec<String>>,
    /// Number of feature columns.
    pub n_features: usize,
    /// Row-major features.
    pub features: Vec<f64>,
    /// The target columns.
    pub targets: TableTargets,
}

impl Table {
    /// The dataset, with the header's feature names and the class names.
    pub(crate) fn into_dataset(self) -> Result<Dataset> {
        let (targets, class_names) = match self.targets {
            TableTargets::Classes {
                labels,
                n_classes,
                names,
            } => (Targets::Classes { labels, n_classes }, names),
            TableTargets::Values { values, n_targets } => {
                (Targets::Regression { values, n_targets }, None)
            }
        };
        let mut ds = Dataset::new(self.features, self.n_features, targets)?;
        if let Some(names) = self.feature_names {
            ds = ds.with_feature_names(names)?;
        }
        if let Some(names) = class_names {
            ds = ds.with_class_names(names)?;
        }
        Ok(ds)
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

/// An empty field, `NA`, `N/A` (any case) or a spelling of NaN.
fn is_missing(field: &str) -> bool {
    field.is_empty()
        || field.eq_ignore_ascii_case("na")
        || field.eq_ignore_ascii_case("n/a")
        || field.parse::<f64>().is_ok_and(f64::is_nan)
}

/// The error for a missing value under [`Missing::Error`].
fn missing_err(field: &str, line: usize, column: usize) -> Error {
    const HINT: &str = "Missing::DropRows drops rows with missing values";
    let reason = if field.is_empty() {
        format!("empty field (a missing value; {HINT})")
    } else {
        format!("missing value {} ({HINT})", quoted(field))
    };
    parse_err(line, column, reason)
}

/// Parses a field that is not missing as a finite number.
fn parse_number(field: &str, line: usize, column: usize) -> Result<f64> {
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

/// Parses an integer exactly: optional sign, digits, optionally `.` and zeros.
fn parse_integer(field: &str) -> std::result::Result<i128, &'static str> {
    let (int, fraction) = field.split_once('.').unwrap_or((field, ""));
    if !fraction.bytes().all(|b| b == b'0') {
        return Err("is not an integer");
    }
    int.parse::<i128>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            "is out of the range of 128-bit integers"
        }
        _ => "is not an integer",
    })
}

/// The role of each field of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Feature,
    /// The `k`-th target column.
    Target(usize),
    Skip,
}

/// What a [`Column`] is called in messages.
fn describe(column: &Column) -> String {
    match column {
        Column::Index(i) => format!("column index {i}"),
        Column::Name(name) => format!("column {}", quoted(name)),
        Column::Last => "the last column".to_string(),
    }
}

/// Resolves a column against the first line (`header` when there is one).
fn resolve_column(
    column: &Column,
    header: Option<&[Cow<'_, str>]>,
    n_fields: usize,
    first_line: usize,
) -> Result<usize> {
    let index = match column {
        Column::Last => n_fields - 1,
        Column::Index(i) => *i,
        Column::Name(name) => {
            let Some(header) = header else {
                return Err(parse_err(
                    first_line,
                    0,
                    format!(
                        "column {} is given by name, but the options say there is no header \
                         line",
                        quoted(name)
                    ),
                ));
            };
            let mut found = header
                .iter()
                .enumerate()
                .filter(|(_, h)| *h == name)
                .map(|(j, _)| j);
            return match (found.next(), found.next()) {
                (Some(j), None) => Ok(j),
                (Some(_), Some(_)) => Err(parse_err(
                    first_line,
                    0,
                    format!(
                        "column name {} occurs more than once in the header",
                        quoted(name)
                    ),
                )),
                (None, _) => {
                    let known: Vec<String> = header.iter().map(|h| quoted(h)).collect();
                    Err(parse_err(
                        first_line,
                        0,
                        format!(
                            "unknown column name {}; the header has {}",
                            quoted(name),
                            known.join(", ")
                        ),
                    ))
                }
            };
        }
    };
    if index >= n_fields {
        return Err(parse_err(
            first_line,
            0,
            format!(
                "column index {index} is out of range: lines have {n_fields} fields (indices 0 \
                 to {})",
                n_fields - 1
            ),
        ));
    }
    Ok(index)
}

/// The role of every field, from the options and the first line.
fn column_roles(
    options: &CsvOptions,
    header: Option<&[Cow<'_, str>]>,
    n_fields: usize,
    first_line: usize,
) -> Result<Vec<Role>> {
    let mut roles = vec![Role::Feature; n_fields];
    let assigned = options
        .targets
        .iter()
        .enumerate()
        .map(|(k, c)| (c, Role::Target(k)))
        .chain(options.skip.iter().map(|c| (c, Role::Skip)));
    for (column, role) in assigned {
        let j = resolve_column(column, header, n_fields, first_line)?;
        if roles[j] != Role::Feature {
            return Err(parse_err(
                first_line,
                0,
                format!(
                    "{} (field {}) is named more than once among the target and skipped \
                     columns",
                    describe(column),
                    j + 1
                ),
            ));
        }
        roles[j] = role;
    }
    if !roles.contains(&Role::Feature) {
        return Err(parse_err(
            first_line,
            0,
            format!(
                "no feature column: the lines have {n_fields} fields, {} of them targets and \
                 {} skipped",
                options.targets.len(),
                options.skip.len()
            ),
        ));
    }
    Ok(roles)
}

/// Class labels as read, before they are numbered.
enum RawLabels {
    /// Parsed integers ([`ClassLabels::Integer`]).
    Integers(Vec<i128>),
    /// The labels' text ([`ClassLabels::Text`], and [`ClassLabels::Auto`] until the end).
    Texts(Vec<String>),
}

impl RawLabels {
    fn new(mode: ClassLabels) -> Self {
        match mode {
            ClassLabels::Integer => RawLabels::Integers(Vec::new()),
            ClassLabels::Auto | ClassLabels::Text => RawLabels::Texts(Vec::new()),
        }
    }

    /// Adds a (non-missing) label; a non-integer is an error for [`RawLabels::Integers`].
    fn push(&mut self, field: &str, line: usize, column: usize) -> Result<()> {
        match self {
            RawLabels::Texts(texts) => texts.push(field.to_string()),
            RawLabels::Integers(values) => values.push(parse_integer(field).map_err(|why| {
                parse_err(line, column, format!("class label {} {why}", quoted(field)))
            })?),
        }
        Ok(())
    }

    /// Keeps the first `keep` labels (drops a dropped row's).
    fn truncate(&mut self, keep: usize) {
        match self {
            RawLabels::Integers(values) => values.truncate(keep),
            RawLabels::Texts(texts) => texts.truncate(keep),
        }
    }

    /// Numbers the classes in sorted order of the distinct labels; under
    /// [`ClassLabels::Auto`], text labels that are all integers are compared as integers.
    fn into_targets(self, mode: ClassLabels) -> TableTargets {
        let texts = match self {
            RawLabels::Integers(values) => return integer_classes(&values),
            RawLabels::Texts(texts) => texts,
        };
        if mode == ClassLabels::Auto {
            let integers: std::result::Result<Vec<i128>, _> =
                texts.iter().map(|t| parse_integer(t)).collect();
            if let Ok(values) = integers {
                return integer_classes(&values);
            }
        }
        let distinct = sorted_distinct(&texts);
        TableTargets::Classes {
            labels: ranks(&texts, &distinct),
            n_classes: distinct.len(),
            names: Some(distinct),
        }
    }
}

/// Integer labels numbered in increasing order; named unless they are exactly `0..K`.
fn integer_classes(values: &[i128]) -> TableTargets {
    let distinct = sorted_distinct(values);
    let dense = distinct.iter().enumerate().all(|(i, &v)| v == i as i128);
    TableTargets::Classes {
        labels: ranks(values, &distinct),
        n_classes: distinct.len(),
        names: (!dense).then(|| distinct.iter().map(i128::to_string).collect()),
    }
}

fn sorted_distinct<T: Ord + Clone>(values: &[T]) -> Vec<T> {
    let mut distinct = values.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct
}

/// The position of each value in `distinct` (sorted, containing every value).
fn ranks<T: Ord>(values: &[T], distinct: &[T]) -> Vec<usize> {
    values
        .iter()
        .map(|v| distinct.partition_point(|d| d < v))
        .collect()
}

/// The error of a file without data rows, at `line` (the first data line), with `n_dropped` rows
/// dropped for missing values.
fn no_rows_err(line: usize, n_dropped: usize) -> Error {
    if n_dropped > 0 {
        parse_err(
            line,
            0,
            format!("no data rows: all {n_dropped} rows have missing values and were dropped"),
        )
    } else {
        parse_err(line, 0, "no data rows after the header line")
    }
}

/// Reads numbered lines into a [`Table`]: an optional header, then rows that all have the same
/// number of fields as the first line, with the options' roles of the columns. No target
/// column (regression only) gives a table of features with `n_targets = 0`.
pub(crate) fn read_table<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    options: &CsvOptions,
) -> Result<Table> {
    let sep = options.separator()?;
    let n_targets = options.targets.len();
    if options.task == Task::Classification && n_targets != 1 {
        return Err(Error::InvalidHyperparameter {
            name: "targets",
            value: n_targets as f64,
            reason: "classification takes exactly one target column",
        });
    }
    let mut lines = lines.filter(|(_, line)| !line.trim().is_empty());
    let Some((first_no, first_line)) = lines.next() else {
        return Err(parse_err(1, 0, "empty input: no data rows"));
    };
    let first_fields = split_fields(first_line, sep, first_no)?;
    let n_fields = first_fields.len();
    let header = options.has_header.then_some(&first_fields[..]);
    let roles = column_roles(options, header, n_fields, first_no)?;
    let feature_names = header.map(|h| {
        h.iter()
            .zip(&roles)
            .filter(|&(_, &r)| r == Role::Feature)
            .map(|(name, _)| name.to_string())
            .collect()
    });
    let n_features = roles.iter().filter(|&&r| r == Role::Feature).count();
    let mode = options.class_labels;

    let mut features = Vec::new();
    let mut values = Vec::new();
    let mut labels = RawLabels::new(mode);
    let mut n_rows = 0;
    let mut n_dropped = 0;
    let mut row_targets = vec![0.0; n_targets];
    let mut parse_row = |line_no: usize, fields: &[Cow<'_, str>]| -> Result<()> {
        if fields.len() != n_fields {
            return Err(parse_err(
                line_no,
                0,
                format!("expected {n_fields} fields, found {}", fields.len()),
            ));
        }
        let mut missing = false;
        let (n_features_before, n_labels_before) = (features.len(), n_rows);
        for ((j, field), &role) in fields.iter().enumerate().zip(&roles) {
            let column = j + 1;
            match role {
                Role::Skip => {}
                _ if is_missing(field) => match options.missing {
                    Missing::Error => return Err(missing_err(field, line_no, column)),
                    Missing::DropRows => missing = true,
                },
                Role::Feature => features.push(parse_number(field, line_no, column)?),
                Role::Target(k) => match options.task {
                    Task::Classification => labels.push(field, line_no, column)?,
                    Task::Regression => row_targets[k] = parse_number(field, line_no, column)?,
                },
            }
        }
        if missing {
            features.truncate(n_features_before);
            labels.truncate(n_labels_before);
            n_dropped += 1;
        } else {
            if options.task == Task::Regression {
                values.extend_from_slice(&row_targets);
            }
            n_rows += 1;
        }
        Ok(())
    };
    if !options.has_header {
        parse_row(first_no, &first_fields)?;
    }
    for (line_no, line) in lines {
        let fields = split_fields(line, sep, line_no)?;
        parse_row(line_no, &fields)?;
    }
    if n_rows == 0 {
        return Err(no_rows_err(
            first_no + usize::from(options.has_header),
            n_dropped,
        ));
    }
    let targets = match options.task {
        Task::Classification => labels.into_targets(mode),
        Task::Regression => TableTargets::Values { values, n_targets },
    };
    Ok(Table {
        feature_names,
        n_features,
        features,
        targets,
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
    fn integer_parsing_is_exact() {
        assert_eq!(parse_integer("9007199254740993"), Ok(9_007_199_254_740_993));
        assert_eq!(parse_integer("-3.000"), Ok(-3));
        assert_eq!(parse_integer("+7"), Ok(7));
        assert_eq!(parse_integer("1.5"), Err("is not an integer"));
        assert_eq!(parse_integer("1e3"), Err("is not an integer"));
        assert_eq!(parse_integer(".0"), Err("is not an integer"));
        assert_eq!(
            parse_integer(&format!("{}0", i128::MAX)),
            Err("is out of the range of 128-bit integers")
        );
    }

    #[test]
    fn missing_spellings() {
        for m in ["", "NA", "na", "N/A", "NaN", "nan", "-nan", "NAN"] {
            assert!(is_missing(m), "{m:?}");
        }
        for v in ["0", "inf", "-infinity", "NAB", "none"] {
            assert!(!is_missing(v), "{v:?}");
        }
    }
}
