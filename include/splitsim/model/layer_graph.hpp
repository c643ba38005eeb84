// Expansion of a model into the operators one rank runs for one micro-batch: shapes, FLOPs, memory
// traffic, parameters and the activations each operator saves for its backward pass.
//
// The model knows how a transformer layer divides (which weights split by columns or rows, which
// tensors split along the sequence) but not which plan asks for it: the caller passes a Shard.
// With the default Shard (no parallelism, one sequence) the graph is the whole model.
//
// Counting conventions (those of the published formulas, reference/formulas.md):
//  - FLOPs count matrix multiplications only, 2 m n k forward, 4 m n k backward (input and weight
//    gradient); element-wise operators have no FLOPs and are timed by the bytes they move.
//  - Saved activations follow Korthikanti et al. 2022 (arXiv 2205.05198, Sec. 4.1): 16-bit
//    tensors (element_bytes), 1-byte dropout masks.
#pragma once

#include <string_view>
#include <vector>

#include "splitsim/common/units.hpp"
#include "splitsim/model/model_spec.hpp"

namespace splitsim::model {

enum class OpKind {
    gemm,             // a linear layer: C[m, n] = A[m, k] W[k, n], `batch` independent products
    attention_gemm,   // QK^T or softmax(.)V as batched GEMMs (no weights)
    fused_attention,  // FlashAttention: QK^T, softmax, dropout and PV in one kernel
    softmax,          // scaled, masked softmax over attention scores
    dropout,          // dropout, with its residual addition where one follows
    norm,             // LayerNorm or RMSNorm
    activation,       // GeLU, or SwiGLU (silu(gate) * up)
    rotary,           // rotary position embedding of queries and keys
    embedding,        // token (and position) embedding lookup
    cross_entropy,    // softmax cross-entropy over the vocabulary, with fp32 logits
};

// How an operator divides across tensor-parallel ranks (the f and g operators of Megatron-LM,
// Shoeybi et al. 2019, arXiv 1909.08053, Sec. 3).
enum class TensorSplit {
    replicated,  // every tensor-parallel rank holds the whole tensor; under sequence parallelism split along the sequence
    column,      // weight split by output columns; the input is the whole (gathered) activation
    row,         // weight split by input rows; the output is a partial sum reduced across ranks
    heads,       // attention core, split by heads
    vocab,       // embedding table split by vocabulary rows; output reduced like a row-parallel layer
};

struct GemmShape {
    double m = 0;      // rows of the output (tokens)
    double n = 0;      // columns of the output
    double k = 0;      // reduction dimension
    double batch = 1;  // independent products (attention heads x sequences, or local experts)
};

struct Op {
    std::string_view name;  // stable, for timelines: "qkv", "attn_score", "fc1", ...
    OpKind kind = OpKind::gemm;
    TensorSplit split = TensorSplit::replicated;
    GemmShape gemm;           // gemm and attention kinds
    bool expert = false;      // belongs to an expert (its parameters live on expert-parallel ranks)
    Flops forward_flops;
    Flops backward_flops;     // input gradient + weight gradient
    Flops weight_grad_flops;  // the weight-gradient part of backward_flops (zero-bubble schedules defer it)
    Bytes forward_bytes;      // memory traffic of the forward kernel(s)
    Bytes backward_bytes;     // memory traffic of the backward kernel(s)
    double parameters = 0;    // parameters this op holds on this rank
    Bytes output;             // the tensor the forward pass produces (its gradient exists during the backward)
    Bytes saved;              // activations kept for backward without recomputation
    Bytes saved_selective;    // what it keeps under selective recomputation (see SavedTensors::selective)
    bool selective_recompute = false;  // recomputed under selective recomputation (the attention core)
    bool causal = false;      // attention under a causal mask (a fused kernel skips the masked half)
};

// Which part of a layer's forward pass is run again before its backward pass.
enum class Recompute { none, selective, full };

// Which tensors the forward pass keeps for the backward pass. The defaults are the fused kernels
// of Megatron-LM that Korthikanti et al. 2022 count; PyTorch modules run as separate eager ops keep
// more (each op saves its own inputs).
struct SavedTensors {
    // Under selective recomputation: what stays. attention_core: everything but the attention
    // scores, softmax and dropout (Korthikanti Sec. 5); every_other_matmul: the layer's input, the
    // outputs of the 1st, 3rd, 5th and 7th matrix multiplication (query, value, gate, MLP output) and
    // of the attention kernel (torchtitan's per-op policy).
    enum class Selective { attention_core, every_other_matmul };
    Selective selective = Selective::attention_core;
    bool fp32_norm = false;         // the norm upcasts its input to fp32 and keeps it and the normalized 16-bit tensor
    bool fp32_rotary = false;       // rotary embedding in complex fp32: keeps fp32 queries and keys
    bool unfused_swiglu = false;    // silu(gate) * up as three ops: keeps gate, silu(gate) and up (three widths, not two)
    bool repeated_kv = false;       // grouped keys and values repeated to every query head before attention
    bool attention_output_copy = false;  // the attention output made contiguous for the projection: kept twice
    // Under sequence parallelism the column-parallel linears keep their all-gathered input (a
    // redistributed tensor), not their shard of it (Megatron gathers it again for the backward pass).
    bool gathered_inputs = false;
};

// What one rank holds of the model: a neutral description of a shard, not a plan.
struct Shard {
    int tensor = 1;                // tensor-parallel ways
    bool sequence = false;         // sequence parallelism: replicated tensors split along the sequence
    int context = 1;               // context-parallel ways: the sequence split across ranks
    int expert = 1;                // expert-parallel ways
    int micro_batch = 1;           // sequences per micro-batch
    double element_bytes = 2;      // bytes per activation element
    bool fused_attention = false;  // FlashAttention instead of materialised attention scores
    SavedTensors saved;
};

struct LayerGraph {
    std::vector<Op> embedding;  // on the first pipeline stage
    std::vector<Op> dense;      // one dense transformer layer
    std::vector<Op> moe;        // one MoE transformer layer (empty for dense models)
    std::vector<Op> head;       // final norm, output layer and loss, on the last pipeline stage
    // Under full recomputation a layer keeps only its input (Korthikanti Table 2, last row).
    Bytes layer_input;
    // Bytes of the input tensor one pipeline stage sends to the next for one micro-batch.
    Bytes stage_boundary;
    // Logits of one micro-batch on one rank (tokens x vocabulary / tp): the loss's working copies
    // scale with them.
    double logits = 0;
    // Output-layer weights shared with the embedding (tied embeddings): a pipeline whose last stage
    // is not its first keeps a copy there (Megatron-LM), zero for untied models.
    double tied_output_parameters = 0;
};

LayerGraph expand(const ModelSpec& model, const Shard& shard = {});

// Sums over a list of ops.
struct OpTotals {
    Flops forward_flops;
    Flops backward_flops;
    Flops weight_grad_flops;
    Flops selective_recompute_flops;  // forward FLOPs of the ops recomputed under selective recomputation
    double parameters = 0;
    double expert_parameters = 0;
    Bytes saved;
    Bytes saved_selective;
    // Gradients of activations alive at once during the backward pass: the gradient arriving at
    // the ops' last output (the residual stream) and, at the op where they are largest, the
    // gradients of an op's output and of its input (its predecessor's output).
    Bytes backward_working;
};
OpTotals totals(const std::vector<Op>& ops);

// Parameters of the whole model, counted from the unsharded graph.
double parameter_count(const ModelSpec& model);

// FLOPs of one training iteration over `global_batch` sequences, counted from the unsharded graph:
// forward and backward of every op, plus the forward of what `recompute` runs again. With
// Recompute::none these are the model FLOPs of Korthikanti et al. (arXiv 2205.05198, Eq. 7).
Flops iteration_flops(const ModelSpec& model, double global_batch, Recompute recompute);

std::string_view to_string(OpKind kind);

}  // namespace splitsim::model
