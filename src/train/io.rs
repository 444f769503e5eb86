//! Safe file writes and bounded reads (crate-private), for checkpoints and histories.
//!
//! [`write_atomic`] never leaves a half-written file under the final name, and cannot be made to
//! write anywhere else:
//! 1. the data goes to a temporary file in the target's folder, created exclusively
//!    (`O_CREAT | O_EXCL`: a symlink or file planted at its name makes the creation retry under
//!    another name, it is never followed) with an unpredictable name
//!    `.<name>.<12 random characters>.mgs-tmp` (the `tempfile` crate), on which the writer holds
//!    an advisory exclusive lock;
//! 2. the file is written and `fsync`ed, then renamed over the target (atomic on POSIX; a
//!    symlink at the target is replaced, never written through), and the folder is `fsync`ed so
//!    that the rename itself survives a power cut (Unix);
//! 3. temporaries of the same target left by writers that died (killed mid-save) are removed:
//!    regular files (not symlinks) of that pattern, last modified at least [`STALE_AFTER`] ago,
//!    whose lock can be taken. A live writer holds its lock, and the system releases a dead
//!    process's locks, so a save in progress (in this process or another) is never disturbed,
//!    and at most the temporaries of crashes younger than [`STALE_AFTER`] remain.
//!
//! Two saves to one path from two threads or processes therefore both succeed, and the last
//! rename wins. Every error names the caller's path, not the temporary one.
//!
//! [`read_to_string_limited`] reads at most a given number of bytes, so that a huge or endless
//! file (`/dev/zero`) is an error instead of an allocation failure.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use fs4::FileExt;

use crate::{Error, Result};

/// Suffix of the temporary files of [`write_atomic`].
const SUFFIX: &str = ".mgs-tmp";

/// Random characters in a temporary file's name (62¹² ≈ 3·10²¹ names).
const RANDOM_CHARS: usize = 12;

/// Longest prefix of the target's name kept in a temporary file's name (so that the temporary
/// name stays within the usual 255-byte limit).
const NAME_CHARS: usize = 64;

/// Age from which an unlocked temporary file counts as left by a dead writer. A writer locks its
/// file microseconds after creating it; this margin covers that gap on a loaded machine.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(10);

/// The prefix of the temporary files of `name`: `.<name>.` (name cut to [`NAME_CHARS`]).
fn temp_prefix(name: &str) -> String {
    let short: String = name.chars().take(NAME_CHARS).collect();
    format!(".{short}.")
}

/// Writes `bytes` to `path` atomically and safely (see the module docs).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| {
            Error::io(
                path,
                "",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
            )
        })?
        .to_string_lossy();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = temp_prefix(&name);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(SUFFIX)
        .rand_bytes(RANDOM_CHARS)
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, "creating a temporary file in its folder", e))?;
    // Called through the trait: the inherent `File::lock` is newer than the crate's MSRV.
    FileExt::lock(tmp.as_file()).map_err(|e| Error::io(path, "locking the temporary file", e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, "writing the temporary file", e))?;
    // On failure the temporary file (inside the error) is dropped, which deletes it.
    let file = tmp
        .persist(path)
        .map_err(|e| Error::io(path, "renaming the temporary file over it", e.error))?;
    drop(file);
    sync_dir(dir).map_err(|e| Error::io(path, "syncing its folder", e))?;
    remove_stale(dir, &prefix);
    Ok(())
}

/// `fsync` of a folder, so that a rename in it is durable (a no-op where folders cannot be
/// opened as files).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Opens `path` for reading without blocking on a FIFO, following a final symlink or not.
pub(crate) fn open_for_reading(path: &Path, follow: bool) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let no_follow = if follow { 0 } else { libc::O_NOFOLLOW };
        options.custom_flags(no_follow | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    let _ = follow;
    options.open(path)
}

/// Removes the temporaries `<prefix>*.mgs-tmp` in `dir` left by dead writers (module docs).
/// Best effort: a temporary that cannot be inspected is left alone.
fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if !(file_name.starts_with(prefix) && file_name.ends_with(SUFFIX)) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !meta.file_type().is_file() || !old {
            continue;
        }
        let Ok(file) = open_for_reading(&path, false) else {
            continue;
        };
        if FileExt::try_lock(&file).is_ok() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Reads `path` as UTF-8 text of at most `limit` bytes: a longer file (or an endless one such as
/// `/dev/zero`) is [`Error::TooLarge`] after reading `limit + 1` bytes, never an unbounded
/// allocation. A FIFO without a writer reads as empty instead of blocking (Unix).
pub(crate) fn read_to_string_limited(path: &Path, limit: u64) -> Result<String> {
    let file = open_for_reading(path, true).map_err(|e| Error::io(path, "", e))?;
    let mut text = String::new();
    file.take(limit.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(|e| Error::io(path, "", e))?;
    if text.len() as u64 > limit {
        return Err(Error::TooLarge {
            what: format!("reading {}", path.display()),
            bytes: limit as u128 + 1,
            limit: limit as u128,
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporaries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(SUFFIX))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_replace_the_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(temporaries(dir.path()).is_empty());
    }

    #[test]
    fn stale_temporaries_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ck.json");
        let old = SystemTime::now() - Duration::from_secs(3600);
        let make = |name: &str, age: Option<SystemTime>| {
            let p = dir.path().join(name);
            let f = File::create(&p).unwrap();
            if let Some(t) = age {
                f.set_modified(t).unwrap();
            }
            f
        };
        // Left by a killed writer: old and unlocked.
        drop(make(".ck.json.AAAAAAAAAAAA.mgs-tmp", Some(old)));
        // Just created by a writer that has not locked it yet: young.
        drop(make(".ck.json.BBBBBBBBBBBB.mgs-tmp", None));
        // A live writer's: old (a slow save) but locked.
        let live = make(".ck.json.CCCCCCCCCCCC.mgs-tmp", Some(old));
        FileExt::lock(&live).unwrap();
        // Not ours: another name, or not a regular file.
        drop(make(".other.json.DDDDDDDDDDDD.mgs-tmp", Some(old)));
        std::fs::create_dir(dir.path().join(".ck.json.EEEEEEEEEEEE.mgs-tmp")).unwrap();
        write_atomic(&path, b"x").unwrap();
        assert_eq!(
            temporaries(dir.path()),
            [
                ".ck.json.BBBBBBBBBBBB.mgs-tmp",
                ".ck.json.CCCCCCCCCCCC.mgs-tmp",
                ".ck.json.EEEEEEEEEEEE.mgs-tmp",
                ".other.json.DDDDDDDDDDDD.mgs-tmp",
            ]
        );
        drop(live);
    }

    #[cfg(unix)]
    #[test]
    fn planted_symlinks_cannot_redirect_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let path = dir.path().join("ck.json");
        // The old predictable name, and stale-looking temporaries that are symlinks.
        let planted = [
            format!(".ck.json.tmp-{}", std::process::id()),
            ".ck.json.AAAAAAAAAAAA.mgs-tmp".to_string(),
        ];
        for name in &planted {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        write_atomic(&path, b"data").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        for name in &planted {
            assert!(dir.path().join(name).is_symlink(), "{name}");
        }
        // A symlink at the target itself is replaced by the file, not written through.
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert!(!link.is_symlink());
        assert_eq!(std::fs::read(&link).unwrap(), b"new");
    }

    #[test]
    fn errors_name_the_callers_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-folder").join("ck.json");
        let Error::Io {
            path: named,
            message,
            ..
        } = write_atomic(&path, b"x").unwrap_err()
        else {
            panic!("not an I/O error");
        };
        assert_eq!(named, path.display().to_string());
        assert!(message.contains("temporary file"), "{message}");
        // The target is a folder: the rename fails, the temporary is removed.
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("inside"), b"keep").unwrap();
        let Error::Io { path: named, .. } = write_atomic(&folder, b"x").unwrap_err() else {
            panic!("not an I/O error");
        };
        assert_eq!(named, folder.display().to_string());
        assert!(temporaries(dir.path()).is_empty());
    }

    #[test]
    fn bounded_reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_to_string_limited(&path, 10).unwrap(), "0123456789");
        assert_eq!(read_to_string_limited(&path, 100).unwrap(), "0123456789");
        let e = read_to_string_limited(&path, 9).unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooLarge {
                    bytes: 10,
                    limit: 9,
                    ..
                }
            ),
            "{e:?}"
        );
        let missing = dir.path().join("missing.json");
        let Error::Io { path: named, .. } = read_to_string_limited(&missing, 9).unwrap_err() else {
            panic!("not an I/O error");
        };
        assert_eq!(named, missing.display().to_string());
    }

    #[cfg(unix)]
    #[test]
    fn bounded_read_of_dev_zero_is_an_error() {
        let limit = 1 << 20;
        let e = read_to_string_limited(Path::new("/dev/zero"), limit).unwrap_err();
        let Error::TooLarge {
            what,
            bytes,
            limit: l,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!((*bytes, *l), (limit as u128 + 1, limit as u128));
        assert!(what.contains("/dev/zero"), "{what}");
        assert!(e.to_string().contains("1048577 bytes"), "{e}");
    }
}
