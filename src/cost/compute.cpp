#include "splitsim/cost/compute.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <span>

namespace splitsim::cost {

using model::GemmShape;
using model::Op;
using model::OpKind;

namespace {

bool gemm_kind(std::string_view kind) { return kind == "gemm" || kind == "attention_gemm"; }

bool compute_bound(std::string_view kind) { return gemm_kind(kind) || kind == "fused_attention"; }

double operand_bytes(Precision p) {
    switch (p) {
        case Precision::fp8: return 1.0;
        case Precision::fp32:
        case Precision::tf32: return 4.0;
        case Precision::bf16:
        case Precision::fp16: return 2.0;
    }
    return 2.0;
}

}  // namespace

ComputeModel::ComputeModel(const hardware::DeviceSpec& device, Precision precision, GradientAccumulation accumulation,
                           int time_sharing)
    : device_(&device), time_sharing_(time_sharing), input_bytes_(operand_bytes(precision)), accumulation_(accumulation) {
    auto peak = device.peak_for(precision);
    assert(peak && "the plan was validated against the device");
    gemm_peak_ = *peak;
    // Fused attention kernels compute in 16-bit even under fp8 training (Transformer Engine's default).
    const Precision attention = precision == Precision::fp8 ? Precision::bf16 : precision;
    attention_peak_ = device.peak_for(attention).value_or(gemm_peak_);
}

GemmSchedule ComputeModel::gemm_schedule(const GemmShape& s) const {
    return gemm_schedule(s, Flops(2.0 * s.m * s.n * s.k * s.batch));
}

GemmSchedule ComputeModel::gemm_schedule(const GemmShape& s, Flops flops) const {
    const hardware::KernelModel& k = device_->kernels;
    const double units = device_->compute_units;
    GemmSchedule best;
    bool found = false;
    static constexpr hardware::GemmTile kDefault{128, 128};
    const std::span<const hardware::GemmTile> tiles_offered =
        k.gemm_tiles.empty() ? std::span<const hardware::GemmTile>(&kDefault, 1) : std::span<const hardware::GemmTile>(k.gemm_tiles);
    for (const hardware::GemmTile& tile : tiles_offered) {
        GemmSchedule c;
        c.tile = tile;
        const double tiles = std::ceil(s.m / tile.m) * std::ceil(s.n / tile.n) * std::ceil(s.batch);
        if (tiles <= 0) return c;  // an empty product
        c.waves = std::ceil(tiles / units);
        // Useful output elements over those the scheduled waves could have produced.
        c.quantization = std::min(1.0, (s.m * s.n * s.batch) / (c.waves * units * tile.m * tile.n));
        // The main loop streams (m_t + n_t) k operand elements from L2 per 2 m_t n_t k FLOPs; all
        // units together may draw at most l2_bandwidth.
        if (k.l2_bandwidth.value() > 0) {
            const double bytes_per_flop = input_bytes_ * (tile.m + tile.n) / (2.0 * tile.m * tile.n);
            const double demand = gemm_peak_.value() * k.gemm_efficiency * bytes_per_flop;
            c.tile_efficiency = std::min(1.0, k.l2_bandwidth.value() / demand);
        }
        c.compute = flops / (gemm_peak_ * (k.gemm_efficiency * c.tile_efficiency * c.quantization)) +
                    k.gemm_tile_overhead * c.waves;
        if (!found || c.compute < best.compute) best = c;
        found = true;
    }
    return best;
}

double ComputeModel::quantization(const GemmShape& s) const { return gemm_schedule(s).quantization; }

double ComputeModel::gemm_efficiency(const GemmShape& s) const {
    const GemmSchedule g = gemm_schedule(s);
    if (g.compute.value() <= 0) return device_->kernels.gemm_efficiency;
    return 2.0 * s.m * s.n * s.k * s.batch / (g.compute * gemm_peak_).value();
}

FlopRate ComputeModel::peak(std::string_view kind) const { return kind == "fused_attention" ? attention_peak_ : gemm_peak_; }

Seconds ComputeModel::kernel_time(std::string_view kind, const GemmShape& shape, Flops flops, Bytes bytes,
                                  std::string_view pass) const {
    return device_kernel_time(kind, shape, flops, bytes, pass) * time_sharing_;
}

Seconds ComputeModel::device_kernel_time(std::string_view kind, const GemmShape& shape, Flops flops, Bytes bytes,
                                         std::string_view pass) const {
    const auto& k = device_->kernels;
    auto fit = k.per_kind.end();
    if (!pass.empty()) fit = k.per_kind.find(std::string(kind) + "." + std::string(pass));
    if (fit == k.per_kind.end()) fit = k.per_kind.find(kind);
    if (fit != k.per_kind.end()) {
        const hardware::KernelFit& f = fit->second;
        const double quant = gemm_kind(kind) ? quantization(shape) : 1.0;
        Seconds t = f.launch_overhead;
        if (f.compute_efficiency > 0) t += flops / (peak(kind) * (quant * f.compute_efficiency));
        if (f.memory_efficiency > 0) t += bytes / (device_->memory_bandwidth * f.memory_efficiency);
        return t;
    }
    const Seconds memory = bytes / (device_->memory_bandwidth * k.memory_efficiency);
    if (gemm_kind(kind)) return max(gemm_schedule(shape, flops).compute, memory) + k.launch_overhead;
    if (compute_bound(kind)) return max(flops / (peak(kind) * k.attention_efficiency), memory) + k.launch_overhead;
    return memory + k.launch_overhead;
}

Seconds ComputeModel::memory_time(Bytes bytes) const { return kernel_time("optimizer", {}, Flops(0), bytes, "step"); }

Seconds ComputeModel::gemm_time(const GemmShape& s, Bytes bytes) const {
    return kernel_time("gemm", s, Flops(2.0 * s.m * s.n * s.k * s.batch), bytes);
}

Seconds ComputeModel::accumulation_time(double parameters, Bytes gemm_bytes, const GemmShape& shape) const {
    if (parameters <= 0) return Seconds(0);
    const double grad_bytes = input_bytes_ >= 4 ? 4.0 : 2.0;  // the fresh gradient, in the parameters' format
    const double g = accumulation_.main_grad_bytes;
    if (accumulation_.fused) {
        // The epilogue reads and writes the main gradient instead of writing a fresh one: only
        // the extra traffic, which costs time where the GEMM is memory-bound.
        const Bytes extra(parameters * (2 * g - grad_bytes));
        const Flops f(2.0 * shape.m * shape.n * shape.k * shape.batch);
        return kernel_time("gemm", shape, f, gemm_bytes + extra, "backward_weight") - kernel_time("gemm", shape, f, gemm_bytes, "backward_weight");
    }
    // A separate kernel reads the fresh gradient and the main gradient and writes the sum.
    return memory_time(Bytes(parameters * (grad_bytes + 2 * g)));
}

Seconds ComputeModel::forward(const Op& op) const {
    const std::string_view kind = model::to_string(op.kind);
    switch (op.kind) {
        case OpKind::gemm:
        case OpKind::attention_gemm: {
            const GemmShape& s = op.gemm;
            return kernel_time(kind, s, Flops(2.0 * s.m * s.n * s.k * s.batch), op.forward_bytes, "forward");
        }
        // FlashAttention: a causal mask lets the kernel skip the tiles above the diagonal, half the
        // work (Dao 2023, arXiv 2307.08691, Sec. 3.1-3.2).
        case OpKind::fused_attention:
            return kernel_time(kind, op.gemm, op.forward_flops * (op.causal ? 0.5 : 1.0), op.forward_bytes, "forward");
        default: return kernel_time(kind, {}, Flops(0), op.forward_bytes, "forward");
    }
}

Seconds ComputeModel::backward(const Op& op) const {
    const std::string_view kind = model::to_string(op.kind);
    switch (op.kind) {
        case OpKind::gemm: {
            // dX = dY W^T: an m x k output reducing over n; then the weight gradient.
            const GemmShape& s = op.gemm;
            const Flops product(2.0 * s.m * s.n * s.k * s.batch);
            return kernel_time(kind, {s.m, s.k, s.n, s.batch}, product, op.backward_bytes / 2.0, "backward_input") + weight_grad(op);
        }
        case OpKind::attention_gemm: {
            // Gradients of both operands: an m x k output reducing over n, a k x n output reducing over m.
            const GemmShape& s = op.gemm;
            const Flops product(2.0 * s.m * s.n * s.k * s.batch);
            return kernel_time(kind, {s.m, s.k, s.n, s.batch}, product, op.backward_bytes / 2.0, "backward_input") +
                   kernel_time(kind, {s.k, s.n, s.m, s.batch}, product, op.backward_bytes / 2.0, "backward_weight");
        }
        // The backward pass recomputes QK^T and so runs five products to the forward's two (Dao 2023, Sec. 3.2).
        case OpKind::fused_attention:
            return kernel_time(kind, op.gemm, op.forward_flops * (2.5 * (op.causal ? 0.5 : 1.0)), op.backward_bytes, "backward");
        default: return kernel_time(kind, {}, Flops(0), op.backward_bytes, "backward");
    }
}

Seconds ComputeModel::weight_grad(const Op& op) const {
    if (op.kind != OpKind::gemm || op.weight_grad_flops.value() <= 0) return Seconds(0);
    // dW = X^T dY: a k x n output reducing over m, then its accumulation into the main gradient.
    const GemmShape& s = op.gemm;
    const GemmShape w{s.k, s.n, s.m, s.batch};
    const Bytes bytes = op.backward_bytes / 2.0;
    return kernel_time("gemm", w, Flops(2.0 * s.m * s.n * s.k * s.batch), bytes, "backward_weight") +
           accumulation_time(op.parameters, bytes, w);
}

}  // namespace splitsim::cost
