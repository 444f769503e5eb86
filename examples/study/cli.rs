//! The command line.

use std::path::PathBuf;

use crate::plan::{Claims, Scale};
use crate::setting::DatasetId;

/// The usage text.
pub const USAGE: &str = "usage: study [--quick | --full] [--out DIR] [--claim 1|2|3|all] \
[--dataset NAME | --datasets A,B] [--seeds K] [--threads T] [--plan]
  --quick           tiny sizes, every output file (CI; under a minute)
  --full            the complete grid of issue 11 (hours; the plan prints its estimate)
  --out DIR         output folder (default results/)
  --claim C         1, 2, 3, a comma list (1,3) or all (default)
  --dataset NAME    only this dataset: mnist1d, optdigits, mnist5k, letter, digits
  --datasets A,B    exactly these datasets (default mnist1d,optdigits)
  --seeds K         report seeds 0..K (default 10; quick 2)
  --threads T       worker threads, one run each (default: available cores)
  --plan            print the plan's size and estimated time, run nothing";

/// Parsed options.
#[derive(Debug, Clone)]
pub struct Args {
    /// The study's sizes, with the overrides applied.
    pub scale: Scale,
    /// Output folder.
    pub out: PathBuf,
    /// Worker threads.
    pub threads: usize,
    /// Print the plan only.
    pub plan_only: bool,
    /// The command that reproduces the outputs (without `--out`, `--threads`, `--plan`, which
    /// do not change them).
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
    let (mut out, mut threads, mut plan_only) = (
        PathBuf::from("results"),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        false,
    );
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
            "--out" => out = PathBuf::from(value("--out")?),
            "--threads" => threads = positive("--threads", &value("--threads")?)?,
            "--plan" => plan_only = true,
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
    let command = if kept.is_empty() {
        "cargo run --release --example study".to_string()
    } else {
        format!("cargo run --release --example study -- {}", kept.join(" "))
    };
    Ok(Args {
        scale,
        out,
        threads,
        plan_only,
        command,
    })
}
