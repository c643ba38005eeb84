// The task graph of one training iteration of a scenario, for the event tier: every pipeline
// stage's program (schedule.hpp) expanded into compute segments and collectives per layer, the
// pipeline sends between stages, gradient reduction in buckets, the optimizer step and the
// parameter gathers. Identical data-, context- and tensor-parallel ranks are simulated once per
// stage; their traffic still loads the links (each transfer carries the links' load of all of them).
#pragma once

#include <vector>

#include "splitsim/sim/scenario.hpp"
#include "splitsim/sim/task_graph.hpp"

namespace splitsim::sim {

// Simulated rank r is pipeline stage r; with `per_rank`, every data-parallel replica is simulated
// on its own (rank = replica x pp + stage), with its own groups' links, for placements where
// replicas differ; data-parallel collectives then wait for every replica. Per-rank simulation does
// not cover expert parallelism or ZeRO-3 (InputError).
TaskGraph build_iteration(const Scenario& scenario, bool per_rank = false);

// Bytes per second of every link of the scenario's topology.
std::vector<double> link_capacities(const Scenario& scenario);

}  // namespace splitsim::sim
