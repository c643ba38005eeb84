// Time of one operator on one device: a roofline (the larger of compute time at the achievable
// FLOP rate and memory time at the achievable bandwidth) plus a launch overhead, where the FLOP
// rate of a GEMM depends on its shape through tile and wave quantization.
#pragma once

#include <string_view>

#include "splitsim/common/precision.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/device.hpp"
#include "splitsim/model/layer_graph.hpp"

namespace splitsim::cost {

class ComputeModel {
public:
    // `precision` selects the peak for GEMMs; attention runs in 16-bit under fp8 training.
    ComputeModel(const hardware::DeviceSpec& device, Precision precision);

    [[nodiscard]] Seconds forward(const model::Op& op) const;
    [[nodiscard]] Seconds backward(const model::Op& op) const;     // input and weight gradients
    [[nodiscard]] Seconds weight_grad(const model::Op& op) const;  // the weight-gradient part of backward()

    // Fraction of the GEMM peak a product of this shape sustains: the device's large-GEMM
    // efficiency times tile quantization (partial tiles at the edges) times wave quantization
    // (the last wave of tiles leaves compute units idle). NVIDIA Deep Learning Performance Guide,
    // "Matrix Multiplication Background", sections on tile and wave quantization.
    [[nodiscard]] double gemm_efficiency(const model::GemmShape& shape) const;

    // The one formula behind every time: a kernel of `kind` (model::to_string(OpKind) or
    // "optimizer") doing `flops` over an output of `shape` and moving `bytes`. GEMMs and attention
    // run at the compute peak x efficiency (x tile and wave quantization for GEMMs) unless memory
    // is slower; the other kinds at memory bandwidth x efficiency; each pays a launch overhead.
    // A fitted kind (KernelModel::per_kind) uses its own efficiency and overhead.
    [[nodiscard]] Seconds kernel_time(std::string_view kind, const model::GemmShape& shape, Flops flops, Bytes bytes) const;
    // Time of a GEMM of this shape moving `bytes`, launch overhead included.
    [[nodiscard]] Seconds gemm_time(const model::GemmShape& shape, Bytes bytes) const;
    // Time of the optimizer's memory-bound kernel moving `bytes`, launch overhead included.
    [[nodiscard]] Seconds memory_time(Bytes bytes) const;
    // Tile and wave quantization alone (1 for a shape that fills every tile and wave).
    [[nodiscard]] double quantization(const model::GemmShape& shape) const;
    [[nodiscard]] FlopRate peak(std::string_view kind) const;

    [[nodiscard]] const hardware::DeviceSpec& device() const { return *device_; }
    [[nodiscard]] FlopRate gemm_peak() const { return gemm_peak_; }

private:
    const hardware::DeviceSpec* device_;
    FlopRate gemm_peak_;
    FlopRate attention_peak_;
};

}  // namespace splitsim::cost
