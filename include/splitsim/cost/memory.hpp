// Memory of one rank: model states (ZeRO, Rajbhandari et al. 2020, arXiv 1910.02054), activations
// (Korthikanti et al. 2022, arXiv 2205.05198) and buffers, per pipeline stage.
#pragma once

#include <vector>

#include "splitsim/common/precision.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/device.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::cost {

struct MemoryBreakdown {
    Bytes weights;
    Bytes gradients;
    Bytes optimizer;
    Bytes activations;
    Bytes other;  // GEMM workspace, pipeline and gather buffers
    [[nodiscard]] Bytes total() const { return weights + gradients + optimizer + activations + other; }
};

struct StageMemory {
    int stage = 0;
    int in_flight = 0;  // micro-batches (model chunks, interleaved) whose activations the stage holds at its peak
    MemoryBreakdown bytes;
};

struct MemoryEstimate {
    std::vector<StageMemory> stages;
    Bytes peak;
    int peak_stage = 0;
    Bytes capacity;
    [[nodiscard]] bool fits() const { return peak <= capacity; }
};

// Bytes per parameter of mixed-precision Adam, split as ZeRO Table 1 splits them: 16-bit
// weights (2), gradients (2, or 4 for fp32 main gradients) and K = 12 bytes of optimizer state
// (fp32 master weights, momentum and variance). fp32 training keeps weights (4), gradients (4) and
// momentum and variance (8). ZeRO stage z shards the optimizer (z >= 1), the gradients (z >= 2)
// and the weights (z = 3) over `shard_ways` data-parallel ranks.
MemoryBreakdown model_states(double parameters, int shard_ways, int zero, Precision precision, Precision grad_precision);

// Model chunks of one micro-batch whose activations stage `stage` holds at its peak:
//   GPipe: all m micro-batches; 1F1B and ZB-H1: min(p - stage, m) (Narayanan et al. 2021, Sec. 2.2.1;
//   Qi et al. 2023 give ZB-H1 the memory of 1F1B); interleaved: Megatron-LM's warm-up count plus one,
//   min(2 (p - stage - 1) + (v - 1) p + 1, m v) chunks of L/(p v) layers, which for stage 0 is
//   Korthikanti's factor (1 + (p - 1)/(p v)) on L layers.
int in_flight_chunks(plan::Schedule schedule, int pp, int vpp, int stage, int micro_batches);

MemoryEstimate estimate_memory(const plan::Plan& plan, const model::ModelSpec& model, const plan::Partition& part,
                               const hardware::DeviceSpec& device);

}  // namespace splitsim::cost
