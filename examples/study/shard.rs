//! Shards of a stage: a partition of its plan balanced by estimated cost, one file of records per
//! shard, and the checks that put a stage back together (issue 14; `docs/cluster.md`).
//!
//! A shard file is `<out>/shards/<stage>-<K>-of-<N>.json`: a header line
//! `mgs-study-shard 1 crc32=<8 hex> bytes=<n>` and then `n` bytes of JSON, whose CRC-32 the
//! header gives. It is written to a temporary file and renamed, so a file under a shard's name is
//! either complete or corrupt (a disk error, a hand edit), never half written; a corrupt file is
//! detected and its shard rerun.
//!
//! A stage is put back together only if every shard `0..N` is there exactly once, written by the
//! same command (the options that change the plan: scale, claims, datasets, seeds) for the same
//! plan (a digest of every run spec of the stage), with exactly the runs the partition gives it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::RunSpec;
use crate::record::RunRecord;
use crate::stage::Stage;

/// The first word of a shard file.
const MAGIC: &str = "mgs-study-shard";
/// The format's version.
const VERSION: u32 = 1;

/// Shard `index` of `count` (0-based: Slurm's array task ids `0..count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShardId {
    /// 0-based index.
    pub index: usize,
    /// Number of shards of the stage.
    pub count: usize,
}

impl ShardId {
    /// Parses `K/N` with `0 ≤ K < N`.
    pub fn parse(v: &str) -> Result<ShardId, String> {
        let bad = || format!("--shard: expected K/N with 0 <= K < N (e.g. 0/3), not {v:?}");
        let (k, n) = v.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if count == 0 {
            return Err(format!("--shard {v}: the count must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "--shard {v}: shard index {index} is out of range for {count} shards \
                 (indices are 0..={}, as Slurm's array task ids)",
                count - 1
            ));
        }
        Ok(ShardId { index, count })
    }

    /// `K/N`.
    pub fn label(self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

/// Splits `specs` into `count` shards of nearly equal estimated cost: longest run first, each to
/// the shard with the least estimated work so far (ties to the lowest index). Returns the
/// positions in `specs` of each shard's runs, in plan order. Depends on the plan only.
pub fn partition(specs: &[RunSpec], count: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by(|&a, &b| {
        specs[b]
            .est_s
            .total_cmp(&specs[a].est_s)
            .then(specs[a].id.cmp(&specs[b].id))
    });
    let mut load = vec![0.0f64; count];
    let mut parts = vec![Vec::new(); count];
    for i in order {
        let lightest = (0..count)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[lightest] += specs[i].est_s;
        parts[lightest].push(i);
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    parts
}

/// A digest of a stage's plan: CRC-32 of every spec's JSON, and the number of runs.
pub fn plan_digest(specs: &[RunSpec]) -> String {
    let json = serde_json::to_string(specs).unwrap_or_default();
    format!("{:08x}-{}", crc32fast::hash(json.as_bytes()), specs.len())
}

/// What one shard leaves behind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardFile {
    /// The command whose plan this is (the options that change the plan).
    pub command: String,
    /// The stage's name.
    pub stage: String,
    /// Shard index.
    pub index: usize,
    /// Number of shards of the stage.
    pub count: usize,
    /// [`plan_digest`] of the whole stage.
    pub plan: String,
    /// Worker threads the shard ran on.
    pub threads: usize,
    /// Wall seconds of the shard's runs.
    pub wall_s: f64,
    /// Its records, in plan order.
    pub records: Vec<RunRecord>,
}

/// `<dir>/shards`.
pub fn shard_dir(dir: &Path) -> PathBuf {
    dir.join("shards")
}

/// `<dir>/shards/<stage>-<K>-of-<N>.json`.
pub fn shard_path(dir: &Path, stage: Stage, id: ShardId) -> PathBuf {
    shard_dir(dir).join(format!(
        "{}-{:03}-of-{:03}.json",
        stage.name(),
        id.index,
        id.count
    ))
}

/// The stage and shard that a file name claims, if it has a shard file's name.
fn parse_name(path: &Path) -> Option<(Stage, ShardId)> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".json")?;
    let (stage, rest) = stem.split_once('-')?;
    let (k, n) = rest.split_once("-of-")?;
    let id = ShardId::parse(&format!("{k}/{n}")).ok()?;
    Some((Stage::parse(stage).ok()?, id))
}

/// Writes `file` to `path` through a temporary file in the same folder and a rename.
pub fn write(path: &Path, file: &ShardFile) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let payload = serde_json::to_string(file).map_err(|e| err(&e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".shard-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| err(&e))?;
    let header = format!(
        "{MAGIC} {VERSION} crc32={:08x} bytes={}\n",
        crc32fast::hash(payload.as_bytes()),
        payload.len()
    );
    tmp.write_all(header.as_bytes()).map_err(|e| err(&e))?;
    tmp.write_all(payload.as_bytes()).map_err(|e| err(&e))?;
    tmp.as_file().sync_all().map_err(|e| err(&e))?;
    tmp.persist(path).map_err(|e| err(&e.error))?;
    Ok(())
}

/// Reads a shard file, checking its header, length and CRC-32 before parsing it.
pub fn read(path: &Path) -> Result<ShardFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "header is not text")?;
    let words: Vec<&str> = header.split(' ').collect();
    let [magic, version, crc, len] = words[..] else {
        return Err(format!("not a shard header: {header:?}"));
    };
    if magic != MAGIC {
        return Err(format!("not a shard file (starts {magic:?})"));
    }
    if version != VERSION.to_string() {
        return Err(format!(
            "shard format version {version}, expected {VERSION}"
        ));
    }
    let crc = crc
        .strip_prefix("crc32=")
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("bad crc32 field")?;
    let len = len
        .strip_prefix("bytes=")
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or("bad bytes field")?;
    let payload = &bytes[newline + 1..];
    if payload.len() != len {
        return Err(format!(
            "truncated or extended: {} bytes of payload, the header says {len}",
            payload.len()
        ));
    }
    if crc32fast::hash(payload) != crc {
        return Err("CRC-32 mismatch: the file is corrupt".to_string());
    }
    serde_json::from_slice(payload).map_err(|e| format!("unreadable records: {e}"))
}

/// One file of a shards folder: what its name claims and what it holds.
struct Scanned {
    path: PathBuf,
    claim: Option<(Stage, ShardId)>,
    content: Result<ShardFile, String>,
}

/// What a merge reports of one shard (`timing.json`).
#[derive(Debug, Clone, Copy)]
pub struct ShardRun {
    /// The shard.
    pub id: ShardId,
    /// Its runs.
    pub runs: usize,
    /// Its worker threads.
    pub threads: usize,
    /// Its wall seconds.
    pub wall_s: f64,
}

/// Every file in a shards folder.
pub struct ShardSet {
    files: Vec<Scanned>,
}

impl ShardSet {
    /// Reads every `*.json` file in `<dir>/shards` (none if the folder does not exist).
    /// Files of stages after `upto` are listed by name only, not read.
    pub fn scan(dir: &Path, upto: Stage) -> Result<ShardSet, String> {
        let folder = shard_dir(dir);
        let entries = match std::fs::read_dir(&folder) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ShardSet { files: Vec::new() });
            }
            Err(e) => return Err(format!("cannot list {}: {e}", folder.display())),
        };
        let mut paths = Vec::new();
        for e in entries {
            let path = e
                .map_err(|e| format!("cannot list {}: {e}", folder.display()))?
                .path();
            if path.extension().is_some_and(|x| x == "json") {
                paths.push(path);
            }
        }
        paths.sort();
        let files = paths
            .into_iter()
            .map(|path| {
                let claim = parse_name(&path);
                let content = match claim {
                    Some((s, _)) if s > upto => Err("not read".to_string()),
                    _ => read(&path),
                };
                Scanned {
                    path,
                    claim,
                    content,
                }
            })
            .collect();
        Ok(ShardSet { files })
    }

    /// Files that are neither named as a shard file nor readable as one: a merge refuses them.
    pub fn strangers(&self) -> Vec<&Path> {
        self.files
            .iter()
            .filter(|f| f.claim.is_none() && f.content.is_err())
            .map(|f| f.path.as_path())
            .collect()
    }

    /// The records of `stage`, checked against its plan `specs` and `command`: every shard
    /// `0..N` exactly once, none corrupt, none foreign, each with exactly its partition's runs.
    /// Returns the records in plan order and what each shard reports.
    pub fn stage(
        &self,
        stage: Stage,
        specs: &[RunSpec],
        command: &str,
    ) -> Result<(Vec<RunRecord>, Vec<ShardRun>), String> {
        let digest = plan_digest(specs);
        let mut found: BTreeMap<usize, (&Path, &ShardFile)> = BTreeMap::new();
        let mut count = None;
        for Scanned {
            path,
            claim,
            content,
        } in &self.files
        {
            // A file counts for the stage its name gives, or, if it is not named as a shard
            // file, the stage its readable content gives (a copy under another name).
            let id = match (claim, content) {
                (Some((s, id)), _) if *s == stage => *id,
                (None, Ok(f)) if f.stage == stage.name() => ShardId {
                    index: f.index,
                    count: f.count,
                },
                _ => continue,
            };
            let shown = path.display();
            let f = content.as_ref().map_err(|e| {
                format!(
                    "{shown} is corrupt ({e}); rerun that shard: --shard {} --phase {}",
                    id.label(),
                    stage.name()
                )
            })?;
            if f.command != command {
                return Err(format!(
                    "{shown} belongs to another plan: it was written by `{}`, this is `{command}`",
                    f.command
                ));
            }
            if (f.stage.as_str(), f.index, f.count) != (stage.name(), id.index, id.count) {
                return Err(format!(
                    "{shown} holds shard {}/{} of {}, not what its name says",
                    f.index, f.count, f.stage
                ));
            }
            if f.plan != digest {
                return Err(format!(
                    "{shown} belongs to another plan of the {} stage (plan {}, expected {digest}): \
                     it was run on other records of the earlier stages",
                    stage.name(),
                    f.plan
                ));
            }
            match count {
                None => count = Some((id.count, path.as_path())),
                Some((n, other)) if n != id.count => {
                    return Err(format!(
                        "the {} stage was split two ways: {} is one of {n} shards, {shown} one of {}",
                        stage.name(),
                        other.display(),
                        id.count
                    ));
                }
                Some(_) => {}
            }
            if let Some((other, _)) = found.insert(id.index, (path, f)) {
                return Err(format!(
                    "shard {} of the {} stage is there twice: {} and {shown}",
                    id.label(),
                    stage.name(),
                    other.display()
                ));
            }
        }
        let Some((n, _)) = count else {
            return Err(format!(
                "the {} stage has no shard files under {}",
                stage.name(),
                self.folder_hint()
            ));
        };
        let missing: Vec<String> = (0..n)
            .filter(|k| !found.contains_key(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the {} stage is incomplete: shard(s) {} missing; run them with --shard K/{n} \
                 --phase {}",
                stage.name(),
                missing.join(", "),
                stage.name()
            ));
        }
        let parts = partition(specs, n);
        let mut records = Vec::with_capacity(specs.len());
        let mut shards = Vec::with_capacity(n);
        for (k, (path, f)) in found {
            let planned: Vec<&RunSpec> = parts[k].iter().map(|&i| &specs[i]).collect();
            let held: Vec<&RunSpec> = f.records.iter().map(|r| &r.spec).collect();
            if planned != held {
                return Err(format!(
                    "{} does not hold the runs of shard {k}/{n} ({} runs planned, {} held)",
                    path.display(),
                    planned.len(),
                    held.len()
                ));
            }
            shards.push(ShardRun {
                id: ShardId { index: k, count: n },
                runs: f.records.len(),
                threads: f.threads,
                wall_s: f.wall_s,
            });
            records.extend(f.records.iter().cloned());
        }
        records.sort_by_key(|r| r.spec.id);
        Ok((records, shards))
    }

    /// The folder, for messages.
    fn folder_hint(&self) -> String {
        self.files
            .first()
            .and_then(|f| f.path.parent())
            .map_or_else(|| "shards/".to_string(), |p| p.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Scale;

    fn quick_plan() -> Vec<RunSpec> {
        Stage::Tuning.plan(&Scale::new("quick").unwrap(), &[])
    }

    #[test]
    fn shard_ids_parse_and_refuse_out_of_range() {
        assert_eq!(ShardId::parse("2/3"), Ok(ShardId { index: 2, count: 3 }));
        let e = ShardId::parse("3/3").unwrap_err();
        assert!(e.contains("out of range") && e.contains("0..=2"), "{e}");
        assert!(ShardId::parse("0/0").unwrap_err().contains("at least 1"));
        for bad in ["1", "a/3", "1/b", "-1/3", "1/3/4"] {
            assert!(ShardId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_partition_covers_every_run_once_and_balances_the_cost() {
        let specs = quick_plan();
        for n in [1, 2, 3, 7] {
            let parts = partition(&specs, n);
            assert_eq!(parts.len(), n);
            let mut all: Vec<usize> = parts.concat();
            all.sort_unstable();
            assert_eq!(all, (0..specs.len()).collect::<Vec<_>>());
            // Greedy longest-first: no shard exceeds the mean by more than the longest run.
            let loads: Vec<f64> = parts
                .iter()
                .map(|p| p.iter().map(|&i| specs[i].est_s).sum())
                .collect();
            let mean = loads.iter().sum::<f64>() / n as f64;
            let longest = specs.iter().map(|s| s.est_s).fold(0.0, f64::max);
            for l in loads {
                assert!(l <= mean + longest + 1e-12, "{l} > {mean} + {longest}");
            }
        }
        assert_eq!(partition(&specs, 3), partition(&specs, 3));
    }

    #[test]
    fn the_digest_changes_with_the_plan() {
        let specs = quick_plan();
        let mut other = specs.clone();
        other[0].seed += 1;
        assert_ne!(plan_digest(&specs), plan_digest(&other));
        assert_eq!(plan_digest(&specs), plan_digest(&specs.clone()));
    }

    #[test]
    fn names_round_trip() {
        let id = ShardId {
            index: 4,
            count: 12,
        };
        let p = shard_path(Path::new("out"), Stage::Refinement, id);
        assert_eq!(p, Path::new("out/shards/refinement-004-of-012.json"));
        assert_eq!(parse_name(&p), Some((Stage::Refinement, id)));
        assert_eq!(parse_name(Path::new("tuning-003-of-003.json")), None);
        assert_eq!(parse_name(Path::new("tuning-0-of-3 (copy).json")), None);
    }

    #[test]
    fn a_changed_byte_or_a_cut_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tuning-000-of-001.json");
        let file = ShardFile {
            command: "study --quick".into(),
            stage: "tuning".into(),
            index: 0,
            count: 1,
            plan: "00000000-0".into(),
            threads: 1,
            wall_s: 0.5,
            records: Vec::new(),
        };
        write(&path, &file).unwrap();
        let back = read(&path).unwrap();
        assert_eq!((back.command, back.wall_s), (file.command.clone(), 0.5));
        let bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        let mut flipped = bytes.clone();
        flipped[last] ^= 0x20;
        std::fs::write(&path, &flipped).unwrap();
        assert!(read(&path).unwrap_err().contains("CRC-32"));
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(read(&path).unwrap_err().contains("truncated"));
        std::fs::write(&path, b"{}").unwrap();
        assert!(read(&path).unwrap_err().contains("no header"));
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
