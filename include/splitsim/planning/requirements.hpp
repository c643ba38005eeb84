// splitsim requirements: the least resources that reach a target iteration time, throughput, or
// days for a number of tokens. The fewest GPUs by bisection over GPU counts (each a search); on
// those, the least device memory a plan that reaches the target needs; and for the best plan there,
// the NVLink and NIC bandwidth below which exposed communication passes a stated share of the
// iteration (bisection over the cluster's bandwidth).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "splitsim/planning/best_plan.hpp"
#include "splitsim/planning/variation.hpp"

namespace splitsim::planning {

enum class TargetKind { iteration_time, tokens_per_s, days };

struct Target {
    TargetKind kind = TargetKind::iteration_time;
    double value = 0;   // seconds, tokens per second, or days
    double tokens = 0;  // days only: the tokens to train in them
};

// The iteration time a target asks for, at a global batch and sequence length.
Seconds target_time(const Target& target, int global_batch, int seq_len);
std::string describe(const Target& target);

struct BandwidthNeed {
    Knob knob = Knob::nic_bandwidth;     // nvlink_bandwidth or nic_bandwidth
    bool applies = true;                 // false: the cluster has no such link (a single node has no NIC)
    Bandwidth current;                   // per GPU (NVLink) or per NIC, as the cluster has it
    double share_at_current = 0;         // exposed communication / iteration time on the cluster as it is
    // The bandwidth at which exposed communication is the stated share; below it, more. Nothing
    // where the share is not crossed between kMinFactor and kMaxFactor times the current bandwidth;
    // then `above_range` says whether it stays above the share at kMaxFactor (else it stays below at kMinFactor).
    std::optional<Bandwidth> threshold;
    bool above_range = false;
};

struct RequirementsOptions {
    Target target;
    search::Options search;     // global batch, precision, framework, threads
    int max_gpus = 0;           // 0: the cluster's; more grows the cluster by nodes
    double comm_share = 0.1;    // the exposed-communication share the bandwidth thresholds are for
};

struct Requirements {
    Target target;
    Seconds target_time;
    bool reachable = false;
    int max_gpus = 0;
    // The GPU counts searched, in the order the bisection took them, with their best time (nothing
    // where no plan fits).
    std::vector<std::pair<int, std::optional<Seconds>>> probes;
    // The best plan on the fewest GPUs that reach the target; unreachable: the best on max_gpus
    // (nothing where no plan fits even there).
    std::optional<Evaluated> best;
    // The least device memory (what the plan requires of it, reserved and outside the allocator)
    // of a plan on the same GPUs that reaches the target, and that plan.
    std::optional<Evaluated> least_memory;
    std::vector<BandwidthNeed> bandwidth;
};

// Throws InputError for targets that are not positive and for a comm_share outside (0, 1).
Requirements requirements(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const RequirementsOptions& options);

}  // namespace splitsim::planning
