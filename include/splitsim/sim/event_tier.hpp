// The event tier: the iteration's task graph played out by the engine, with overlap of
// communication and compute, pipeline schedule dependencies and link contention.
#pragma once

#include <cstdint>

#include "splitsim/sim/engine.hpp"
#include "splitsim/sim/prediction.hpp"
#include "splitsim/sim/scenario.hpp"
#include "splitsim/sim/task_graph.hpp"

namespace splitsim::sim {

struct EventRun {
    TaskGraph graph{0};
    EngineResult result;
};

// The event tier plays out every layer of every micro-batch, so its time and memory grow with
// micro-batches x layers (x data-parallel replicas when each rank is simulated; about 1 GiB per 2^18 of them). It refuses plans above kMaxEventWork,
// which the analytical tier still predicts.
inline constexpr std::int64_t kMaxEventWork = std::int64_t{1} << 20;
[[nodiscard]] std::int64_t event_work(const Scenario& scenario, bool per_rank = false);

// Predicts with the event tier. Throws InputError for plans above kMaxEventWork and for
// iterations whose simulated time leaves the engine's range (TimeRangeError). Quantities that do not depend on the timeline (FLOPs, memory,
// bytes per dimension) are those of the analytical tier. Pass `run` to keep the timeline.
// With `per_rank`, every data-parallel replica is simulated on its own (iteration.hpp).
Prediction predict_events(const Scenario& scenario, EventRun* run = nullptr, bool per_rank = false);

}  // namespace splitsim::sim
