//! Lossless JSON encoding of floats for histories and checkpoints (crate-private).
//!
//! - Finite values are written as JSON numbers; `serde_json` (with its `float_roundtrip` feature)
//!   writes the shortest decimal that parses back to the same `f64`, and parses it back exactly.
//! - NaN and infinities, which JSON numbers cannot hold, are written as the strings `"NaN"`,
//!   `"inf"` and `"-inf"` (`serde_json` would otherwise write `null` and lose them).
//! - Vectors of a generic [`Float`] `T` are written through `f64` (exact for `f32` and `f64`) and
//!   read back with a check that every value is exactly representable in `T`, so `f32` values never
//!   go through a double rounding and an `f64` vector is not silently narrowed into `f32`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::Float;

/// An `f64` that survives JSON whatever its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonF64(pub(crate) f64);

impl Serialize for JsonF64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() {
            s.serialize_f64(x)
        } else if x.is_nan() {
            s.serialize_str("NaN")
        } else if x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

struct JsonF64Visitor;

impl Visitor<'_> for JsonF64Visitor {
    type Value = JsonF64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or one of \"NaN\", \"inf\", \"-inf\"")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonF64, E> {
        Ok(JsonF64(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonF64, E> {
        Ok(JsonF64(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonF64, E> {
        Ok(JsonF64(v as f64))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonF64, E> {
        match v {
            "NaN" => Ok(JsonF64(f64::NAN)),
            "inf" => Ok(JsonF64(f64::INFINITY)),
            "-inf" => Ok(JsonF64(f64::NEG_INFINITY)),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for JsonF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonF64Visitor)
    }
}

/// `#[serde(with = "json::f64")]` for a plain `f64` field.
pub(crate) mod f64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        JsonF64(*v).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(JsonF64::deserialize(d)?.0)
    }
}

/// `#[serde(with = "json::named")]` for a `Vec<(String, f64)>` field: a list of `[name, value]`.
pub(crate) mod named {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for (name, value) in v {
            seq.serialize_element(&(name, JsonF64(*value)))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, f64)>, D::Error> {
        let v: Vec<(String, JsonF64)> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|(n, x)| (n, x.0)).collect())
    }
}

/// `#[serde(with = "json::vec")]` for a `Vec<T>` field with `T: Float`.
pub(crate) mod vec {
    use super::*;

    pub(crate) fn serialize<T: Float, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&JsonF64(x.to_f64()))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, T: Float, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        let v: Vec<JsonF64> = Vec::deserialize(d)?;
        v.into_iter()
            .map(|JsonF64(x)| {
                let t = T::from_f64(x);
                if t.to_f64() == x || (x.is_nan() && !t.is_finite_value()) {
                    Ok(t)
                } else {
                    Err(de::Error::custom(format!(
                        "value {x:?} is not exactly representable in the model's precision"
                    )))
                }
            })
            .collect()
    }
}
