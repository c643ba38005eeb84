#include "splitsim/cost/compute.hpp"

#include <cassert>
#include <cmath>

namespace splitsim::cost {

using model::GemmShape;
using model::Op;
using model::OpKind;

namespace {

bool compute_bound(std::string_view kind) {
    return kind == "gemm" || kind == "attention_gemm" || kind == "fused_attention";
}

}  // namespace

ComputeModel::ComputeModel(const hardware::DeviceSpec& device, Precision precision) : device_(&device) {
    auto peak = device.peak_for(precision);
    assert(peak && "the plan was validated against the device");
    gemm_peak_ = *peak;
    // Fused attention kernels compute in 16-bit even under fp8 training (Transformer Engine's default).
    const Precision attention = precision == Precision::fp8 ? Precision::bf16 : precision;
    attention_peak_ = device.peak_for(attention).value_or(gemm_peak_);
}

double ComputeModel::quantization(const GemmShape& s) const {
    const auto& k = device_->kernels;
    const double row_tiles = std::ceil(s.m / k.tile_m);
    const double col_tiles = std::ceil(s.n / k.tile_n);
    const double tiles = row_tiles * col_tiles * std::ceil(s.batch);
    if (tiles <= 0) return 1.0;
    const double units = device_->compute_units;
    const double waves = std::ceil(tiles / units);
    // Useful output elements over the elements the scheduled tiles could have produced.
    return std::min(1.0, (s.m * s.n * s.batch) / (waves * units * k.tile_m * k.tile_n));
}

double ComputeModel::gemm_efficiency(const GemmShape& s) const { return device_->kernels.gemm_efficiency * quantization(s); }

FlopRate ComputeModel::peak(std::string_view kind) const { return kind == "fused_attention" ? attention_peak_ : gemm_peak_; }

Seconds ComputeModel::kernel_time(std::string_view kind, const GemmShape& shape, Flops flops, Bytes bytes) const {
    const auto& k = device_->kernels;
    const double quant = kind == "fused_attention" ? 1.0 : quantization(shape);
    if (const auto fit = k.per_kind.find(kind); fit != k.per_kind.end()) {
        const hardware::KernelFit& f = fit->second;
        Seconds t = f.launch_overhead;
        if (f.compute_efficiency > 0) t += flops / (peak(kind) * (quant * f.compute_efficiency));
        if (f.memory_efficiency > 0) t += bytes / (device_->memory_bandwidth * f.memory_efficiency);
        return t;
    }
    const Seconds memory = bytes / (device_->memory_bandwidth * k.memory_efficiency);
    if (compute_bound(kind)) {
        const double efficiency = kind == "fused_attention" ? k.attention_efficiency : k.gemm_efficiency * quant;
        return max(flops / (peak(kind) * efficiency), memory) + k.launch_overhead;
    }
    return memory + k.launch_overhead;
}

Seconds ComputeModel::memory_time(Bytes bytes) const { return kernel_time("optimizer", {}, Flops(0), bytes); }

Seconds ComputeModel::gemm_time(const GemmShape& s, Bytes bytes) const {
    return kernel_time("gemm", s, Flops(2.0 * s.m * s.n * s.k * s.batch), bytes);
}

// FlashAttention: a causal mask lets the kernel skip the tiles above the diagonal, half the work;
// the backward pass recomputes QK^T and so runs five products to the forward's two (Dao 2023,
// arXiv 2307.08691, Sec. 3.1-3.2).
Seconds ComputeModel::forward(const Op& op) const {
    const std::string_view kind = model::to_string(op.kind);
    switch (op.kind) {
        case OpKind::gemm:
        case OpKind::attention_gemm: {
            const GemmShape& s = op.gemm;
            return kernel_time(kind, s, Flops(2.0 * s.m * s.n * s.k * s.batch), op.forward_bytes);
        }
        case OpKind::fused_attention: return kernel_time(kind, op.gemm, op.forward_flops * (op.causal ? 0.5 : 1.0), op.forward_bytes);
        default: return kernel_time(kind, {}, Flops(0), op.forward_bytes);
    }
}

Seconds ComputeModel::backward(const Op& op) const {
    const std::string_view kind = model::to_string(op.kind);
    switch (op.kind) {
        case OpKind::gemm:
        case OpKind::attention_gemm: {
            // dX = dY W^T: an m x k output reducing over n; dW = X^T dY: a k x n output reducing over m.
            const GemmShape& s = op.gemm;
            const Flops product(2.0 * s.m * s.n * s.k * s.batch);
            return kernel_time(kind, {s.m, s.k, s.n, s.batch}, product, op.backward_bytes / 2.0) +
                   kernel_time(kind, {s.k, s.n, s.m, s.batch}, product, op.backward_bytes / 2.0);
        }
        case OpKind::fused_attention:
            return kernel_time(kind, op.gemm, op.forward_flops * (2.5 * (op.causal ? 0.5 : 1.0)), op.backward_bytes);
        default: return kernel_time(kind, {}, Flops(0), op.backward_bytes);
    }
}

Seconds ComputeModel::weight_grad(const Op& op) const {
    if (op.kind != OpKind::gemm || op.weight_grad_flops.value() <= 0) return Seconds(0);
    const GemmShape& s = op.gemm;
    return kernel_time("gemm", {s.k, s.n, s.m, s.batch}, Flops(2.0 * s.m * s.n * s.k * s.batch), op.backward_bytes / 2.0);
}

}  // namespace splitsim::cost
