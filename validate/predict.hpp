// The simulator's prediction for a plan the harness executes (built with -Dsimulator=true only):
// the quantities execute compares with what it measured. Private to the harness.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::validate {

struct Predicted {
    double iteration_s = 0;             // event tier
    double analytical_iteration_s = 0;  // analytical tier
    int critical_stage = 0;             // the stage with the longest micro-batch (forward, backward, exposed communication)
    std::vector<double> forward_s;      // per stage, all micro-batches
    std::vector<double> backward_s;     // per stage, all micro-batches, recomputation included
    // The event tier's breakdown of each stage's rank: optimizer step, exposed tensor-parallel,
    // data-parallel and pipeline communication, and the pipeline bubble.
    struct Breakdown {
        double optimizer_s = 0;
        double tensor_s = 0;
        double data_s = 0;
        double pipeline_s = 0;
        double bubble_s = 0;
    };
    std::vector<Breakdown> stage_breakdown;
    double peak_memory_bytes = 0;
    // Per stage, at its peak: weights, gradients, optimizer states, and activations with temporaries and buffers.
    std::vector<std::array<double, 4>> stage_memory;
    nlohmann::json json;                // all of the above, the cluster and the per-stage times
};

// Predicts one iteration of `plan` (validated, with dp) for `model` on the cluster file. A cluster
// with more devices than the plan has ranks is cut to the plan's ranks (fewer nodes, or one node of
// fewer GPUs). Throws InputError for a bad cluster or a plan that does not fit it.
Predicted predict(const model::ModelSpec& model, plan::Plan plan, const std::string& cluster_path);

}  // namespace splitsim::validate
