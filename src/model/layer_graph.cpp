#include "splitsim/model/layer_graph.hpp"

#include <algorithm>
#include <cassert>

namespace splitsim::model {
namespace {

// Dimensions of one rank's share of a micro-batch.
struct Dims {
    double t;         // tensor-parallel ways
    double seq;       // ways the replicated (norm, dropout) tensors are split: t under sequence parallelism
    double b;         // sequences per micro-batch
    double s_q;       // query positions per rank (sequence / context-parallel ways)
    double s_kv;      // key positions each query attends over (the whole sequence)
    double tokens;    // b * s_q: tokens in this rank's micro-batch
    double h;         // hidden
    double heads;     // attention heads on this rank
    double d;         // head dimension
    double kv;        // key/value width on this rank (kv_heads * d / t)
    double e;         // bytes per activation element
    SavedTensors saved;
};

constexpr double kMaskBytes = 1.0;   // dropout masks are bytes (Korthikanti Sec. 4.1)
constexpr double kFp32Bytes = 4.0;

Op linear(std::string_view name, TensorSplit split, double m, double n, double k, double batch, double params,
          Bytes saved, double e) {
    Op op;
    op.name = name;
    op.kind = OpKind::gemm;
    op.split = split;
    op.gemm = {m, n, k, batch};
    const double mnk = m * n * k * batch;
    op.forward_flops = Flops(2 * mnk);
    op.backward_flops = Flops(4 * mnk);       // dX = dY W^T and dW = X^T dY
    op.weight_grad_flops = Flops(2 * mnk);
    op.forward_bytes = Bytes(e * batch * (m * k + k * n + m * n));
    op.backward_bytes = 2.0 * op.forward_bytes;
    op.parameters = params;
    op.output = Bytes(e * batch * m * n);
    op.saved = saved;
    op.saved_selective = saved;
    return op;
}

Op attention_gemm(std::string_view name, const Dims& d, double m, double n, double k, Bytes saved,
                  Bytes saved_selective, bool causal) {
    Op op;
    op.name = name;
    op.kind = OpKind::attention_gemm;
    op.split = TensorSplit::heads;
    op.gemm = {m, n, k, d.b * d.heads};
    const double mnk = m * n * k * d.b * d.heads;
    op.forward_flops = Flops(2 * mnk);
    op.backward_flops = Flops(4 * mnk);  // gradients of both operands, no weights
    op.forward_bytes = Bytes(d.e * d.b * d.heads * (m * k + k * n + m * n));
    op.backward_bytes = 2.0 * op.forward_bytes;
    op.output = Bytes(d.e * d.b * d.heads * m * n);
    op.saved = saved;
    op.saved_selective = saved_selective;
    op.selective_recompute = true;
    op.causal = causal;
    return op;
}

// An element-wise (memory-bound) operator over `elements` values: the forward reads `reads` and
// writes `writes` tensors of that size; the backward reads and writes one more each.
Op elementwise(std::string_view name, OpKind kind, double elements, double reads, double writes, Bytes saved,
               const Dims& d) {
    Op op;
    op.name = name;
    op.kind = kind;
    op.forward_bytes = Bytes(d.e * elements * (reads + writes));
    op.backward_bytes = Bytes(d.e * elements * (reads + writes + 1));
    op.output = Bytes(d.e * elements);
    op.saved = saved;
    op.saved_selective = saved;
    return op;
}

Op norm(std::string_view name, const ModelSpec& m, const Dims& d) {
    const double elements = d.tokens * d.h / d.seq;
    // A fused kernel saves its input (and per-row statistics); an eager norm keeps its input upcast
    // to fp32 and the normalized tensor before the scale (4 + 2 bytes per element under bf16).
    const double saved = d.saved.fp32_norm ? d.e + std::max(d.e, kFp32Bytes) : d.e;
    Op op = elementwise(name, OpKind::norm, elements, 1, 1, Bytes(saved * elements), d);
    op.parameters = (m.norm == Norm::layernorm ? 2.0 : 1.0) * d.h;                      // scale (and shift)
    return op;
}

// Dropout of a sublayer's output plus the residual addition: saves the 1-byte mask.
Op dropout_residual(std::string_view name, const ModelSpec& m, const Dims& d) {
    const double elements = d.tokens * d.h / d.seq;
    Op op = elementwise(name, OpKind::dropout, elements, 2, 1, Bytes(m.dropout ? kMaskBytes * elements : 0.0), d);
    if (m.dropout) {
        op.forward_bytes += Bytes(kMaskBytes * elements);
        op.backward_bytes += Bytes(kMaskBytes * elements);
    }
    return op;
}

void append_attention(std::vector<Op>& ops, const ModelSpec& m, const Dims& d, bool fused) {
    const double q_elems = d.tokens * d.h / d.t;
    const double kv_elems = d.tokens * d.kv;
    const double bias = m.linear_bias ? 1.0 : 0.0;
    const double qkv_out = d.h + 2.0 * d.kv * d.t;  // unsharded output width of the fused QKV projection

    ops.push_back(norm("attn_norm", m, d));
    const double kept_input = d.saved.gathered_inputs ? 1.0 : d.seq;
    ops.push_back(linear("qkv", TensorSplit::column, d.tokens, qkv_out / d.t, d.h, 1,
                         (d.h * qkv_out + bias * qkv_out) / d.t, Bytes(d.e * d.tokens * d.h / kept_input), d.e));
    if (m.position_embedding == PositionEmbedding::rotary) {
        // Fused (Megatron's apply_rope_fusion) it keeps nothing; through complex fp32 views its
        // products keep the fp32 queries and keys.
        const Bytes saved(d.saved.fp32_rotary ? kFp32Bytes * (q_elems + kv_elems) : 0.0);
        ops.push_back(elementwise("rotary", OpKind::rotary, q_elems + kv_elems, 1, 1, saved, d));
    }
    // Keys and values as the attention kernel receives them: repeated to every query head when
    // grouped-query attention is expanded before the kernel.
    const double kv_kept = d.saved.repeated_kv ? q_elems : kv_elems;
    const double scores = d.b * d.heads * d.s_q * d.s_kv;
    if (fused) {
        Op op;
        op.name = "flash_attention";
        op.kind = OpKind::fused_attention;
        op.split = TensorSplit::heads;
        op.gemm = {d.s_q, d.s_kv, d.d, d.b * d.heads};
        op.forward_flops = Flops(4 * scores * d.d);   // QK^T and PV
        op.backward_flops = Flops(8 * scores * d.d);  // model-FLOP convention: twice the forward
        // Reads Q, K, V and writes O; the backward also reads O, dO and writes dQ, dK, dV.
        op.forward_bytes = Bytes(d.e * (2 * q_elems + 2 * kv_elems));
        op.backward_bytes = Bytes(d.e * (4 * q_elems + 4 * kv_elems));
        // Saves Q, K, V and the fp32 log-sum-exp per query and head; O is saved by attn_proj, and
        // by the kernel too when the projection receives a contiguous copy of it.
        op.output = Bytes(d.e * q_elems);
        op.saved = Bytes(d.e * (q_elems + 2 * kv_kept) + kFp32Bytes * d.b * d.heads * d.s_q) +
                   (d.saved.attention_output_copy ? op.output : Bytes(0));
        op.saved_selective = op.saved;
        op.causal = m.causal;
        ops.push_back(op);
    } else {
        // Korthikanti Sec. 4.1: QK^T saves Q and K (4sbh/t); softmax saves its output (2as^2b/t);
        // dropout its mask (as^2b/t); the product with V saves the dropped-out probabilities (2as^2b/t)
        // and V (2sbh/t). Selective recomputation keeps Q, K and V and recomputes the rest.
        ops.push_back(attention_gemm("attn_score", d, d.s_q, d.s_kv, d.d, Bytes(d.e * (q_elems + kv_kept)),
                                     Bytes(d.e * (q_elems + kv_kept)), m.causal));
        Op softmax = elementwise("attn_softmax", OpKind::softmax, scores, 1, 1, Bytes(d.e * scores), d);
        softmax.split = TensorSplit::heads;
        softmax.saved_selective = Bytes(0);
        softmax.selective_recompute = true;
        ops.push_back(softmax);
        if (m.dropout) {
            Op drop = elementwise("attn_dropout", OpKind::dropout, scores, 1, 1, Bytes(kMaskBytes * scores), d);
            drop.forward_bytes += Bytes(kMaskBytes * scores);
            drop.backward_bytes += Bytes(kMaskBytes * scores);
            drop.split = TensorSplit::heads;
            drop.saved_selective = Bytes(0);
            drop.selective_recompute = true;
            ops.push_back(drop);
        }
        // Without dropout the probabilities are the softmax output, already saved above.
        const Bytes probs(m.dropout ? d.e * scores : 0.0);
        ops.push_back(attention_gemm("attn_context", d, d.s_q, d.d, d.s_kv, probs + Bytes(d.e * kv_kept),
                                     Bytes(d.e * kv_kept), m.causal));
    }
    ops.push_back(linear("attn_proj", TensorSplit::row, d.tokens, d.h, d.h / d.t, 1,
                         d.h * d.h / d.t + bias * d.h, Bytes(d.e * q_elems), d.e));
    ops.push_back(dropout_residual("attn_residual", m, d));
}

// The feed-forward block: fc1 (column-parallel), activation, fc2 (row-parallel). For experts,
// `tokens` counts token-expert assignments on this rank and `experts` the local experts.
void append_ffn(std::vector<Op>& ops, const ModelSpec& m, const Dims& d, double tokens, double width, double experts,
                bool expert) {
    const bool swiglu = m.activation == Activation::swiglu;
    const double fc1_out = (swiglu ? 2.0 : 1.0) * width;  // gate and up projections fused
    const double bias = m.linear_bias ? 1.0 : 0.0;
    const double in_elems = tokens * d.h / (expert || d.saved.gathered_inputs ? 1.0 : d.seq);
    const double per_expert = tokens / experts;

    Op fc1 = linear(expert ? "expert_fc1" : "fc1", TensorSplit::column, per_expert, fc1_out / d.t, d.h, experts,
                    experts * (d.h * fc1_out + bias * fc1_out) / d.t, Bytes(d.e * in_elems), d.e);
    const double act_out = tokens * width / d.t;
    // SwiGLU saves its input, gate and up (Megatron's fused bias_swiglu); as three eager ops it
    // also keeps silu(gate) for the product.
    const double swiglu_saved = d.saved.unfused_swiglu ? 3.0 : 2.0;
    Op act = swiglu ? elementwise(expert ? "expert_swiglu" : "swiglu", OpKind::activation, act_out, 2, 1,
                                  Bytes(d.e * swiglu_saved * act_out), d)
                    : elementwise(expert ? "expert_gelu" : "gelu", OpKind::activation, act_out, 1, 1,
                                  Bytes(d.e * act_out), d);
    act.split = TensorSplit::column;
    Op fc2 = linear(expert ? "expert_fc2" : "fc2", TensorSplit::row, per_expert, d.h, width / d.t, experts,
                    experts * (width * d.h / d.t) + (expert ? experts : 1.0) * bias * d.h, Bytes(d.e * act_out), d.e);
    for (Op* op : {&fc1, &act, &fc2}) op->expert = expert;
    ops.push_back(fc1);
    ops.push_back(act);
    ops.push_back(fc2);
}

// torchtitan's per-op selective checkpointing (torchtitan/parallelisms/parallelize_llama.py at
// 9dec370, `_save_list` and `_custom_policy`): a layer keeps its input (the checkpoint's), the
// outputs of every other matrix multiplication of wq, wk, wv, wo, w1, w3, w2 (the 1st, 3rd, 5th and
// 7th: query, value, gate and the MLP output before its reduction) and of the attention kernel.
void keep_every_other_matmul(std::vector<Op>& ops, const Dims& d, bool swiglu) {
    for (Op& op : ops) {
        const std::string_view n = op.name;
        Bytes kept;
        if (n == "attn_norm") {
            kept = Bytes(d.e * d.tokens * d.h / d.seq);
        } else if (n == "qkv") {
            kept = Bytes(d.e * d.tokens * (d.h / d.t + d.kv));
        } else if (n == "flash_attention") {
            kept = op.output + Bytes(kFp32Bytes * d.b * d.heads * d.s_q);
        } else if (n == "attn_context") {
            kept = op.output;
        } else if (n == "fc1" || n == "expert_fc1") {
            kept = op.output / (swiglu ? 2.0 : 1.0);
        } else if (n == "fc2" || n == "expert_fc2") {
            kept = op.output;
        }
        op.saved_selective = kept;
    }
}

Dims dims_for(const ModelSpec& m, const Shard& shard) {
    assert(shard.tensor >= 1 && shard.context >= 1 && shard.micro_batch >= 1);
    Dims d{};
    d.t = shard.tensor;
    d.seq = shard.sequence ? shard.tensor : 1;
    d.b = shard.micro_batch;
    d.s_q = static_cast<double>(m.seq_len) / shard.context;
    d.s_kv = m.seq_len;
    d.tokens = d.b * d.s_q;
    d.h = m.hidden;
    d.heads = static_cast<double>(m.heads) / shard.tensor;
    d.d = m.head_dim();
    d.kv = static_cast<double>(m.kv_heads) * m.head_dim() / shard.tensor;
    d.e = shard.element_bytes;
    d.saved = shard.saved;
    return d;
}

}  // namespace

LayerGraph expand(const ModelSpec& m, const Shard& shard) {
    const Dims d = dims_for(m, shard);
    LayerGraph g;

    // Embedding: vocabulary-parallel token table; learned position table replicated (Megatron-LM).
    Op emb;
    emb.name = "embedding";
    emb.kind = OpKind::embedding;
    emb.split = TensorSplit::vocab;
    emb.parameters = static_cast<double>(m.vocab) * d.h / d.t +
                     (m.position_embedding == PositionEmbedding::learned ? static_cast<double>(m.seq_len) * d.h : 0.0);
    emb.forward_bytes = Bytes(d.e * d.tokens * d.h * 2);
    emb.backward_bytes = Bytes(d.e * d.tokens * d.h * 2);
    emb.output = Bytes(d.e * d.tokens * d.h);
    g.embedding.push_back(emb);
    if (m.dropout) {
        // Embedding dropout mask: sbh/t per in-flight micro-batch (Korthikanti Sec. 4.3).
        const double elements = d.tokens * d.h / d.seq;
        Op drop = elementwise("embedding_dropout", OpKind::dropout, elements, 1, 1, Bytes(kMaskBytes * elements), d);
        g.embedding.push_back(drop);
    }

    append_attention(g.dense, m, d, shard.fused_attention);
    g.dense.push_back(norm("mlp_norm", m, d));
    append_ffn(g.dense, m, d, d.tokens, m.ffn_hidden, 1, false);
    g.dense.push_back(dropout_residual("mlp_residual", m, d));
    const bool swiglu = m.activation == Activation::swiglu;
    if (d.saved.selective == SavedTensors::Selective::every_other_matmul) keep_every_other_matmul(g.dense, d, swiglu);

    if (m.moe) {
        const double local_experts = static_cast<double>(m.moe->experts) / shard.expert;
        append_attention(g.moe, m, d, shard.fused_attention);
        g.moe.push_back(norm("mlp_norm", m, d));
        // Router: a replicated h x E projection over this rank's tokens.
        g.moe.push_back(linear("router", TensorSplit::replicated, d.tokens / d.seq, m.moe->experts, d.h, 1,
                               d.h * m.moe->experts, Bytes(d.e * d.tokens * d.h / d.seq), d.e));
        // With balanced routing every expert-parallel rank receives tokens * top_k assignments.
        append_ffn(g.moe, m, d, d.tokens * m.moe->top_k, m.moe->expert_ffn_hidden, local_experts, true);
        g.moe.push_back(dropout_residual("mlp_residual", m, d));
        if (d.saved.selective == SavedTensors::Selective::every_other_matmul) keep_every_other_matmul(g.moe, d, swiglu);
    }

    g.head.push_back(norm("final_norm", m, d));
    const double output_params = static_cast<double>(m.vocab) * d.h / d.t;
    // Output layer: saves its input, 2sbh/t (Korthikanti Sec. 4.3).
    g.head.push_back(linear("logits", TensorSplit::column, d.tokens, m.vocab / d.t, d.h, 1,
                            m.tied_embeddings ? 0.0 : output_params, Bytes(d.e * d.tokens * d.h / d.seq), d.e));
    // Cross-entropy keeps the fp32 logits, 4sbV/t (Korthikanti Sec. 4.3).
    const double logits = d.tokens * m.vocab / d.t;
    Op ce;
    ce.name = "cross_entropy";
    ce.kind = OpKind::cross_entropy;
    ce.split = TensorSplit::vocab;
    ce.forward_bytes = Bytes(logits * (d.e + 2 * kFp32Bytes));
    ce.backward_bytes = Bytes(logits * (kFp32Bytes + d.e));
    ce.output = Bytes(kFp32Bytes * d.tokens);
    ce.saved = Bytes(kFp32Bytes * logits);
    ce.saved_selective = ce.saved;
    g.head.push_back(ce);

    g.layer_input = Bytes(d.e * d.tokens * d.h / d.seq);
    g.stage_boundary = g.layer_input;
    g.logits = logits;
    g.tied_output_parameters = m.tied_embeddings ? output_params : 0.0;
    return g;
}

OpTotals totals(const std::vector<Op>& ops) {
    OpTotals t;
    for (const Op& op : ops) {
        t.forward_flops += op.forward_flops;
        t.backward_flops += op.backward_flops;
        t.weight_grad_flops += op.weight_grad_flops;
        if (op.selective_recompute) t.selective_recompute_flops += op.forward_flops;
        (op.expert ? t.expert_parameters : t.parameters) += op.parameters;
        t.saved += op.saved;
        t.saved_selective += op.saved_selective;
    }
    Bytes pair;
    for (std::size_t i = 1; i < ops.size(); ++i) pair = max(pair, ops[i].output + ops[i - 1].output);
    if (!ops.empty()) t.backward_working = ops.back().output + pair;
    return t;
}

double parameter_count(const ModelSpec& m) {
    const LayerGraph g = expand(m);
    const OpTotals dense = totals(g.dense);
    const OpTotals moe = totals(g.moe);
    const int moe_layers = m.moe_layer_count();
    const int dense_layers = m.layers - moe_layers;
    return totals(g.embedding).parameters + totals(g.head).parameters +
           dense_layers * (dense.parameters + dense.expert_parameters) +
           moe_layers * (moe.parameters + moe.expert_parameters);
}

Flops iteration_flops(const ModelSpec& m, double global_batch, Recompute recompute) {
    const LayerGraph g = expand(m);
    auto layer_flops = [&](const std::vector<Op>& ops) {
        const OpTotals t = totals(ops);
        Flops f = t.forward_flops + t.backward_flops;
        if (recompute == Recompute::full) f += t.forward_flops;
        if (recompute == Recompute::selective) f += t.selective_recompute_flops;
        return f;
    };
    const int moe_layers = m.moe_layer_count();
    const Flops per_sequence = totals(g.embedding).forward_flops + totals(g.embedding).backward_flops +
                               totals(g.head).forward_flops + totals(g.head).backward_flops +
                               (m.layers - moe_layers) * layer_flops(g.dense) + moe_layers * layer_flops(g.moe);
    return global_batch * per_sequence;
}

std::string_view to_string(OpKind kind) {
    switch (kind) {
        case OpKind::gemm: return "gemm";
        case OpKind::attention_gemm: return "attention_gemm";
        case OpKind::fused_attention: return "fused_attention";
        case OpKind::softmax: return "softmax";
        case OpKind::dropout: return "dropout";
        case OpKind::norm: return "norm";
        case OpKind::activation: return "activation";
        case OpKind::rotary: return "rotary";
        case OpKind::embedding: return "embedding";
        case OpKind::cross_entropy: return "cross_entropy";
    }
    return "unknown";
}

}  // namespace splitsim::model
