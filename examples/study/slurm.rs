//! `--emit-slurm N`: the scripts that run the study on a Slurm cluster as three job arrays of
//! `N` tasks (one per stage, each after the one before) and a dependent merge job
//! (`docs/cluster.md`).
//!
//! The scripts call the binary that wrote them (build once, on a shared file system), with the
//! options that fix the plan. The shard count is written into the task's command rather than
//! read from `SLURM_ARRAY_TASK_COUNT`, so that resubmitting a few failed tasks
//! (`--array=3,7`) runs the same shards.

use std::path::{Path, PathBuf};

/// Where the scripts are and what they run.
pub struct SlurmJob<'a> {
    /// The study binary (absolute).
    pub binary: &'a Path,
    /// The options that fix the plan.
    pub plan_args: &'a [String],
    /// The output folder (absolute): shards, logs, scripts and the merged outputs.
    pub out: &'a Path,
    /// CPUs per task (the study's `--threads`).
    pub cpus: usize,
    /// Array tasks per stage.
    pub tasks: usize,
    /// Time limit of a task of each stage, and of the merge, in minutes.
    pub minutes: [u64; 4],
}

/// `'text'` for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A time limit in minutes for a task of `estimate_s` seconds on one core spread over `cpus`:
/// three times the estimate (clusters' cores and loads differ from the pilot's), plus ten
/// minutes for start-up, rounded up.
pub fn minutes(estimate_s: f64, cpus: usize) -> u64 {
    let secs = 3.0 * estimate_s / cpus.max(1) as f64 + 600.0;
    (secs / 60.0).ceil() as u64
}

impl SlurmJob<'_> {
    /// The command line shared by every job: the binary and the plan's options.
    fn base(&self) -> String {
        let mut words = vec![quote(&self.binary.to_string_lossy())];
        words.extend(self.plan_args.iter().map(|a| quote(a)));
        words.join(" ")
    }

    /// The array task: one shard of the stage given as its argument.
    fn task_script(&self) -> String {
        let out = self.out.to_string_lossy();
        format!(
            "#!/bin/bash\n\
             # One shard of one stage of the MGS study, written by `study --emit-slurm {n}`.\n\
             # submit.sh sends it as a job array: sbatch --array=0-{last} study.sbatch STAGE\n\
             #SBATCH --job-name=mgs-study\n\
             #SBATCH --cpus-per-task={cpus}\n\
             #SBATCH --output={logs}/%x-%A_%a.out\n\
             set -euo pipefail\n\
             exec {base} --out {out_q} --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" \\\n  \
             --shard \"${{SLURM_ARRAY_TASK_ID}}/{n}\" --phase \"$1\"\n",
            n = self.tasks,
            last = self.tasks - 1,
            cpus = self.cpus,
            logs = self.out.join("logs").to_string_lossy(),
            base = self.base(),
            out_q = quote(&out),
        )
    }

    /// The merge job.
    fn merge_script(&self) -> String {
        format!(
            "#!/bin/bash\n\
             # The merge of the MGS study's shards, written by `study --emit-slurm {n}`.\n\
             #SBATCH --job-name=mgs-study-merge\n\
             #SBATCH --cpus-per-task=1\n\
             #SBATCH --output={logs}/%x-%j.out\n\
             set -euo pipefail\n\
             exec {base} --merge {out_q}\n",
            n = self.tasks,
            logs = self.out.join("logs").to_string_lossy(),
            base = self.base(),
            out_q = quote(&self.out.to_string_lossy()),
        )
    }

    /// The submission: three arrays chained by `afterok`, then the merge. A failed task cancels
    /// what depends on it (`--kill-on-invalid-dep`); running the script again resubmits
    /// everything, and shards whose file is complete finish at once.
    fn submit_script(&self) -> String {
        let [t1, t2, t3, tm] = self.minutes;
        let last = self.tasks - 1;
        let logs = quote(&self.out.join("logs").to_string_lossy());
        format!(
            "#!/bin/sh\n\
             # Submits the MGS study: tuning, refinement and report as job arrays of {n} tasks,\n\
             # each stage after the one before, then the merge. Written by `study --emit-slurm {n}`.\n\
             # Time limits: 3x the plan's estimate per task plus 10 minutes; edit them here.\n\
             set -eu\n\
             here=$(cd \"$(dirname \"$0\")\" && pwd)\n\
             mkdir -p {logs}\n\
             submit() {{ sbatch --parsable --kill-on-invalid-dep=yes \"$@\" | cut -d';' -f1; }}\n\
             t=$(submit --array=0-{last} --time={t1} --job-name=mgs-tuning \"$here/study.sbatch\" tuning)\n\
             r=$(submit --array=0-{last} --time={t2} --job-name=mgs-refinement --dependency=afterok:$t \"$here/study.sbatch\" refinement)\n\
             p=$(submit --array=0-{last} --time={t3} --job-name=mgs-report --dependency=afterok:$r \"$here/study.sbatch\" report)\n\
             m=$(submit --time={tm} --dependency=afterok:$p \"$here/merge.sbatch\")\n\
             echo \"submitted: tuning $t, refinement $r, report $p, merge $m\"\n",
            n = self.tasks,
        )
    }

    /// Writes `study.sbatch`, `merge.sbatch` and `submit.sh` into `<out>/slurm/`.
    pub fn write(&self) -> Result<Vec<PathBuf>, String> {
        let dir = self.out.join("slurm");
        let err = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
        std::fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        let mut files = Vec::new();
        for (name, text) in [
            ("study.sbatch", self.task_script()),
            ("merge.sbatch", self.merge_script()),
            ("submit.sh", self.submit_script()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| err(&path, e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| err(&path, e))?;
            }
            files.push(path);
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_the_plan_the_shards_and_the_dependencies() {
        let args = vec![
            "--quick".to_string(),
            "--seeds".to_string(),
            "3".to_string(),
        ];
        let job = SlurmJob {
            binary: Path::new("/opt/it's/study"),
            plan_args: &args,
            out: Path::new("/scratch/run"),
            cpus: 4,
            tasks: 3,
            minutes: [11, 12, 13, 14],
        };
        let task = job.task_script();
        assert!(task.starts_with("#!/bin/bash\n"));
        assert!(task.contains("#SBATCH --cpus-per-task=4\n"));
        assert!(task.contains("#SBATCH --output=/scratch/run/logs/%x-%A_%a.out"));
        assert!(
            task.contains(
                r"exec '/opt/it'\''s/study' '--quick' '--seeds' '3' --out '/scratch/run'"
            )
        );
        assert!(task.contains("--shard \"${SLURM_ARRAY_TASK_ID}/3\" --phase \"$1\""));
        let submit = job.submit_script();
        assert!(submit.contains("--array=0-2 --time=11 --job-name=mgs-tuning"));
        assert!(submit.contains("--time=13 --job-name=mgs-report --dependency=afterok:$r"));
        assert!(submit.contains("--time=14 --dependency=afterok:$p \"$here/merge.sbatch\""));
        assert!(job.merge_script().contains("--merge '/scratch/run'\n"));
    }

    #[test]
    fn time_limits_are_three_times_the_estimate_plus_ten_minutes() {
        assert_eq!(minutes(0.0, 1), 10);
        assert_eq!(minutes(600.0, 1), 40);
        assert_eq!(minutes(600.0, 2), 25);
        assert_eq!(minutes(1.0, 1), 11);
    }
}
