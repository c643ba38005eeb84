#include "splitsim/plan/partition.hpp"

#include <cassert>

namespace splitsim::plan {
namespace {

using model::Op;
using model::TensorSplit;

// Tensor-parallel collectives around the ops of one layer, following Megatron-LM's f and g
// operators (Shoeybi et al. 2019, arXiv 1909.08053, Fig. 3) and their sequence-parallel form
// (Korthikanti et al. 2022, arXiv 2205.05198, Sec. 4.2.2, Fig. 5):
//   column-parallel op: forward  all-gather its input (sequence parallel) or nothing;
//                       backward reduce-scatter (sequence parallel) or all-reduce its input gradient,
//                       and under sequence parallelism all-gather the saved input again for the
//                       weight gradient, overlapped with the input-gradient GEMM.
//   row-parallel op:    forward  reduce-scatter (sequence parallel) or all-reduce its output;
//                       backward all-gather its output gradient (sequence parallel) or nothing.
// With the asynchronous all-reduce (Megatron-LM's LinearWithGradAccumulationAndAsyncCommunication)
// the column-parallel op's input-gradient collective is issued after its input-gradient GEMM and
// overlaps its weight-gradient GEMM. With tensor-parallel communication overlap (Transformer
// Engine's userbuffers, Megatron-Core --tp-comm-overlap) the all-gather before a column-parallel
// GEMM and the reduce-scatter after a row-parallel one run in chunks pipelined with that GEMM, in
// both passes: each overlaps the op it serves.
// Each moves the layer's whole activation, b s h elements: nccl-tests' S for all of them.
void add_tensor_parallel(LayerComm& comm, const std::vector<Op>& ops, const Plan& p, Bytes activation) {
    if (p.tp == 1) return;
    const bool sp = p.sequence_parallel;
    const bool async = p.async_tp_allreduce;
    const bool pipelined = p.tp_comm_overlap;
    for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
        const Op& op = ops[static_cast<std::size_t>(i)];
        const bool column = op.split == TensorSplit::column && op.kind == model::OpKind::gemm;
        const bool row = (op.split == TensorSplit::row && op.kind == model::OpKind::gemm) ||
                         (op.split == TensorSplit::vocab && op.kind == model::OpKind::embedding);
        if (column) {
            if (sp) comm.forward.push_back({CollectiveKind::all_gather, Dim::tensor, activation, p.tp, i, true, pipelined});
            comm.backward.push_back({sp ? CollectiveKind::reduce_scatter : CollectiveKind::all_reduce, Dim::tensor, activation,
                                     p.tp, i, false, async, async});
            if (sp) comm.backward.push_back({CollectiveKind::all_gather, Dim::tensor, activation, p.tp, i, true, true});
        } else if (row) {
            comm.forward.push_back({sp ? CollectiveKind::reduce_scatter : CollectiveKind::all_reduce, Dim::tensor, activation, p.tp, i,
                                    pipelined, pipelined});
            if (sp) comm.backward.push_back({CollectiveKind::all_gather, Dim::tensor, activation, p.tp, i, true, pipelined});
        }
    }
}

// Context parallelism as a ring (Megatron-Core with Transformer Engine): cp - 1 steps, each passing
// this rank's key and value chunk on while attention runs on the previous one; the backward pass
// passes keys, values and their gradients.
void add_context_parallel(LayerComm& comm, const std::vector<Op>& ops, const Plan& p, const model::ModelSpec& m,
                          const model::Shard& shard) {
    if (p.cp == 1) return;
    const double tokens = static_cast<double>(shard.micro_batch) * m.seq_len / p.cp;
    const Bytes kv_chunk(shard.element_bytes * tokens * 2.0 * m.kv_dim() / p.tp);
    for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
        if (ops[static_cast<std::size_t>(i)].kind != model::OpKind::fused_attention) continue;
        comm.forward.push_back({CollectiveKind::send_recv, Dim::context, kv_chunk * (p.cp - 1.0), p.cp, i, true, true});
        comm.backward.push_back({CollectiveKind::send_recv, Dim::context, 2.0 * kv_chunk * (p.cp - 1.0), p.cp, i, true, true});
    }
}

// Expert parallelism: tokens dispatched to their experts' ranks before the first expert GEMM and
// combined back after the last (all-to-all), in both passes. S = tokens x top_k x hidden.
void add_expert_parallel(LayerComm& comm, const std::vector<Op>& ops, const Plan& p, const model::ModelSpec& m,
                         const model::Shard& shard) {
    if (p.ep == 1 || !m.moe) return;
    const double tokens = static_cast<double>(shard.micro_batch) * m.seq_len / p.cp;
    const Bytes routed(shard.element_bytes * tokens * m.moe->top_k * m.hidden);
    for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
        const Op& op = ops[static_cast<std::size_t>(i)];
        if (!op.expert || op.kind != model::OpKind::gemm) continue;
        const bool first = op.split == TensorSplit::column;
        comm.forward.push_back({CollectiveKind::all_to_all, Dim::expert, routed, p.ep, i, first, false});
        comm.backward.push_back({CollectiveKind::all_to_all, Dim::expert, routed, p.ep, i, !first, false});
    }
}

// Vocabulary-parallel cross-entropy all-reduces, per token, the logit maximum, the target logit
// and the sum of exponentials across tensor-parallel ranks (Megatron-LM cross_entropy.py): three
// fp32 all-reduces of b s values.
void add_vocab_parallel_loss(LayerComm& comm, const std::vector<Op>& ops, const Plan& p, const model::ModelSpec& m,
                             const model::Shard& shard) {
    if (p.tp == 1) return;
    const Bytes per_token(4.0 * shard.micro_batch * m.seq_len / p.cp);
    for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
        if (ops[static_cast<std::size_t>(i)].kind != model::OpKind::cross_entropy) continue;
        for (int r = 0; r < 3; ++r) comm.forward.push_back({CollectiveKind::all_reduce, Dim::tensor, per_token, p.tp, i, false, false});
    }
}

LayerComm comm_for(const std::vector<Op>& ops, const Plan& p, const model::ModelSpec& m, const model::Shard& shard) {
    LayerComm comm;
    const Bytes activation(shard.element_bytes * shard.micro_batch * m.seq_len / p.cp * m.hidden);
    add_tensor_parallel(comm, ops, p, activation);
    add_context_parallel(comm, ops, p, m, shard);
    add_expert_parallel(comm, ops, p, m, shard);
    add_vocab_parallel_loss(comm, ops, p, m, shard);
    return comm;
}

}  // namespace

int Stage::layer_count() const {
    int n = 0;
    for (const auto& c : chunks) n += static_cast<int>(c.size());
    return n;
}

model::Shard shard_of(const Plan& p) {
    model::Shard s;
    s.tensor = p.tp;
    s.sequence = p.sequence_parallel && p.tp > 1;
    s.context = p.cp;
    s.expert = p.ep;
    s.micro_batch = p.micro_batch;
    // Activations are 16-bit under bf16, fp16 and fp8 training (FP8 GEMM inputs are cast copies;
    // Transformer Engine saves 16-bit activations for the non-GEMM ops), 32-bit under fp32/tf32.
    s.element_bytes = (p.precision == Precision::fp32 || p.precision == Precision::tf32) ? 4.0 : 2.0;
    s.fused_attention = p.flash_attention;
    s.saved = framework_memory(p.framework).saved;
    return s;
}

std::shared_ptr<const LayerPrograms> layer_programs(const Plan& p, const model::ModelSpec& m) {
    auto out = std::make_shared<LayerPrograms>();
    const model::Shard shard = shard_of(p);
    out->graph = model::expand(m, shard);
    out->embedding_comm = comm_for(out->graph.embedding, p, m, shard);
    out->dense_comm = comm_for(out->graph.dense, p, m, shard);
    out->moe_comm = comm_for(out->graph.moe, p, m, shard);
    out->head_comm = comm_for(out->graph.head, p, m, shard);
    out->embedding = model::totals(out->graph.embedding);
    out->dense = model::totals(out->graph.dense);
    out->moe = model::totals(out->graph.moe);
    out->head = model::totals(out->graph.head);
    return out;
}

Partition partition(const Plan& p, const model::ModelSpec& m, std::shared_ptr<const LayerPrograms> programs) {
    Partition part;
    part.layers = programs ? std::move(programs) : layer_programs(p, m);
    const LayerPrograms& lp = *part.layers;
    part.pipeline_bytes = lp.graph.stage_boundary;
    // Scatter/gather: a boundary tensor replicated over the tensor-parallel ranks (no sequence
    // parallelism) is sent in tp chunks and all-gathered by the receivers.
    if (p.scatter_gather_p2p && p.tp > 1 && !shard_of(p).sequence) {
        part.pipeline_gather_bytes = part.pipeline_bytes;
        part.pipeline_bytes = part.pipeline_bytes / static_cast<double>(p.tp);
    }
    part.dense_data_group = p.dp * p.cp;
    part.expert_data_group = p.dp * p.cp / p.ep;

    // Layers per stage.
    std::vector<int> per_stage(static_cast<std::size_t>(p.pp), m.layers / (p.pp * p.vpp) * p.vpp);
    if (p.first_stage_layers || p.last_stage_layers) {
        const int inner = p.pp - (p.first_stage_layers ? 1 : 0) - (p.last_stage_layers ? 1 : 0);
        const int rest = m.layers - p.first_stage_layers - p.last_stage_layers;
        for (auto& n : per_stage) n = inner > 0 ? rest / inner : 0;
        if (p.first_stage_layers) per_stage.front() = p.first_stage_layers;
        if (p.last_stage_layers) per_stage.back() = p.last_stage_layers;
    }

    const model::OpTotals& dense = lp.dense;
    const model::OpTotals& moe = lp.moe;
    // Model chunks: stage s's layers split into vpp chunks of per_stage[s] / vpp layers; chunk c
    // of every stage together holds the c-th of vpp consecutive runs of L / vpp layers, stage by
    // stage. Evenly split, chunk c of stage s starts at layer (c p + s) L / (p v); under an uneven
    // split it starts at c L / v plus the chunk layers of the stages before s (Megatron-Core
    // get_transformer_layer_offset, interleaved uneven pipeline parallelism).
    int stage_offset = 0;  // chunk layers of the stages before s
    for (int s = 0; s < p.pp; ++s) {
        Stage st;
        st.index = s;
        st.first = s == 0;
        st.last = s == p.pp - 1;
        const int chunk_layers = per_stage[static_cast<std::size_t>(s)] / p.vpp;
        for (int c = 0; c < p.vpp; ++c) {
            std::vector<int> chunk;
            for (int l = 0; l < chunk_layers; ++l) chunk.push_back(c * (m.layers / p.vpp) + stage_offset + l);
            st.chunks.push_back(std::move(chunk));
        }
        stage_offset += chunk_layers;
        for (const auto& chunk : st.chunks) {
            for (int layer : chunk) {
                const model::OpTotals& t = m.is_moe_layer(layer) ? moe : dense;
                st.dense_parameters += t.parameters;
                st.expert_parameters += t.expert_parameters;
            }
        }
        if (st.first) st.dense_parameters += lp.embedding.parameters;
        if (st.last) {
            st.dense_parameters += lp.head.parameters;
            // Tied output weights: the last stage keeps its own copy when it is not the first.
            if (!st.first) st.dense_parameters += lp.graph.tied_output_parameters;
        }
        part.stages.push_back(std::move(st));
    }
    assert(stage_offset * p.vpp == m.layers);
    return part;
}

}  // namespace splitsim::plan
