//! The three stages of a study, each planned from the records of the stages before it.
//!
//! A stage is the unit that a cluster runs as one job array (`docs/cluster.md`): its plan is a
//! function of the scale and the earlier stages' records only, so every process that holds
//! those records computes the same plan, with the same run ids, seeds and costs.
//!
//! | stage        | plan's phases        | needs the records of   |
//! |--------------|----------------------|------------------------|
//! | `tuning`     | tuning, mechanism    | nothing (fixed first)  |
//! | `refinement` | refinement           | tuning                 |
//! | `report`     | report               | tuning and refinement  |

use crate::plan::{Planner, RunSpec, Scale, phase_one};
use crate::record::RunRecord;
use crate::tuning;

/// A stage of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Phase 1: the tuning grid and claim 2's runs.
    Tuning,
    /// The grid values added next to an edge or a collapse.
    Refinement,
    /// The chosen hyperparameters on the report seeds.
    Report,
}

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 3] = [Stage::Tuning, Stage::Refinement, Stage::Report];

    /// The name used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Tuning => "tuning",
            Stage::Refinement => "refinement",
            Stage::Report => "report",
        }
    }

    /// What the progress lines and `timing.json` call it.
    pub fn title(self) -> &'static str {
        match self {
            Stage::Tuning => "phase 1 (tuning, claim 2)",
            Stage::Refinement => "refinement",
            Stage::Report => "report",
        }
    }

    /// The stage named `name`.
    pub fn parse(name: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| format!("--phase: expected tuning, refinement or report, not {name:?}"))
    }

    /// The stages before this one.
    pub fn before(self) -> &'static [Stage] {
        let i = Stage::ALL.iter().position(|&s| s == self).unwrap_or(0);
        &Stage::ALL[..i]
    }

    /// This stage's plan, given `prior`: the records of every earlier stage, in plan order.
    /// Run ids continue from the earlier stages' (they hold `prior.len()` runs).
    pub fn plan(self, scale: &Scale, prior: &[RunRecord]) -> Vec<RunSpec> {
        let mut planner = Planner::new(scale, prior.len());
        match self {
            Stage::Tuning => phase_one(scale, &mut planner),
            Stage::Refinement => {
                let first = tuning::choose(prior, scale);
                tuning::refinement_plan(&first, prior, scale, &mut planner)
            }
            Stage::Report => {
                let choices = tuning::choose(prior, scale);
                tuning::report_plan(&tuning::chosen_cells(&choices), scale, &mut planner)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_order_the_dependencies() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.name()), Ok(s));
        }
        assert!(Stage::parse("phase1").is_err());
        assert_eq!(Stage::Tuning.before(), &[] as &[Stage]);
        assert_eq!(Stage::Report.before(), &[Stage::Tuning, Stage::Refinement]);
    }

    #[test]
    fn the_first_stage_is_the_fixed_phase_one() {
        let scale = Scale::new("quick").unwrap();
        let plan = Stage::Tuning.plan(&scale, &[]);
        let mut planner = Planner::new(&scale, 0);
        assert_eq!(plan, phase_one(&scale, &mut planner));
    }
}
