#include "splitsim/cost/memory.hpp"

#include <algorithm>

namespace splitsim::cost {

using plan::Schedule;
using model::Recompute;

MemoryBreakdown model_states(double parameters, int shard_ways, int zero, Precision precision,
                             Precision grad_precision) {
    const bool full_precision = element_bytes(precision) >= 4;
    // fp8 training keeps 16-bit parameters (the fp8 copies are transient casts).
    const double weight_bytes = full_precision ? 4.0 : 2.0;
    const double optimizer_bytes = full_precision ? 8.0 : 12.0;
    const double grad_bytes = element_bytes(grad_precision);
    const double n = shard_ways;
    MemoryBreakdown m;
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

namespace {

Bytes saved_by(const model::OpTotals& t, Recompute recompute, Bytes layer_input) {
    switch (recompute) {
        case Recompute::none: return t.saved;
        case Recompute::selective: return t.saved_selective;
        case Recompute::full: return layer_input;
    }
    return t.saved;
}

}  // namespace

MemoryEstimate estimate_memory(const plan::Plan& p, const model::ModelSpec& m, const plan::Partition& part,
                               const hardware::DeviceSpec& device) {
    MemoryEstimate est;
    est.capacity = device.memory;
    const plan::LayerPrograms& lp = *part.layers;
    const model::LayerGraph& g = lp.graph;
    const int micro_batches = p.micro_batches();
    const Bytes dense_layer = saved_by(lp.dense, p.recompute, g.layer_input);
    const Bytes moe_layer = saved_by(lp.moe, p.recompute, g.layer_input);
    // While one layer's backward runs, what recomputation dropped exists again for that layer.
    auto transient = [&](const model::OpTotals& t) {
        switch (p.recompute) {
            case Recompute::none: return Bytes(0);
            case Recompute::selective: return t.saved - t.saved_selective;
            case Recompute::full: return t.saved;
        }
        return Bytes(0);
    };
    const Bytes recompute_transient = max(transient(lp.dense), transient(lp.moe));

    for (const plan::Stage& stage : part.stages) {
        StageMemory sm;
        sm.stage = stage.index;
        MemoryBreakdown& b = sm.bytes;

        const MemoryBreakdown dense = model_states(stage.dense_parameters, part.dense_data_group, p.zero, p.precision,
                                                   p.grad_precision);
        const MemoryBreakdown expert = model_states(stage.expert_parameters, part.expert_data_group, p.zero,
                                                    p.precision, p.grad_precision);
        b.weights = dense.weights + expert.weights;
        b.gradients = dense.gradients + expert.gradients;
        b.optimizer = dense.optimizer + expert.optimizer;

        // Activations: in-flight chunks times the layers of one chunk.
        sm.in_flight = in_flight_chunks(p.schedule, p.pp, p.vpp, stage.index, micro_batches);
        Bytes all_layers;
        for (const auto& chunk : stage.chunks) {
            for (int layer : chunk) all_layers += m.is_moe_layer(layer) ? moe_layer : dense_layer;
        }
        const Bytes per_chunk = all_layers / static_cast<double>(stage.chunks.size());
        b.activations = per_chunk * static_cast<double>(sm.in_flight);
        if (stage.layer_count() > 0) b.activations += recompute_transient;
        // Embedding and head activations: one set per in-flight micro-batch of the first / last chunk.
        const int in_flight_micro_batches = p.vpp > 1 ? std::min(p.pp, micro_batches) : sm.in_flight;
        if (stage.first) b.activations += lp.embedding.saved * static_cast<double>(in_flight_micro_batches);
        if (stage.last) b.activations += lp.head.saved * static_cast<double>(in_flight_micro_batches);

        // Buffers: the GEMM library workspace; send and receive buffers between stages; under ZeRO-3
        // one gathered layer being used and the next being prefetched.
        b.other = device.kernels.gemm_workspace;
        if (p.pp > 1) b.other += 2.0 * part.pipeline_bytes;
        if (p.zero >= 3 && stage.layer_count() > 0) {
            const double per_layer = (stage.dense_parameters + stage.expert_parameters) / stage.layer_count();
            b.other += Bytes(2.0 * per_layer * element_bytes(p.precision == Precision::fp8 ? Precision::bf16 : p.precision) *
                             (part.dense_data_group - 1.0) / part.dense_data_group);
        }
        if (b.total() > est.peak) {
            est.peak = b.total();
            est.peak_stage = stage.index;
        }
        est.stages.push_back(sm);
    }
    return est;
}

}  // namespace splitsim::cost
