#include "splitsim/cost/compute.hpp"

#include <cassert>
#include <cmath>

namespace splitsim::cost {

using model::GemmShape;
using model::Op;
using model::OpKind;

ComputeModel::ComputeModel(const hardware::DeviceSpec& device, Precision precision) : device_(&device) {
    auto peak = device.peak_for(precision);
    assert(peak && "the plan was validated against the device");
    gemm_peak_ = *peak;
    // Fused attention kernels compute in 16-bit even under fp8 training (Transformer Engine's default).
    const Precision attention = precision == Precision::fp8 ? Precision::bf16 : precision;
    attention_peak_ = device.peak_for(attention).value_or(gemm_peak_);
}

double ComputeModel::gemm_efficiency(const GemmShape& s) const {
    const auto& k = device_->kernels;
    const double row_tiles = std::ceil(s.m / k.tile_m);
    const double col_tiles = std::ceil(s.n / k.tile_n);
    const double tiles = row_tiles * col_tiles * std::ceil(s.batch);
    if (tiles <= 0) return k.gemm_efficiency;
    const double units = device_->compute_units;
    const double waves = std::ceil(tiles / units);
    // Useful output elements over the elements the scheduled tiles could have produced.
    const double quantization = (s.m * s.n * s.batch) / (waves * units * k.tile_m * k.tile_n);
    return k.gemm_efficiency * std::min(1.0, quantization);
}

Seconds ComputeModel::memory_time(Bytes bytes) const {
    const auto& k = device_->kernels;
    return bytes / (device_->memory_bandwidth * k.memory_efficiency) + k.launch_overhead;
}

Seconds ComputeModel::gemm_time(const GemmShape& s, Bytes bytes) const {
    const auto& k = device_->kernels;
    const Flops flops(2.0 * s.m * s.n * s.k * s.batch);
    const Seconds compute = flops / (gemm_peak_ * gemm_efficiency(s));
    const Seconds memory = bytes / (device_->memory_bandwidth * k.memory_efficiency);
    return max(compute, memory) + k.launch_overhead;
}

// FlashAttention: a causal mask lets the kernel skip the tiles above the diagonal, half the work;
// the backward pass recomputes QK^T and so runs five products to the forward's two (Dao 2023,
// arXiv 2307.08691, Sec. 3.1-3.2).
Seconds ComputeModel::attention_time(const Op& op, double flop_factor, Bytes bytes) const {
    const auto& k = device_->kernels;
    const double causal = op.causal ? 0.5 : 1.0;
    const Flops flops = op.forward_flops * (flop_factor * causal);
    const Seconds compute = flops / (attention_peak_ * k.attention_efficiency);
    const Seconds memory = bytes / (device_->memory_bandwidth * k.memory_efficiency);
    return max(compute, memory) + k.launch_overhead;
}

Seconds ComputeModel::forward(const Op& op) const {
    switch (op.kind) {
        case OpKind::gemm:
        case OpKind::attention_gemm: return gemm_time(op.gemm, op.forward_bytes);
        case OpKind::fused_attention: return attention_time(op, 1.0, op.forward_bytes);
        default: return memory_time(op.forward_bytes);
    }
}

Seconds ComputeModel::backward(const Op& op) const {
    switch (op.kind) {
        case OpKind::gemm:
        case OpKind::attention_gemm: {
            // dX = dY W^T: an m x k output reducing over n; dW = X^T dY: a k x n output reducing over m.
            const GemmShape& s = op.gemm;
            return gemm_time({s.m, s.k, s.n, s.batch}, op.backward_bytes / 2.0) +
                   gemm_time({s.k, s.n, s.m, s.batch}, op.backward_bytes / 2.0);
        }
        case OpKind::fused_attention: return attention_time(op, 2.5, op.backward_bytes);
        default: return memory_time(op.backward_bytes);
    }
}

Seconds ComputeModel::weight_grad(const Op& op) const {
    if (op.kind != OpKind::gemm || op.weight_grad_flops.value() <= 0) return Seconds(0);
    const GemmShape& s = op.gemm;
    return gemm_time({s.k, s.n, s.m, s.batch}, op.backward_bytes / 2.0);
}

}  // namespace splitsim::cost
