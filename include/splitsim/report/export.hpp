// A plan as the launch arguments or configuration of the frameworks people train with:
// Megatron-LM command-line arguments, a DeepSpeed configuration (with Megatron-DeepSpeed's
// parallelism arguments), a torchtitan TOML job configuration. A plan a framework cannot run is an
// input error naming the plan key (plan::require_runs_on).
#pragma once

#include <string>

#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::report {

// The plan must have been validated against the model (and dp known).
std::string export_plan(const plan::Plan& plan, const model::ModelSpec& model, plan::Framework framework);

}  // namespace splitsim::report
