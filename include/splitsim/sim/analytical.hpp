// The analytical tier: closed forms for per-stage compute, pipeline bubble, exposed communication
// and memory, cheap enough to rank thousands of plans per second. The event tier (engine.hpp) plays
// the same costs out as events.
#pragma once

#include "splitsim/sim/block_cost.hpp"
#include "splitsim/sim/prediction.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::sim {

Prediction predict_analytical(const Scenario& scenario);

// Per micro-batch times of every stage; shared by both tiers.
std::vector<StageTime> stage_times(const Scenario& scenario);

// Costs of one transformer layer (dense and MoE), the embedding and the head for one micro-batch on
// one rank: the operators' times, recomputation included, and the exposed communication per pass.
BlockCosts block_costs(const Scenario& scenario);

}  // namespace splitsim::sim
