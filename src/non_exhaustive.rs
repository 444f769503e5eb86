//! The marker field that lets public configuration structs grow without breaking their users.

/// The type of the hidden `non_exhaustive` field of the crate's public configuration structs
/// (faer's pattern): a struct literal written outside the crate has to end with
/// `..Default::default()` (or another value of the struct), so adding a field is not a breaking
/// change, while the fields stay public to read and to set.
///
/// Zero-sized; its only constructor is [`Default`] (which serde's `#[serde(skip)]` uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NonExhaustive(());
