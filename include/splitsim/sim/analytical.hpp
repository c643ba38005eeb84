// The analytical tier: closed forms for per-stage compute, pipeline bubble, exposed communication
// and memory, cheap enough to rank thousands of plans per second. The event tier (engine.hpp) plays
// the same costs out as events.
#pragma once

#include "splitsim/sim/prediction.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::sim {

Prediction predict_analytical(const Scenario& scenario);

// Per micro-batch times of every stage; shared by both tiers.
std::vector<StageTime> stage_times(const Scenario& scenario);

}  // namespace splitsim::sim
