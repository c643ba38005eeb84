// The event tier: the iteration's task graph played out by the engine, with overlap of
// communication and compute, pipeline schedule dependencies and link contention.
#pragma once

#include "splitsim/sim/engine.hpp"
#include "splitsim/sim/prediction.hpp"
#include "splitsim/sim/scenario.hpp"
#include "splitsim/sim/task_graph.hpp"

namespace splitsim::sim {

struct EventRun {
    TaskGraph graph{0};
    EngineResult result;
};

// Predicts with the event tier. Quantities that do not depend on the timeline (FLOPs, memory,
// bytes per dimension) are those of the analytical tier. Pass `run` to keep the timeline.
// With `per_rank`, every data-parallel replica is simulated on its own (iteration.hpp).
Prediction predict_events(const Scenario& scenario, EventRun* run = nullptr, bool per_rank = false);

}  // namespace splitsim::sim
