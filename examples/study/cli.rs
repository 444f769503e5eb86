//! The command line.

use std::path::PathBuf;

use crate::plan::{Claims, Scale};
use crate::setting::DatasetId;
use crate::shard::ShardId;
use crate::stage::Stage;

/// The usage text.
pub const USAGE: &str = "usage: study [--quick | --full] [--out DIR] [--claim 1|2|3|all] \
[--dataset NAME | --datasets A,B] [--seeds K] [--threads T] [--plan]
       [--shard K/N --phase STAGE | --merge DIR | --emit-slurm N]
  --quick           tiny sizes, every output file (CI; under a minute)
  --full            the complete grid of issue 11 (hours; the plan prints its estimate)
  --out DIR         output folder (default results/)
  --claim C         1, 2, 3, a comma list (1,3) or all (default)
  --dataset NAME    only this dataset: mnist1d, optdigits, mnist5k, letter, digits
  --datasets A,B    exactly these datasets (default mnist1d,optdigits)
  --seeds K         report seeds 0..K (default 10; quick 2)
  --threads T       worker threads, one run each (default: available cores)
  --plan            print the plan's size and estimated time, run nothing
  --shard K/N       run only shard K (0-based) of N of one stage; records to DIR/shards/
  --phase STAGE     the stage of --shard: tuning, then refinement, then report
  --merge DIR       check DIR/shards/ and write the outputs (into DIR unless --out)
  --emit-slurm N    write DIR/slurm/: a job array of N tasks per stage and the merge";

/// What the command does.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Every stage in this process, then the outputs.
    Whole,
    /// Print the plan only.
    Plan,
    /// One shard of one stage.
    Shard(Stage, ShardId),
    /// Put the shards in this folder together and write the outputs.
    Merge(PathBuf),
    /// Write Slurm scripts for this many tasks per stage.
    EmitSlurm(usize),
}

/// Parsed options.
#[derive(Debug, Clone)]
pub struct Args {
    /// The study's sizes, with the overrides applied.
    pub scale: Scale,
    /// Output folder.
    pub out: PathBuf,
    /// Whether `--out` was given.
    pub out_given: bool,
    /// Worker threads.
    pub threads: usize,
    /// What to do.
    pub mode: Mode,
    /// The options that change the plan (scale, claims, datasets, seeds), as given.
    pub plan_args: Vec<String>,
    /// The command that reproduces the outputs: `plan_args` after the cargo command (`--out`,
    /// `--threads` and the mode do not change them).
    pub command: String,
}

fn positive(flag: &str, v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: not a positive integer: {v}")),
    }
}

fn claims(v: &str) -> Result<Claims, String> {
    if v == "all" {
        return Ok(Claims::ALL);
    }
    let mut c = Claims {
        one: false,
        two: false,
        three: false,
    };
    for part in v.split(',') {
        match part.trim() {
            "1" => c.one = true,
            "2" => c.two = true,
            "3" => c.three = true,
            other => return Err(format!("--claim: expected 1, 2, 3 or all, not {other:?}")),
        }
    }
    Ok(c)
}

/// Parses `raw` (the arguments after the program name); `Err("")` for `--help`.
pub fn parse(raw: &[String]) -> Result<Args, String> {
    let mut scale_name = "default";
    let (mut out, mut out_given, mut threads) = (
        PathBuf::from("results"),
        false,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let (mut plan_only, mut shard, mut phase, mut merge, mut emit) =
        (false, None, None, None, None);
    let (mut claim, mut datasets, mut seeds) = (None, None, None);
    let mut kept: Vec<String> = Vec::new();
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match a.as_str() {
            "--quick" | "--full" => {
                if scale_name != "default" {
                    return Err("--quick and --full exclude each other".to_string());
                }
                scale_name = &a[2..];
                kept.push(a.clone());
            }
            "--out" => {
                out = PathBuf::from(value("--out")?);
                out_given = true;
            }
            "--threads" => threads = positive("--threads", &value("--threads")?)?,
            "--plan" => plan_only = true,
            "--shard" => shard = Some(ShardId::parse(&value("--shard")?)?),
            "--phase" => phase = Some(Stage::parse(&value("--phase")?)?),
            "--merge" => merge = Some(PathBuf::from(value("--merge")?)),
            "--emit-slurm" => emit = Some(positive("--emit-slurm", &value("--emit-slurm")?)?),
            "--claim" => {
                let v = value("--claim")?;
                claim = Some(claims(&v)?);
                kept.extend(["--claim".to_string(), v]);
            }
            "--dataset" | "--datasets" => {
                let v = value(a)?;
                let list = v
                    .split(',')
                    .map(|n| DatasetId::parse(n.trim()))
                    .collect::<Result<Vec<_>, _>>()?;
                if a == "--dataset" && list.len() != 1 {
                    return Err("--dataset takes one name (use --datasets for a list)".into());
                }
                datasets = Some(list);
                kept.extend([a.clone(), v]);
            }
            "--seeds" => {
                let v = value("--seeds")?;
                seeds = Some(positive("--seeds", &v)?);
                kept.extend(["--seeds".to_string(), v]);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    let mut scale = Scale::new(scale_name)?;
    if let Some(c) = claim {
        scale.claims = c;
    }
    if let Some(d) = datasets {
        scale.datasets = d;
    }
    if let Some(k) = seeds {
        scale.report_seeds = (0..k as u64).collect();
    }
    let modes = usize::from(plan_only)
        + usize::from(shard.is_some() || phase.is_some())
        + usize::from(merge.is_some())
        + usize::from(emit.is_some());
    if modes > 1 {
        return Err("--plan, --shard/--phase, --merge and --emit-slurm exclude each other".into());
    }
    let mode = match (shard, phase, merge, emit) {
        (Some(id), Some(stage), _, _) => Mode::Shard(stage, id),
        (Some(_), None, _, _) => return Err("--shard needs --phase STAGE".into()),
        (None, Some(_), _, _) => return Err("--phase needs --shard K/N".into()),
        (_, _, Some(dir), _) => Mode::Merge(dir),
        (_, _, _, Some(n)) => Mode::EmitSlurm(n),
        _ if plan_only => Mode::Plan,
        _ => Mode::Whole,
    };
    let command = if kept.is_empty() {
        "cargo run --release --example study".to_string()
    } else {
        format!("cargo run --release --example study -- {}", kept.join(" "))
    };
    Ok(Args {
        scale,
        out,
        out_given,
        threads,
        mode,
        plan_args: kept,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        parse(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn modes_and_their_conflicts() {
        let a = args("--quick --shard 1/3 --phase refinement --out x").unwrap();
        assert_eq!(
            a.mode,
            Mode::Shard(Stage::Refinement, ShardId { index: 1, count: 3 })
        );
        // The mode and the output folder do not change the plan or the command.
        assert_eq!(a.plan_args, ["--quick"]);
        assert_eq!(a.command, args("--quick").unwrap().command);
        assert_eq!(args("--merge d").unwrap().mode, Mode::Merge("d".into()));
        assert_eq!(args("--emit-slurm 4").unwrap().mode, Mode::EmitSlurm(4));
        assert_eq!(args("--plan").unwrap().mode, Mode::Plan);
        assert_eq!(args("").unwrap().mode, Mode::Whole);
        assert!(
            args("--shard 3/3 --phase tuning")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(args("--shard 0/3").unwrap_err().contains("--phase"));
        assert!(args("--phase tuning").unwrap_err().contains("--shard"));
        assert!(args("--phase tune --shard 0/1").is_err());
        assert!(
            args("--merge d --shard 0/2 --phase tuning")
                .unwrap_err()
                .contains("exclude")
        );
        assert!(args("--emit-slurm 0").is_err());
    }
}
