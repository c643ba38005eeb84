// Memory of one rank as its framework allocates it: model states (ZeRO, Rajbhandari et al. 2020,
// arXiv 1910.02054, with each framework's optimizer conventions), activations (Korthikanti et al.
// 2022, arXiv 2205.05198, with each framework's saved tensors), the temporary tensors of the
// backward pass and of the loss, ZeRO-3 / FSDP gather and reduce buffers, and the memory PyTorch's
// caching allocator reserves for all of it; beside it the CUDA context and the communication
// library's buffers, which the allocator does not see. One model for both tiers and for the
// harness's predicted-against-measured memory.
#pragma once

#include <string_view>
#include <vector>

#include "splitsim/common/precision.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/plan/framework.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::cost {

struct MemoryBreakdown {
    Bytes weights;      // parameters: 16-bit copies, fp32 shards, gathered ZeRO-3 / FSDP units, fp8 caches
    Bytes gradients;    // main gradients, and unsharded gradients awaiting their reduction
    Bytes optimizer;    // fp32 master weights, Adam moments, fp32 copies of 16-bit gradients
    // Tensors kept for the backward pass, a layer being recomputed, and the temporaries of the peak
    // moment: the gradients of activations during a backward pass, or the loss's copies of the logits.
    Bytes activations;
    Bytes temporary;  // of `activations`, the temporaries
    Bytes other;      // buffers: GEMM workspace, pipeline send/receive, gradient buckets, reduce-scatter inputs
    [[nodiscard]] Bytes total() const { return weights + gradients + optimizer + activations + other; }
};

struct StageMemory {
    int stage = 0;
    int in_flight = 0;  // micro-batches (model chunks, interleaved) whose activations the stage holds at its peak
    MemoryBreakdown bytes;  // allocated at the stage's peak (what torch.cuda.max_memory_allocated reports)
    Bytes reserved;         // what the caching allocator has reserved by then (torch.cuda.max_memory_reserved)
    std::string_view peak_at;  // "backward" (a layer's backward pass) or "loss" (the cross-entropy of the last stage)
    // For a timeline: bytes held through the whole step (model states, buffers), and what one
    // micro-batch's forward pass through each model chunk keeps until its backward pass (the
    // embedding's on the first chunk of the first stage, the head's on the last chunk of the last).
    Bytes resident;
    std::vector<Bytes> chunk_activations;
};

struct MemoryEstimate {
    std::vector<StageMemory> stages;
    Bytes peak;  // allocated, the largest stage's
    int peak_stage = 0;
    Bytes reserved;  // reserved by the caching allocator, the largest stage's
    int reserved_stage = 0;
    Bytes context;        // the CUDA context (the device's context_memory)
    Bytes communication;  // the communication library's buffers of every group a rank belongs to
    Bytes capacity;
    // What a rank needs of the device: reserved memory, context and communication buffers.
    [[nodiscard]] Bytes required() const { return reserved + context + communication; }
    [[nodiscard]] bool fits() const { return required() <= capacity; }
};

// Bytes per parameter of mixed-precision Adam, split as ZeRO Table 1 splits them: 16-bit
// weights (2), gradients (2, or 4 for fp32 main gradients) and K = 12 bytes of optimizer state
// (fp32 master weights, momentum and variance), plus the framework's fp32 copy of 16-bit gradients
// (Megatron: 4, so 20 bytes with fp16 gradients). fp32 training keeps weights (4), gradients (4)
// and momentum and variance (8). ZeRO stage z shards the optimizer (z >= 1), the gradients (z >= 2)
// and the weights (z = 3) over `shard_ways` data-parallel ranks; under FSDP's fp32 sharded
// parameters the master weights are the weights (4 + grad + 8 bytes, all sharded).
MemoryBreakdown model_states(double parameters, int shard_ways, int zero, Precision precision, Precision grad_precision,
                             const plan::FrameworkMemory& framework = plan::framework_memory(std::nullopt));

// Model chunks of one micro-batch whose activations stage `stage` holds at its peak:
//   GPipe: all m micro-batches; 1F1B and ZB-H1: min(p - stage, m) (Narayanan et al. 2021, Sec. 2.2.1;
//   Qi et al. 2023 give ZB-H1 the memory of 1F1B); interleaved: Megatron-LM's warm-up count plus one,
//   min(2 (p - stage - 1) + (v - 1) p + 1, m v) chunks of L/(p v) layers, which for stage 0 is
//   Korthikanti's factor (1 + (p - 1)/(p v)) on L layers.
int in_flight_chunks(plan::Schedule schedule, int pp, int vpp, int stage, int micro_batches);

// How many micro-batches stage `stage` holds in its first and in its last model chunk at the moment
// it holds the most, when chunk activations are `chunk`, plus `first_extra` on the first chunk and
// `last_extra` on the last. Interleaved, Megatron-LM's order played out: the last stage's warm-up
// forwards cover chunks 0 .. v - 2, and each forward of its last chunk runs just before that
// micro-batch's backward, so its last chunk (the output layer's) holds one micro-batch, not min(p, m).
struct ChunkHeld {
    int first = 0;
    int last = 0;
};
ChunkHeld held_at_peak(plan::Schedule schedule, int pp, int vpp, int stage, int micro_batches, Bytes chunk,
                       Bytes first_extra, Bytes last_extra);

MemoryEstimate estimate_memory(const plan::Plan& plan, const model::ModelSpec& model, const plan::Partition& part,
                               const hardware::ClusterSpec& cluster);

}  // namespace splitsim::cost
