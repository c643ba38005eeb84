// What a simulation predicts for one training iteration of a plan.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "splitsim/common/units.hpp"
#include "splitsim/cost/memory.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::sim {

template <class T>
using PerDim = std::array<T, plan::kDimCount>;  // indexed by plan::Dim

// Per micro-batch times of one pipeline stage.
struct StageTime {
    int stage = 0;
    Seconds forward;          // compute of one micro-batch's forward pass
    Seconds backward;         // compute of its backward pass, recomputation included
    Seconds weight_grad;      // the weight-gradient part of backward (zero-bubble schedules)
    Seconds exposed_comm;     // tensor, context, expert and pipeline communication on the critical path
    Seconds data_parallel;    // gradient reduction and parameter gathering left exposed after the pipeline
    Seconds optimizer;        // the optimizer step
    [[nodiscard]] Seconds per_micro_batch() const { return forward + backward + exposed_comm; }
};

// Traffic a link carried over the iteration.
struct LinkLoad {
    std::size_t link = 0;  // index into the topology's links
    Bytes bytes;
    double utilization = 0;  // bytes / (bandwidth x iteration time)
};

enum class Tier { analytical, event };

// How one simulated rank (a pipeline stage; with per-rank simulation, replica x stages + stage)
// spent the iteration, from the event tier's timeline. Its compute stream computes (optimizer
// step included), waits while communication of some dimension is in flight (shared equally when
// several are), or waits with none in flight: the bubble (pipeline fill and drain, other stages).
// compute + the waits + bubble = 1. The critical rank's shares are the time breakdown's.
struct RankUtilization {
    int rank = 0;
    double compute = 0;
    PerDim<double> waiting{};
    double bubble = 0;
    // Share of the iteration each dimension's communication streams are busy, overlapped or not
    // (data: gradient reduction and parameter gathers together).
    PerDim<double> comm_busy{};
};

struct Prediction {
    Tier tier = Tier::analytical;
    Seconds iteration_time;
    double tokens_per_s = 0;
    Flops model_flops;     // per iteration, all GPUs (Korthikanti Eq. 7: no recomputation)
    Flops hardware_flops;  // per iteration, all GPUs, recomputation included
    double model_tflops_per_gpu = 0;
    double mfu = 0;
    double hfu = 0;
    // Time on the critical stage, split so the parts add up to the iteration time.
    Seconds compute;
    PerDim<Seconds> exposed_comm{};
    Seconds bubble;
    Seconds optimizer;
    // `bubble` over the ideal: the critical stage's m micro-batches without pipeline fill and
    // drain, i.e. its compute and exposed tensor, context, expert and pipeline communication (every
    // part of the breakdown but the bubble, data-parallel communication and the optimizer step).
    // (p - 1)/m for uniform 1F1B stages (Narayanan et al. 2021, Sec. 2.2.1); 0 for a single stage.
    double bubble_fraction = 0;
    PerDim<Bytes> comm_bytes{};  // bytes one GPU sends per iteration, per dimension (worst stage)
    std::vector<StageTime> stages;
    cost::MemoryEstimate memory;
    std::vector<LinkLoad> links;   // event tier: the busiest links, most utilized first
    std::vector<RankUtilization> utilization;  // event tier: every simulated rank
    std::uint64_t events = 0;      // event tier: events processed
    std::size_t tasks = 0;         // event tier: tasks simulated
};

}  // namespace splitsim::sim
