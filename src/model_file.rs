//! Saving and loading an [`Mlp`]: a documented, versioned JSON form that PyTorch (or any JSON
//! reader) can load, and the serde form of [`Architecture`] and [`Mlp`].
//!
//! **The format** (`"mgs-mlp"`, version 1) is one JSON object:
//!
//! ```text
//! {
//!   "format": "mgs-mlp",
//!   "version": 1,
//!   "precision": "f64",                      // or "f32": the model's float type
//!   "architecture": {
//!     "widths": [2, 3, 1],                   // n_0 (inputs), hidden widths, n_L (outputs)
//!     "activations": ["tanh"]                // one per hidden layer, by name
//!   },
//!   "layers": [                              // one per affine layer, first layer first
//!     {"weight": [[w00, w01], [w10, w11], [w20, w21]], "bias": [b0, b1, b2]},
//!     {"weight": [[v00, v01, v02]], "bias": [c0]}
//!   ]
//! }
//! ```
//!
//! - Layer `l` computes `z^l = W^l a^{l−1} + b^l`; hidden layers apply their activation, the last
//!   layer is linear. `"weight"` is `W^l` as nested arrays, **one inner array per output**
//!   (`n_l` rows of `n_{l−1}` numbers), exactly the shape of PyTorch's `nn.Linear.weight`, so
//!   `torch.tensor(layer["weight"])` can be copied into `nn.Linear(n_{l−1}, n_l)` as it is;
//!   `"bias"` is `b^l` (`n_l` numbers).
//! - Activations are written by [`Activation::name`]: `"identity"`, `"tanh"`, `"relu"`,
//!   `"sigmoid"`, `"softplus"`, `"silu"`, `"gelu_erf"`, `"gelu_tanh"` as strings, and the two with
//!   a parameter as one-entry objects, `{"leaky_relu": {"slope": s}}` and
//!   `{"elu": {"alpha": a}}`.
//! - Numbers are JSON numbers in the shortest decimal form that parses back to the same `f64`
//!   (`serde_json`'s `float_roundtrip`); an `f32` model's values are written as the `f64` of the
//!   same value (exact), and reading an `f32` file requires every value to be exactly an `f32`.
//!   So a model saved and loaded again has the same bits, in both precisions.
//!
//! **Reading checks**, each failure an [`Error`]: the text is JSON and an object
//! ([`Error::Format`]), its `"format"` is `"mgs-mlp"`, its `"version"` is 1 and its precision is
//! the model's (`Mlp::<f32>` reads `"f32"` files only, `Mlp::<f64>` `"f64"` files only), all
//! three checked before anything else is read so that a foreign, newer or other-precision file is
//! named as such ([`Error::Format`]); no field is missing or unknown, every number is exactly a
//! value of the model's precision ([`Error::Format`]); the
//! architecture can be built ([`Error::InvalidArchitecture`], or [`Error::InvalidHyperparameter`]
//! for an activation's parameter), there is one layer per affine layer with the shapes the widths
//! say ([`Error::Format`] naming the layer), and every parameter is finite
//! ([`Error::NonFinite`]). Files are read with a size bound ([`MLP_MAX_BYTES`], or the caller's in
//! [`Mlp::load_limited`]) and written atomically (a temporary file renamed over the target), like
//! the training checkpoints.
//!
//! The serde impls of [`Mlp`] write and read this same object (with the same checks), so a model
//! embedded in a larger serde structure carries its format tag and version too. An
//! [`Architecture`] is serialised as the `"architecture"` object above and deserialised through
//! [`Architecture::new`].
//!
//! ```
//! use faer::{Mat, Par};
//! use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
//! let arch = Architecture::new(3, &[(8, Activation::Tanh), (8, Activation::GeluErf)], 2)?;
//! let mlp = Mlp::<f64>::init(arch, Init::XavierNormal, &mut rng_from_seed(7))?;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("model.json");
//! mlp.save(&path)?;
//! let back = Mlp::<f64>::load(&path)?;
//! assert_eq!(back, mlp); // same architecture, same bits
//! let x = Mat::from_fn(4, 3, |i, j| (i as f64 - j as f64) * 0.3);
//! assert_eq!(back.forward(x.as_ref(), Par::Seq)?, mlp.forward(x.as_ref(), Par::Seq)?);
//! // An f64 file is not an f32 model, and a truncated file is an error.
//! assert!(Mlp::<f32>::load(&path).is_err());
//! let text = mlp.to_json()?;
//! assert!(Mlp::<f64>::from_json(&text[..text.len() - 10]).is_err());
//! # Ok::<(), mgs::Error>(())
//! ```

use std::path::Path;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::train::checkpoint::precision;
use crate::train::io::{read_to_string_limited, write_atomic};
use crate::train::json;
use crate::{Activation, Architecture, Error, Float, Mlp, Result};

/// The `"format"` tag of a model file.
pub const MLP_FORMAT: &str = "mgs-mlp";

/// The model-file version this build writes and reads.
pub const MLP_VERSION: u32 = 1;

/// The default bound on a model file's size in [`Mlp::load`]: 1 GiB (about 50 million
/// parameters at the longest decimal form).
pub const MLP_MAX_BYTES: u64 = 1 << 30;

fn format_err(reason: String) -> Error {
    Error::Format { reason }
}

/// The serde form of an [`Architecture`] (as read: unchecked).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchitectureSpec {
    widths: Vec<usize>,
    activations: Vec<Activation>,
}

/// The serde form of an [`Architecture`] (as written: borrowed).
#[derive(Serialize)]
struct ArchitectureRef<'a> {
    widths: &'a [usize],
    activations: &'a [Activation],
}

impl TryFrom<ArchitectureSpec> for Architecture {
    type Error = Error;

    /// `widths = [n_0, …, n_L]` (at least input and output) and one activation per hidden
    /// layer, through [`Architecture::new`].
    fn try_from(spec: ArchitectureSpec) -> Result<Self> {
        let ArchitectureSpec {
            widths,
            activations,
        } = spec;
        if widths.len() < 2 {
            return Err(Error::InvalidArchitecture {
                reason: format!(
                    "{} widths given: at least the input and the output width are needed",
                    widths.len()
                ),
            });
        }
        if activations.len() != widths.len() - 2 {
            return Err(Error::InvalidArchitecture {
                reason: format!(
                    "{} widths (so {} hidden layers) but {} activations",
                    widths.len(),
                    widths.len() - 2,
                    activations.len()
                ),
            });
        }
        let hidden: Vec<(usize, Activation)> = widths[1..widths.len() - 1]
            .iter()
            .copied()
            .zip(activations)
            .collect();
        Architecture::new(widths[0], &hidden, widths[widths.len() - 1])
    }
}

impl Serialize for Architecture {
    /// `{"widths": [n_0, …, n_L], "activations": [σ_1, …, σ_{L−1}]}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        ArchitectureRef {
            widths: self.widths(),
            activations: self.activations(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Architecture {
    /// Reads the form written by `serialize` and builds it with [`Architecture::new`] (every
    /// check of that constructor applies).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let spec = ArchitectureSpec::deserialize(deserializer)?;
        Architecture::try_from(spec).map_err(de::Error::custom)
    }
}

/// A slice of floats written exactly (through [`json::vec`]).
struct Floats<'a, T: Float>(&'a [T]);

impl<T: Float> Serialize for Floats<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        json::vec::serialize(self.0, serializer)
    }
}

/// A row-major `rows × cols` matrix written as `rows` arrays of `cols` floats.
struct Rows<'a, T: Float> {
    values: &'a [T],
    cols: usize,
}

impl<T: Float> Serialize for Rows<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.values.len() / self.cols))?;
        for row in self.values.chunks_exact(self.cols) {
            seq.serialize_element(&Floats(row))?;
        }
        seq.end()
    }
}

/// One layer as written.
#[derive(Serialize)]
#[serde(bound = "")]
struct LayerRef<'a, T: Float> {
    weight: Rows<'a, T>,
    bias: Floats<'a, T>,
}

/// The model file as written.
#[derive(Serialize)]
#[serde(bound = "")]
struct MlpFileRef<'a, T: Float> {
    format: &'static str,
    version: u32,
    precision: &'static str,
    architecture: &'a Architecture,
    layers: Vec<LayerRef<'a, T>>,
}

/// A list of floats as read (each exactly representable in `T`, through [`json::vec`]).
#[derive(Deserialize)]
#[serde(bound = "")]
struct Row<T: Float>(#[serde(with = "json::vec")] Vec<T>);

/// One layer as read.
#[derive(Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
struct LayerFile<T: Float> {
    weight: Vec<Row<T>>,
    bias: Row<T>,
}

/// The model file as read (unchecked).
#[derive(Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
struct MlpFile<T: Float> {
    format: String,
    version: u64,
    precision: String,
    architecture: ArchitectureSpec,
    layers: Vec<LayerFile<T>>,
}

/// The fields that identify a model file, read before the rest.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u64,
    precision: Option<String>,
}

/// The format tag and version are this build's and the precision (when given) is `T`'s.
fn check_header<T: Float>(format: &str, version: u64, file_precision: Option<&str>) -> Result<()> {
    if format != MLP_FORMAT {
        return Err(format_err(format!(
            "not an mgs MLP file: format is {format:?}, not {MLP_FORMAT:?}"
        )));
    }
    if version != u64::from(MLP_VERSION) {
        return Err(format_err(format!(
            "{MLP_FORMAT} version {version} is not supported (this build reads version \
             {MLP_VERSION})"
        )));
    }
    match file_precision {
        Some(p) if p != precision::<T>() => Err(format_err(format!(
            "the file holds an {p} model, not {}",
            precision::<T>()
        ))),
        _ => Ok(()),
    }
}

impl<T: Float> TryFrom<MlpFile<T>> for Mlp<T> {
    type Error = Error;

    /// Checks the header and precision, the architecture, the layers' shapes and the
    /// parameters' finiteness, in that order.
    fn try_from(file: MlpFile<T>) -> Result<Self> {
        check_header::<T>(&file.format, file.version, Some(&file.precision))?;
        let arch = Architecture::try_from(file.architecture)?;
        if file.layers.len() != arch.n_layers() {
            return Err(format_err(format!(
                "{} layers in the file, the architecture has {}",
                file.layers.len(),
                arch.n_layers()
            )));
        }
        // Shapes first: the parameters are allocated only once the file is known to hold them
        // all, so a file claiming huge widths costs no more memory than its own values.
        let widths = arch.widths();
        for (l, layer) in file.layers.iter().enumerate() {
            let (n_in, n_out) = (widths[l], widths[l + 1]);
            if layer.weight.len() != n_out {
                return Err(format_err(format!(
                    "layer {l}: the weight has {} rows, the architecture needs {n_out} (one per \
                     output)",
                    layer.weight.len()
                )));
            }
            if let Some((o, row)) = layer
                .weight
                .iter()
                .enumerate()
                .find(|(_, r)| r.0.len() != n_in)
            {
                return Err(format_err(format!(
                    "layer {l}: weight row {o} has {} entries, the architecture needs {n_in} \
                     (one per input)",
                    row.0.len()
                )));
            }
            if layer.bias.0.len() != n_out {
                return Err(format_err(format!(
                    "layer {l}: the bias has {} entries, the architecture needs {n_out}",
                    layer.bias.0.len()
                )));
            }
        }
        let mut params = Vec::with_capacity(arch.n_params());
        for layer in file.layers {
            params.extend(layer.weight.into_iter().flat_map(|row| row.0));
            params.extend(layer.bias.0);
        }
        Mlp::from_params(arch, params)
    }
}

impl<T: Float> Serialize for Mlp<T> {
    /// The model file's object (see the [module docs](self)).
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let arch = self.arch();
        let widths = arch.widths();
        let layers = (0..arch.n_layers())
            .map(|l| LayerRef {
                weight: Rows {
                    values: &self.params()[arch.weight_range(l)],
                    cols: widths[l],
                },
                bias: Floats(self.bias(l)),
            })
            .collect();
        MlpFileRef {
            format: MLP_FORMAT,
            version: MLP_VERSION,
            precision: precision::<T>(),
            architecture: arch,
            layers,
        }
        .serialize(serializer)
    }
}

impl<'de, T: Float> Deserialize<'de> for Mlp<T> {
    /// Reads the model file's object with every check of [`Mlp::from_json`] (a failed check is
    /// a deserialisation error carrying the [`Error`]'s message).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let file = MlpFile::<T>::deserialize(deserializer)?;
        Mlp::try_from(file).map_err(de::Error::custom)
    }
}

impl<T: Float> Mlp<T> {
    /// The model as `"mgs-mlp"` JSON text (one line; see the [module docs](self) for the
    /// format).
    ///
    /// ```
    /// use mgs::{Activation, Architecture, Mlp};
    /// let arch = Architecture::new(1, &[(1, Activation::Relu)], 1)?;
    /// let mlp = Mlp::<f32>::from_params(arch, vec![2.0, -0.5, 0.25, 1.0])?;
    /// assert_eq!(
    ///     mlp.to_json()?,
    ///     r#"{"format":"mgs-mlp","version":1,"precision":"f32","#.to_owned()
    ///         + r#""architecture":{"widths":[1,1,1],"activations":["relu"]},"#
    ///         + r#""layers":[{"weight":[[2.0]],"bias":[-0.5]},{"weight":[[0.25]],"bias":[1.0]}]}"#
    /// );
    /// assert_eq!(Mlp::<f32>::from_json(&mlp.to_json()?)?, mlp);
    /// # Ok::<(), mgs::Error>(())
    /// ```
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| format_err(format!("cannot serialise the model: {e}")))
    }

    /// Parses `"mgs-mlp"` JSON text (as written by [`to_json`](Self::to_json) or by hand),
    /// with the checks listed in the [module docs](self): a wrong format tag, an unknown
    /// version, another precision, truncated or malformed text, shapes that disagree with the
    /// architecture and non-finite parameters are all errors. The format, version and precision
    /// are read and checked first, so that a foreign, newer or other-precision file is named as
    /// such (the serde impl, which reads in one pass, checks them after the values: an `f64`
    /// file read as `f32` may there be refused for a value that is not an `f32`).
    ///
    /// ```
    /// use mgs::{Error, Mlp};
    /// let text = r#"{"format":"mgs-mlp","version":1,"precision":"f64",
    ///     "architecture":{"widths":[2,1],"activations":[]},
    ///     "layers":[{"weight":[[0.5,-1.0]],"bias":[0.25]}]}"#;
    /// let mlp = Mlp::<f64>::from_json(text)?;
    /// assert_eq!(mlp.params(), &[0.5, -1.0, 0.25]);
    /// let newer = text.replace(r#""version":1"#, r#""version":2"#);
    /// assert!(matches!(Mlp::<f64>::from_json(&newer), Err(Error::Format { .. })));
    /// # Ok::<(), mgs::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        let header: Header = serde_json::from_str(text).map_err(|e| {
            format_err(format!(
                "not an {MLP_FORMAT} file (no format and version could be read): {e}"
            ))
        })?;
        check_header::<T>(&header.format, header.version, header.precision.as_deref())?;
        let file: MlpFile<T> = serde_json::from_str(text)
            .map_err(|e| format_err(format!("malformed {MLP_FORMAT} file: {e}")))?;
        Mlp::try_from(file)
    }

    /// Writes [`to_json`](Self::to_json) to `path` atomically: through a temporary file in the
    /// same folder, `fsync`ed and renamed over the target, so that no half-written model is ever
    /// seen under `path`.
    ///
    /// ```
    /// use mgs::{Activation, Architecture, Init, Mlp, rng_from_seed};
    /// let arch = Architecture::new(2, &[(4, Activation::LeakyRelu { slope: 0.1 })], 3)?;
    /// let mlp = Mlp::<f32>::init(arch, Init::HeNormal, &mut rng_from_seed(3))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.json");
    /// mlp.save(&path)?;
    /// assert_eq!(Mlp::<f32>::load(&path)?, mlp);
    /// # Ok::<(), mgs::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json()?.as_bytes())
    }

    /// Reads a model written by [`save`](Self::save) (at most [`MLP_MAX_BYTES`] bytes); a
    /// format error names the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_limited(path, MLP_MAX_BYTES)
    }

    /// Reads a model file of at most `max_bytes` bytes: a larger one is [`Error::TooLarge`],
    /// read no further than `max_bytes + 1` bytes.
    pub fn load_limited(path: impl AsRef<Path>, max_bytes: u64) -> Result<Self> {
        let path = path.as_ref();
        let text = read_to_string_limited(path, max_bytes)?;
        Self::from_json(&text).map_err(|e| match e {
            Error::Format { reason } => format_err(format!("{}: {reason}", path.display())),
            other => other,
        })
    }
}
