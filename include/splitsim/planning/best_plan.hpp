// The planning stage's unit of work: the best plan for a workload on a cluster (by the search), or
// one given plan, evaluated once more for its full prediction. The planning commands (estimate,
// sensitivity, requirements) compose these; none of them owns a cost formula.
#pragma once

#include <optional>

#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/search/search.hpp"
#include "splitsim/sim/prediction.hpp"

namespace splitsim::planning {

// One plan on one cluster, predicted by the event tier where it can play the iteration out
// (sim::kMaxEventWork), else by the analytical tier.
struct Evaluated {
    plan::Plan plan;
    sim::Prediction prediction;

    [[nodiscard]] Seconds iteration_time() const { return prediction.iteration_time; }
    [[nodiscard]] int gpus() const { return plan.gpus(); }
    // Tensor, context, expert, data and pipeline communication left on the critical path, over the
    // iteration time.
    [[nodiscard]] double exposed_comm_share() const;
};

// The plan validated against the model and cluster (InputError naming the plan's file), then
// predicted.
Evaluated evaluate(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, plan::Plan plan);

// The cluster cut down to `gpus` devices: whole nodes, or one node holding `gpus` devices where
// fewer than a node's are asked for (its node fabric as before, no network). A torus or explicit
// graph keeps its size. Throws InputError for counts it cannot hold.
hardware::ClusterSpec with_gpus(const hardware::ClusterSpec& cluster, int gpus);

// The GPU counts with_gpus can build up to `max_gpus`: the powers of two below one node, then
// every whole number of nodes.
std::vector<int> gpu_counts(const hardware::ClusterSpec& cluster, int max_gpus);

// The best plan of a search on exactly `gpus` devices (options.gpus is replaced), evaluated again
// by evaluate(); nothing when no candidate fits.
std::optional<Evaluated> best_plan(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, int gpus,
                                   search::Options options);

}  // namespace splitsim::planning
