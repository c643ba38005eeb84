#include "splitsim/validate/cases.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "splitsim/model/layer_graph.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/rank_layout.hpp"

namespace splitsim::validate {
namespace {

using model::Op;
using model::OpKind;

std::int64_t scaled(double value, double scale) {
    return std::max<std::int64_t>(1, std::llround(value * scale));
}

// The kernel cases of one op, or none for ops the harness has no kernel for.
void add_op(std::vector<KernelCase>& out, const Op& op, const model::ModelSpec& m, const model::Shard& shard,
            double scale) {
    const double t = shard.tensor;
    const double seq_split = shard.sequence ? t : 1.0;
    const double tokens = static_cast<double>(shard.micro_batch) * m.seq_len / shard.context;
    KernelCase c;
    c.op = std::string(op.name);
    c.kind = std::string(model::to_string(op.kind));
    c.scale = scale;
    switch (op.kind) {
        case OpKind::gemm:
        case OpKind::attention_gemm:
            c.kernel = Kernel::gemm;
            c.gemm.m = scaled(op.gemm.m, scale);
            c.gemm.n = std::llround(op.gemm.n);
            c.gemm.k = std::llround(op.gemm.k);
            c.gemm.batch = std::llround(op.gemm.batch);
            // Linear layers hold W as n x k (Y = X W^T, as torch.nn.Linear) and QK^T reads K as
            // s_kv x d = n x k; the product with V reads V as s_kv x d = k x n.
            c.b_transposed = op.name != "attn_context";
            c.gemm.trans_b = c.b_transposed;
            break;
        case OpKind::norm:
            c.kernel = m.norm == model::Norm::layernorm ? Kernel::layernorm : Kernel::rmsnorm;
            c.rows = {scaled(tokens / seq_split, scale), m.hidden};
            c.elements = c.rows.rows * c.rows.cols;
            break;
        case OpKind::softmax:
            // The sweep scales the number of score blocks (sequences x heads), so the causal mask
            // keeps its meaning.
            c.kernel = Kernel::softmax;
            c.softmax.batch = scaled(static_cast<double>(shard.micro_batch) * m.heads / t, scale);
            c.softmax.queries = std::llround(static_cast<double>(m.seq_len) / shard.context);
            c.softmax.keys = m.seq_len;
            c.softmax.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(m.head_dim())));
            c.softmax.causal = m.causal;
            c.elements = c.softmax.rows() * c.softmax.keys;
            break;
        case OpKind::activation: {
            const double width = (op.expert ? m.moe->expert_ffn_hidden : m.ffn_hidden) / t;
            const double rows = tokens * (op.expert ? m.moe->top_k : 1);
            if (m.activation == model::Activation::swiglu) {
                c.kernel = Kernel::swiglu;
                c.rows = {scaled(rows, scale), std::llround(width)};
                c.elements = c.rows.rows * c.rows.cols;
            } else {
                c.kernel = Kernel::gelu;
                c.elements = scaled(rows, scale) * std::llround(width);
            }
            break;
        }
        case OpKind::cross_entropy:
            c.kernel = Kernel::cross_entropy;
            c.rows = {scaled(tokens, scale), std::llround(m.vocab / t)};
            c.elements = c.rows.rows * c.rows.cols;
            break;
        case OpKind::fused_attention:  // no flash-attention kernel in the harness
        case OpKind::dropout:          // no dropout kernel (the residual add rides with it)
        case OpKind::rotary:           // no rotary-embedding kernel
        case OpKind::embedding:        // no embedding lookup kernel
            return;
    }
    out.push_back(std::move(c));
}

}  // namespace

std::string_view to_string(Pass p) {
    switch (p) {
        case Pass::forward: return "forward";
        case Pass::backward_input: return "backward_input";
        case Pass::backward_weight: return "backward_weight";
        case Pass::backward: return "backward";
        case Pass::step: return "step";
    }
    return "?";
}

std::vector<Pass> passes_of(Kernel k) {
    switch (k) {
        case Kernel::gemm: return {Pass::forward, Pass::backward_input, Pass::backward_weight};
        case Kernel::adam: return {Pass::step};
        default: return {Pass::forward, Pass::backward};
    }
}

kernels::GemmShape gemm_product(const KernelCase& c, Pass p) {
    const kernels::GemmShape& f = c.gemm;
    switch (p) {
        case Pass::backward_input:
            // dX[m, k] = dY[m, n] op(W)^T: W stored n x k is read as is, W stored k x n transposed.
            return {f.m, f.k, f.n, f.batch, false, !c.b_transposed, f.tf32};
        case Pass::backward_weight:
            // dW[n, k] = dY^T X (dY stored m x n, X m x k), or dW[k, n] = X^T dY.
            return c.b_transposed ? kernels::GemmShape{f.n, f.k, f.m, f.batch, true, false, f.tf32}
                                  : kernels::GemmShape{f.k, f.n, f.m, f.batch, true, false, f.tf32};
        default: return f;
    }
}

std::vector<KernelCase> kernel_cases(const model::ModelSpec& model, const plan::Plan& plan,
                                     std::span<const double> scales) {
    const model::Shard shard = plan::shard_of(plan);
    const model::LayerGraph graph = model::expand(model, shard);
    std::vector<KernelCase> out;
    for (double scale : scales) {
        for (const auto* ops : {&graph.dense, &graph.moe, &graph.head}) {
            for (const Op& op : *ops) add_op(out, op, model, shard, scale);
        }
        // The optimizer steps over every parameter of the rank's stage; one layer's share is the
        // unit the harness times (a stage's step is that times its layers, plus the embedding and
        // head). A MoE model's layer is timed as its MoE layer, the larger of the two.
        const model::OpTotals layer = model::totals(graph.moe.empty() ? graph.dense : graph.moe);
        KernelCase adam;
        adam.op = "adam";
        adam.kind = "optimizer";
        adam.kernel = Kernel::adam;
        adam.scale = scale;
        adam.elements = scaled(layer.parameters + layer.expert_parameters, scale);  // experts already local
        out.push_back(std::move(adam));
    }
    return out;
}

std::vector<GroupCase> group_cases(const plan::Plan& plan, int ranks, std::vector<std::string>* skipped) {
    // Each group as one strided run of ranks in the plan's layout; the data-parallel group is the
    // one dense gradients are reduced over: dp x cp ranks, expert and context ranks included.
    const plan::RankLayout placed(plan);
    struct Wanted {
        std::string name;
        std::optional<plan::StridedGroup> run;
    };
    const std::vector<Wanted> wanted = {
        {"tensor", placed.run({plan::Dim::tensor})},
        {"data", placed.run({plan::Dim::context, plan::Dim::expert, plan::Dim::data})},
        {"pipeline", placed.run({plan::Dim::pipeline})},
        {"context", placed.run({plan::Dim::context})},
        {"expert", placed.expert_run()},
        {"world", plan::StridedGroup{ranks, 1}},
    };
    std::vector<GroupCase> out;
    for (const Wanted& w : wanted) {
        if (!w.run) {
            if (skipped != nullptr) skipped->push_back(w.name + " groups are not one strided run of ranks in the plan's order");
            continue;
        }
        const GroupCase g{w.name, {w.run->size, w.run->stride}};
        if (g.layout.size <= 1) continue;
        const bool duplicate = std::any_of(out.begin(), out.end(), [&](const GroupCase& o) {
            return o.layout.size == g.layout.size && o.layout.stride == g.layout.stride;
        });
        if (duplicate) continue;
        if (!g.layout.fits(ranks)) {
            if (skipped != nullptr) {
                skipped->push_back(g.name + " groups (" + std::to_string(g.layout.size) + " ranks, " +
                                   std::to_string(g.layout.stride) + " apart) do not fit " + std::to_string(ranks) +
                                   " ranks");
            }
            continue;
        }
        out.push_back(g);
    }
    return out;
}

std::vector<std::int64_t> size_sweep(std::int64_t min_bytes, std::int64_t max_bytes) {
    std::vector<std::int64_t> out;
    std::int64_t s = 1;
    while (s < min_bytes) s *= 2;
    for (; s <= max_bytes; s *= 2) out.push_back(s);
    return out;
}

}  // namespace splitsim::validate
