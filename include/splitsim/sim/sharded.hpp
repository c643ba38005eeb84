// Sharded data parallelism (ZeRO-3, FSDP) as both tiers play it: the units a layer's parameters are
// gathered in (plan::ShardedParameters, the framework's), how far ahead they are gathered, and what
// one gather or reduce-scatter costs. The analytical tier plays one micro-batch of a stage on two
// streams with the rule below; the event tier emits the same tasks with the same dependencies.
//
// Rule: the all-gather of unit u is issued when unit u - d starts computing (d the prefetch depth;
// d = 0: when unit u - 1 finishes), after the previous all-gather (one gather stream); unit u
// computes once its gather and the previous compute are done. Gradients are reduce-scattered on
// their own stream after the backward of their unit, in buckets where the framework fills them.
#pragma once

#include <vector>

#include "splitsim/common/units.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/plan/framework.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::sim {

// A unit gathered before op `position` of a layer, holding `parameters` of its ops [position, end).
struct ShardUnit {
    int position = 0;
    int end = 0;
    double parameters = 0;
};

// The units of one layer's ops: one per layer, or one per op with parameters above the persistence
// threshold. Empty without ZeRO-3 or without sharded parameters.
std::vector<ShardUnit> shard_units(const plan::Plan& plan, const std::vector<model::Op>& ops);

// Units gathered ahead of the one computing, for units of `unit_parameters` at most.
int prefetch_depth(const plan::ShardedParameters& s, double unit_parameters);

// What the framework's collectives cost beyond the transfer: a tensor-list collective copies each
// rank's chunk with its own kernel.
Seconds sharded_overhead(const Scenario& sc);

// Bytes per parameter of the gathered weights and of the reduced gradients.
double gathered_bytes_per_parameter(const plan::Plan& plan);

}  // namespace splitsim::sim
