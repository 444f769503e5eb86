//! Atomic file writes (crate-private): a temporary file in the target's directory, then a
//! rename, so a crash never leaves a half-written checkpoint or history under the final name.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `path` through `.<name>.tmp-<pid>` in the same directory and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().ok_or_else(|| Error::Io {
        path: path.display().to_string(),
        message: "not a file path".into(),
    })?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, e)
    })
}

/// Reads `path` as UTF-8 text of at most `limit` bytes; a larger file (or an endless one such as
/// `/dev/zero`) is an error, and nothing past the limit is read.
pub(crate) fn read_to_string_limited(path: &Path, limit: u64) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut text = String::new();
    file.take(limit.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(|e| io_err(path, e))?;
    if text.len() as u64 > limit {
        return Err(Error::Io {
            path: path.display().to_string(),
            message: format!("the file is larger than the limit of {limit} bytes"),
        });
    }
    Ok(text)
}
