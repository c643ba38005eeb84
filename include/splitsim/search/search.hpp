// Strategy search: every valid split of a model over a cluster, ranked by the analytical tier,
// the best re-simulated by the event tier, and the Pareto front of time, memory and GPUs.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "splitsim/common/precision.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::search {

enum class Objective {
    time,  // iteration time
    cost,  // GPU-seconds per token: iteration time x GPUs / tokens
};

struct Options {
    int global_batch = 0;
    std::vector<int> gpus;           // GPU counts to consider; empty: the cluster's
    std::optional<Bytes> max_memory; // per GPU; default the device's memory
    Objective objective = Objective::time;
    int rerank = 50;                 // candidates re-simulated by the event tier
    int threads = 1;
    Precision precision = Precision::bf16;
    // Called now and then with (candidates evaluated, candidates in all), from one thread.
    std::function<void(std::size_t, std::size_t)> progress;
};

struct Candidate {
    plan::Plan plan;
    Seconds analytical_time;
    std::optional<Seconds> event_time;  // for the re-simulated candidates
    Bytes peak_memory;
    double mfu = 0;
    double tokens_per_s = 0;
    [[nodiscard]] Seconds time() const { return event_time.value_or(analytical_time); }
};

struct Result {
    std::size_t enumerated = 0;             // candidates in the space
    std::vector<Candidate> ranked;          // those that fit, best first
    std::vector<std::size_t> pareto;        // indices into ranked: not dominated in (time, memory, GPUs)
    double analytical_seconds = 0;          // wall time of the analytical tier over all candidates
    double event_seconds = 0;               // wall time of the event-tier re-ranking
    std::size_t simulated = 0;              // candidates the event tier re-simulated
    int threads = 1;
};

// Every valid plan for `gpus` devices: tp, pp, cp, dp, ep, vpp, micro-batch, schedule, ZeRO stage,
// recomputation, sequence parallelism, fused attention and, where data and pipeline parallelism
// both exist, whether pipeline stages or data-parallel replicas lie closer together. Gradient
// reduction overlaps the backward pass and parameter gathering the forward pass in every candidate
// (never slower in either tier).
std::vector<plan::Plan> enumerate(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, int gpus,
                                  int global_batch, Precision precision);

// Throws InputError for GPU counts the cluster cannot hold.
Result run(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const Options& options);

}  // namespace splitsim::search
