#include "splitsim/cost/memory.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "splitsim/cost/allocator.hpp"

namespace splitsim::cost {

using model::Recompute;
using plan::FrameworkMemory;
using plan::Schedule;

MemoryBreakdown model_states(double parameters, int shard_ways, int zero, Precision precision,
                             Precision grad_precision, const FrameworkMemory& framework) {
    const bool full_precision = element_bytes(precision) >= 4;
    const double grad_bytes = element_bytes(grad_precision);
    const double n = shard_ways;
    MemoryBreakdown m;
    if (zero >= 3 && framework.fp32_sharded_parameters) {
        // The fp32 shards are the master weights; Adam's two moments beside them.
        m.weights = Bytes(parameters * 4.0 / n);
        m.gradients = Bytes(parameters * std::max(grad_bytes, 4.0) / n);
        m.optimizer = Bytes(parameters * 8.0 / n);
        return m;
    }
    // fp8 training keeps 16-bit parameters (the fp8 copies are casts, or the framework's caches).
    const double weight_bytes = full_precision ? 4.0 : 2.0;
    double optimizer_bytes = full_precision ? 8.0 : 12.0;
    if (!full_precision && grad_bytes < 4.0) optimizer_bytes += framework.fp32_copy_of_16bit_grads;
    m.weights = Bytes(parameters * weight_bytes / (zero >= 3 ? n : 1.0));
    m.gradients = Bytes(parameters * grad_bytes / (zero >= 2 ? n : 1.0));
    m.optimizer = Bytes(parameters * optimizer_bytes / (zero >= 1 ? n : 1.0));
    return m;
}

int in_flight_chunks(Schedule schedule, int pp, int vpp, int stage, int micro_batches) {
    switch (schedule) {
        case Schedule::gpipe: return micro_batches;
        case Schedule::one_f_one_b:
        case Schedule::zb_h1: return std::min(pp - stage, micro_batches);
        case Schedule::interleaved:
            return std::min(2 * (pp - stage - 1) + (vpp - 1) * pp + 1, micro_batches * vpp);
    }
    return micro_batches;
}

ChunkHeld held_at_peak(Schedule schedule, int pp, int vpp, int stage, int micro_batches, Bytes chunk, Bytes first_extra,
                       Bytes last_extra) {
    if (schedule != Schedule::interleaved) {
        const int n = in_flight_chunks(schedule, pp, vpp, stage, micro_batches);
        return {n, n};
    }
    // Megatron-LM's interleaved order (core/pipeline_parallel/schedules.py, core_v0.12.0): virtual
    // micro-batch k runs forward in chunk (k mod p v) / p, backward in chunk v - 1 - (k mod p v) / p;
    // warm-up forwards, then one forward and one backward in turn. Bytes held are largest right
    // after a forward; the moment with the most bytes decides.
    const int total = micro_batches * vpp;
    const int warmup = std::min(2 * (pp - stage - 1) + (vpp - 1) * pp, total);
    auto chunk_of = [&](int k, bool forward) {
        const int c = (k % (pp * vpp)) / pp;
        return forward ? c : vpp - 1 - c;
    };
    int held = 0, first = 0, last = 0;
    ChunkHeld best;
    Bytes most(-1);
    auto forward = [&](int k) {
        const int c = chunk_of(k, true);
        ++held;
        if (c == 0) ++first;
        if (c == vpp - 1) ++last;
        const Bytes bytes = chunk * static_cast<double>(held) + first_extra * static_cast<double>(first) +
                            last_extra * static_cast<double>(last);
        if (bytes > most) {
            most = bytes;
            best = {first, last};
        }
    };
    auto backward = [&](int k) {
        const int c = chunk_of(k, false);
        --held;
        if (c == 0) --first;
        if (c == vpp - 1) --last;
    };
    for (int k = 0; k < warmup; ++k) forward(k);
    // The steady state repeats every p v steps (forward k and backward k - warmup advance together
    // through the same chunk pattern), so one period holds its largest moment.
    const int steady = std::min(total - warmup, pp * vpp);
    for (int i = 0; i < steady; ++i) {
        forward(warmup + i);
        backward(i);
    }
    return best;
}

namespace {

Bytes saved_by(const model::OpTotals& t, Recompute recompute, Bytes layer_input) {
    switch (recompute) {
        case Recompute::none: return t.saved;
        case Recompute::selective: return t.saved_selective;
        case Recompute::full: return layer_input;
    }
    return t.saved;
}

// What recomputation brings back for the layer whose backward pass runs.
Bytes recomputed(const model::Op& op, Recompute recompute) {
    switch (recompute) {
        case Recompute::none: return Bytes(0);
        case Recompute::selective: return op.saved - op.saved_selective;
        case Recompute::full: return op.saved;
    }
    return Bytes(0);
}

// Memory the caching allocator reserves for `count` live tensors of `size` bytes each that are
// allocated and freed alike (parameters, each layer's saved tensors): identical blocks reuse each
// other's space, so only the rounding to blocks and segments costs (CachingAllocator's rules).
Bytes reserved_for(Bytes size, double count) {
    if (size.value() <= 0 || count <= 0) return Bytes(0);
    const double block = CachingAllocator::block_size(size.value());
    const double segment = CachingAllocator::segment_size(block);
    if (segment >= block * 2.0) {
        // Small requests share 2 MiB segments, medium ones 20 MiB segments.
        return Bytes(std::ceil(count * block / segment) * segment);
    }
    return Bytes(count * segment);
}

// One layer's backward pass as the allocator sees it: the recomputed tensors, then the gradient
// of each op's output in turn (the gradient of its input allocated before that of its output is
// released), then the recomputed tensors released.
void replay_layer_backward(CachingAllocator& a, const std::vector<model::Op>& ops, Recompute recompute) {
    std::vector<CachingAllocator::Handle> again;
    for (const model::Op& op : ops) {
        if (const Bytes b = recomputed(op, recompute); b.value() > 0) again.push_back(a.allocate(b));
    }
    if (!ops.empty()) {
        CachingAllocator::Handle grad = a.allocate(ops.back().output);
        for (std::size_t i = ops.size() - 1; i > 0; --i) {
            const CachingAllocator::Handle input = a.allocate(ops[i - 1].output);
            a.free(grad);
            grad = input;
        }
        a.free(grad);
    }
    for (auto h : again) a.free(h);
}

// The loss as the allocator sees it: the framework's allocations and frees for `logits` logits
// (with `keep_logits`, the 16-bit logits stay).
void replay_loss(CachingAllocator& a, const std::vector<FrameworkMemory::LossStep>& steps, double logits, bool keep_logits) {
    std::vector<CachingAllocator::Handle> handles;
    for (const FrameworkMemory::LossStep& step : steps) {
        if (step.free == 0 && keep_logits) {
            handles.push_back(0);
        } else if (step.free >= 0) {
            a.free(handles[static_cast<std::size_t>(step.free)]);
            handles.push_back(0);
        } else {
            handles.push_back(a.allocate(Bytes(step.allocate * logits)));
        }
    }
}

// The communication library's buffers outside the allocator: per communicator a rank belongs to
// (one per parallel dimension with more than one rank) the device's communicator_memory, and NCCL's
// NVLS buffers for collective groups with more than two ranks in an NVLS node. NVLS: NCCL
// (src/transport/nvls.cc, 2.21) binds nvlsTotalSize = nHeads x nChannels x 2 x (buffSize + memSize)
// of every GPU to the multicast object: "NVLS comm ... nHeads 8 buffSize 4194304 memSize 2097152
// nvlsPerRankSize 301989888 nvlsTotalSize 2415919104" on 8 H100 (NCCL's log quoted in
// vllm-project/vllm#9699), 288 MiB per rank of the node.
Bytes communication_buffers(const plan::Plan& p, const plan::Partition& part, const hardware::ClusterSpec& cluster) {
    const Bytes per_comm = cluster.device.communicator_memory;
    if (per_comm.value() <= 0) return Bytes(0);
    const double nvls_per_rank = 301989888.0;
    const int node = cluster.gpus_per_node;
    auto local = [&](int size, int stride) { return std::clamp(node / std::max(1, stride), 1, size); };
    Bytes total;
    auto group = [&](int size, int stride, bool collective) {
        if (size <= 1) return;
        total += per_comm;
        const int ranks_here = local(size, stride);
        if (collective && cluster.node.in_switch_reduction && ranks_here > 2) total += Bytes(nvls_per_rank * ranks_here);
    };
    group(p.tp, 1, true);
    group(p.cp, p.tp, true);
    group(p.ep, p.tp * p.cp, true);
    group(part.dense_data_group, p.tp, true);
    group(p.pp, p.tp * p.cp * p.dp, false);
    return total;
}

}  // namespace

MemoryEstimate estimate_memory(const plan::Plan& p, const model::ModelSpec& m, const plan::Partition& part,
                               const hardware::ClusterSpec& cluster) {
    const hardware::DeviceSpec& device = cluster.device;
    const FrameworkMemory fw = plan::framework_memory(p.framework);
    MemoryEstimate est;
    est.capacity = device.memory / cluster.ranks_per_device;  // ranks sharing a device share its memory
    est.context = device.context_memory;
    est.communication = communication_buffers(p, part, cluster);
    const plan::LayerPrograms& lp = *part.layers;
    const model::LayerGraph& g = lp.graph;
    const int micro_batches = p.micro_batches();
    const Bytes dense_layer = saved_by(lp.dense, p.recompute, g.layer_input);
    const Bytes moe_layer = saved_by(lp.moe, p.recompute, g.layer_input);
    // While one layer's backward runs, what recomputation dropped exists again for that layer, and
    // so do the gradients of its activations.
    auto transient = [&](const std::vector<model::Op>& ops) {
        Bytes b;
        for (const model::Op& op : ops) b += recomputed(op, p.recompute);
        return b;
    };
    const Bytes recompute_transient = max(transient(g.dense), transient(g.moe));
    const Bytes backward_working = max(lp.dense.backward_working, lp.moe.backward_working);
    const std::vector<model::Op>& heaviest = transient(g.moe) > transient(g.dense) ? g.moe : g.dense;
    // The loss's working copies of the logits beyond the fp32 softmax the head keeps.
    Bytes kept_logits;
    for (const model::Op& op : g.head) {
        if (op.kind == model::OpKind::cross_entropy) kept_logits += op.saved;
    }
    const bool keeps_outputs = p.pp > 1 && fw.pipeline_keeps_outputs;
    const Bytes loss_extra = max(Bytes(0), Bytes(fw.loss_peak_per_logit(p.tp, keeps_outputs) * g.logits) - kept_logits);
    // A stage's output per micro-batch: the 16-bit logits on the last stage (the loss's first
    // tensor), the boundary activation elsewhere.
    const Bytes logits_bytes(fw.loss_steps(p.tp).empty() ? 0.0 : fw.loss_steps(p.tp).front().allocate * g.logits);
    // Bytes per parameter of a gathered ZeRO-3 / FSDP unit.
    const double gathered = element_bytes(p.precision) >= 4 ? 4.0
                            : p.precision == Precision::fp8 ? fw.fp8_gathered_bytes_per_param
                                                            : 2.0;
    const double grad_bytes = element_bytes(p.grad_precision);
    const plan::ShardedParameters sharded = plan::behaviour(p).sharded;
    double largest_module = 0;
    for (const model::Op& op : g.dense) largest_module = std::max(largest_module, op.parameters);

    std::optional<Bytes> layer_temporaries;
    for (const plan::Stage& stage : part.stages) {
        StageMemory sm;
        sm.stage = stage.index;
        const int layers = stage.layer_count();

        // Held through the step: model states and buffers.
        MemoryBreakdown resident;
        const MemoryBreakdown dense = model_states(stage.dense_parameters, part.dense_data_group, p.zero, p.precision,
                                                   p.grad_precision, fw);
        const MemoryBreakdown expert = model_states(stage.expert_parameters, part.expert_data_group, p.zero,
                                                    p.precision, p.grad_precision, fw);
        resident.weights = dense.weights + expert.weights;
        resident.gradients = dense.gradients + expert.gradients;
        resident.optimizer = dense.optimizer + expert.optimizer;
        const double stage_params = stage.dense_parameters + stage.expert_parameters;
        if (p.precision == Precision::fp8 && p.zero < 3) resident.weights += Bytes(fw.fp8_weight_cache_per_param * stage_params);
        // The GEMM library's workspace; send and receive buffers between stages; gradient buckets.
        resident.other = device.kernels.gemm_workspace;
        if (p.pp > 1) resident.other += 2.0 * part.pipeline_bytes;
        if (fw.grad_bucket_elements > 0 && p.zero <= 2 && part.dense_data_group > 1) {
            resident.other += Bytes(fw.grad_bucket_elements * grad_bytes * (p.overlap_grad_reduce ? 2.0 : 1.0));
        }

        // ZeRO-3 / FSDP: gathered units, and unsharded gradients before their reduce-scatter.
        MemoryBreakdown gather_forward, gather_backward;
        if (p.zero >= 3) {
            const double root = (stage.first ? lp.embedding.parameters : 0.0) + (stage.last ? lp.head.parameters : 0.0);
            const double per_layer = layers > 0 ? std::max(0.0, stage_params - root) / layers : 0.0;
            if (p.pp > 1 && fw.pipeline_keeps_unsharded) {
                resident.weights += Bytes(stage_params * gathered);
                resident.gradients += Bytes(stage_params * 4.0);
            } else {
                // The unit computing and those prefetched: whole layers (FSDP2 blocks), or modules
                // (DeepSpeed) with up to prefetch_parameters more fetched ahead, within one layer.
                const double in_use = sharded.unit == plan::ShardedParameters::Unit::layer
                                          ? std::min<double>(1 + sharded.prefetch_units, layers) * per_layer
                                          : std::min(per_layer, largest_module + sharded.prefetch_parameters);
                gather_forward.weights = Bytes((in_use + root) * gathered);
                gather_backward.weights = gather_forward.weights;
                gather_backward.gradients = Bytes(per_layer * 2.0);
                if (fw.root_unit && stage.last) gather_backward.gradients += Bytes(lp.head.parameters * 2.0);
                gather_backward.other = Bytes(fw.fp32_reduce_scatter_units * per_layer * 4.0);
            }
        }

        // Activations: the chunks in flight, with the embedding's and the head's.
        sm.in_flight = in_flight_chunks(p.schedule, p.pp, p.vpp, stage.index, micro_batches);
        Bytes all_layers;
        for (const auto& chunk : stage.chunks) {
            for (int layer : chunk) all_layers += m.is_moe_layer(layer) ? moe_layer : dense_layer;
        }
        const Bytes per_chunk = all_layers / static_cast<double>(stage.chunks.size());
        const Bytes embedding = stage.first ? lp.embedding.saved : Bytes(0);
        const Bytes head = stage.last ? lp.head.saved : Bytes(0);
        // Only the first and last stages' first and last chunks carry more than layers.
        const ChunkHeld held = stage.first || stage.last
                                   ? held_at_peak(p.schedule, p.pp, p.vpp, stage.index, micro_batches, per_chunk, embedding, head)
                                   : ChunkHeld{sm.in_flight, sm.in_flight};
        const Bytes pile = per_chunk * static_cast<double>(sm.in_flight) + embedding * static_cast<double>(held.first) +
                           head * static_cast<double>(held.last);

        // Outputs kept until the step ends: all micro-batches' by the last backward pass.
        const Bytes output = stage.last ? logits_bytes : part.pipeline_bytes;
        if (keeps_outputs) resident.other += output * static_cast<double>(micro_batches);

        // The peak is a layer's backward pass (with the pile of chunks, less the head the loss has
        // consumed) or, on the last stage, the loss.
        MemoryBreakdown at_backward = resident;
        at_backward.weights += gather_backward.weights;
        at_backward.gradients += gather_backward.gradients;
        at_backward.other += gather_backward.other;
        at_backward.activations = pile - (held.last > 0 ? head : Bytes(0));
        if (layers > 0) {
            at_backward.temporary = backward_working;
            at_backward.activations += recompute_transient + backward_working;
        }
        MemoryBreakdown at_loss = resident;
        if (keeps_outputs) at_loss.other -= output;  // the micro-batch's own logits are the loss's first tensor
        at_loss.weights += gather_forward.weights;
        at_loss.temporary = loss_extra;
        at_loss.activations = pile + loss_extra;
        const bool loss_peaks = stage.last && at_loss.total() > at_backward.total();
        sm.bytes = loss_peaks ? at_loss : at_backward;
        sm.peak_at = loss_peaks ? "loss" : "backward";

        sm.resident = resident.total();
        for (std::size_t c = 0; c < stage.chunks.size(); ++c) {
            Bytes b = per_chunk;
            if (c == 0) b += embedding;
            if (c + 1 == stage.chunks.size()) b += head;
            sm.chunk_activations.push_back(b);
        }

        // Reserved: persistent tensors and the pile of saved tensors cost their rounding (alike
        // blocks reuse each other's space); the loss's and a backward pass's temporaries, whose
        // sizes differ, are played through the allocator, where a freed block too small for a
        // later request stays reserved.
        const double blocks = std::max(1, layers);
        Bytes reserved = reserved_for(resident.weights / blocks, blocks) + reserved_for(resident.gradients / blocks, blocks) +
                         reserved_for(resident.optimizer / blocks, blocks) + reserved_for(resident.other, 1) +
                         reserved_for(gather_backward.weights, 1) + reserved_for(gather_backward.gradients, 1) +
                         reserved_for(gather_backward.other, 1);
        const double layers_held = static_cast<double>(sm.in_flight) * static_cast<double>(layers) /
                                   static_cast<double>(stage.chunks.size());
        for (const model::Op& op : heaviest) {
            const Bytes kept = p.recompute == Recompute::full ? Bytes(0)
                               : p.recompute == Recompute::selective ? op.saved_selective
                                                                     : op.saved;
            reserved += reserved_for(kept, layers_held);
        }
        if (p.recompute == Recompute::full) reserved += reserved_for(g.layer_input, layers_held);
        for (const model::Op& op : g.embedding) reserved += reserved_for(stage.first ? op.saved : Bytes(0), held.first);
        for (const model::Op& op : g.head) {
            if (op.kind != model::OpKind::cross_entropy) reserved += reserved_for(stage.last ? op.saved : Bytes(0), held.last);
        }
        // Stages without the loss play the same temporaries: once per estimate.
        auto temporaries = [&](bool loss, int heads, bool backward) {
            CachingAllocator a;
            if (loss) {
                if (heads > 1) a.allocate(kept_logits * static_cast<double>(heads - 1));  // other micro-batches' softmax
                replay_loss(a, fw.loss_steps(p.tp), g.logits, keeps_outputs);
            }
            if (backward) replay_layer_backward(a, heaviest, p.recompute);
            return a.reserved();
        };
        if (stage.last) {
            reserved += temporaries(true, held.last, layers > 0);
        } else if (layers > 0) {
            if (!layer_temporaries) layer_temporaries = temporaries(false, 0, true);
            reserved += *layer_temporaries;
        }
        sm.reserved = max(reserved, sm.bytes.total());

        if (sm.bytes.total() > est.peak) {
            est.peak = sm.bytes.total();
            est.peak_stage = stage.index;
        }
        if (sm.reserved > est.reserved) {
            est.reserved = sm.reserved;
            est.reserved_stage = stage.index;
        }
        est.stages.push_back(std::move(sm));
    }
    return est;
}

}  // namespace splitsim::cost
