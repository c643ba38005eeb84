// What the harness measures for a model and a plan: the kernels one rank runs, at the shard shapes
// splitsim::model::expand gives for splitsim::plan::shard_of(plan) (plus a sweep around them), and
// the groups its collectives run in.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "splitsim/kernels/backend.hpp"
#include "splitsim/kernels/comm.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::validate {

enum class Kernel { gemm, layernorm, rmsnorm, softmax, gelu, swiglu, cross_entropy, adam };

// The passes of a kernel: a GEMM's forward, input-gradient and weight-gradient products; forward and
// backward of the other kernels; one step of the optimizer.
enum class Pass { forward, backward_input, backward_weight, backward, step };
std::string_view to_string(Pass p);
std::vector<Pass> passes_of(Kernel k);

// One kernel at one shape.
struct KernelCase {
    std::string op;    // the model's op name ("qkv", "attn_softmax"), or "adam"
    std::string kind;  // splitsim::model::to_string(OpKind), or "optimizer"
    Kernel kernel = Kernel::gemm;
    double scale = 1;  // 1 at the plan's shape; the sweep scales tokens (GEMM m, rows, elements)
    // gemm: the op's product C[m, n] = A[m, k] B, B stored n x k (a linear layer's weight, keys)
    // when b_transposed, else k x n (values).
    kernels::GemmShape gemm;
    bool b_transposed = true;
    kernels::Rows rows;        // norms (tokens x hidden), SwiGLU (tokens x width), cross-entropy (tokens x vocab)
    kernels::Softmax softmax;  // attention scores
    std::int64_t elements = 0; // GeLU and Adam: elements; the others: elements of the main tensor

    [[nodiscard]] bool at_plan_shape() const { return scale == 1; }
};

// The product a GEMM pass computes (as GemmShape, C = op(A) op(B)), for a linear layer
// Y = X op(W): forward Y = X op(W); backward_input dX = dY op(W)^T; backward_weight dW = dY^T X
// (W stored n x k) or X^T dY (W stored k x n). For attention GEMMs the second operand (K or V)
// takes the weight's place.
kernels::GemmShape gemm_product(const KernelCase& c, Pass p);

// The kernels of one rank for one micro-batch (one dense layer, the MoE layer if any, the head)
// and one AdamW step over one layer's parameters on this rank, at each of `scales` times the
// plan's token count. Ops without a kernel here are skipped: dropout (with its residual add),
// rotary embeddings, the embedding lookup and fused (flash) attention.
std::vector<KernelCase> kernel_cases(const model::ModelSpec& model, const plan::Plan& plan,
                                     std::span<const double> scales);

// A parallel dimension's collective groups in a world of `ranks` ranks.
struct GroupCase {
    std::string name;  // "tensor", "data", "pipeline", "context", "expert", "world"
    kernels::GroupLayout layout;
};

// Tensor-parallel, dense data-parallel (the dp x cp ranks gradients are reduced over), pipeline, context-parallel
// and expert-parallel groups laid out in the plan's order by plan::RankLayout (by default tp consecutive ranks, dp ranks tp x cp
// apart, pp ranks tp x cp x dp apart) and the whole world, each layout once, skipping groups of one
// rank. Groups that do not tile `ranks`, or are not one strided run, are returned in `skipped` with
// the reason.
std::vector<GroupCase> group_cases(const plan::Plan& plan, int ranks, std::vector<std::string>* skipped);

// Powers of two from `min_bytes` to `max_bytes`, inclusive.
std::vector<std::int64_t> size_sweep(std::int64_t min_bytes, std::int64_t max_bytes);

}  // namespace splitsim::validate
