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
#include "splitsim/sim/prediction.hpp"

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
    // Only plans this framework runs (plan::refusal), each naming it; none: every plan splitsim
    // models, run as Megatron-LM runs it.
    std::optional<plan::Framework> framework;
    // Only the candidates it admits (none: every candidate), e.g. pure data parallelism.
    std::function<bool(const plan::Plan&)> admit;
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
    // The tier whose estimate ranks the candidate: the event tier's where it re-simulated it.
    [[nodiscard]] sim::Tier tier() const { return event_time ? sim::Tier::event : sim::Tier::analytical; }
};

struct Result {
    std::size_t enumerated = 0;             // candidates in the space
    // Those that fit, best first: the candidates the event tier re-simulated, by their event-tier
    // estimate, then the rest by their analytical estimate. Where the tiers disagree the event
    // tier's estimate ranks; the two are never mixed in one comparison.
    std::vector<Candidate> ranked;
    Bytes capacity;                         // memory per GPU a candidate may use
    Bytes least_memory;                     // the smallest peak of any candidate, fitting or not
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
// With a framework, only the plans it runs, each naming it (plan::adopt, plan::refusal).
std::vector<plan::Plan> enumerate(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, int gpus,
                                  int global_batch, Precision precision, std::optional<plan::Framework> framework = std::nullopt);

// Throws InputError for GPU counts the cluster cannot hold.
Result run(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const Options& options);

}  // namespace splitsim::search
