// Time of one operator on one device: a roofline (the larger of compute time at the achievable
// FLOP rate and memory time at the achievable bandwidth) plus a launch overhead, where the FLOP
// rate of a GEMM depends on its shape through the tile the GEMM library picks for it, tile and
// wave quantization, the tile's operand bandwidth and a fixed cost per wave of tiles.
#pragma once

#include <string_view>

#include "splitsim/common/precision.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/device.hpp"
#include "splitsim/model/layer_graph.hpp"

namespace splitsim::cost {

// How the weight gradient of each micro-batch reaches the optimizer's main gradients.
struct GradientAccumulation {
    // Fused (Megatron-LM --gradient-accumulation-fusion): the weight-gradient GEMM accumulates into
    // the main gradient in its epilogue (beta = 1), reading and writing it once. Otherwise the GEMM
    // writes a fresh gradient and a separate kernel adds it to the main gradient (PyTorch's
    // AccumulateGrad, or Megatron's main_grad.add_ hook).
    bool fused = true;
    double main_grad_bytes = 4;  // bytes per main-gradient element (fp32, or fp16 under fp16 training)
};

// How a GEMM of one shape runs: the tile the library picks for it and what that costs.
struct GemmSchedule {
    hardware::GemmTile tile;
    double waves = 0;            // ceil(tiles / compute units)
    double quantization = 1;     // useful output elements / the elements the scheduled waves could produce
    double tile_efficiency = 1;  // main-loop rate of the tile relative to gemm_efficiency (L2 operand limit)
    Seconds compute;             // main loops at the GEMM peak plus one tile overhead per wave
};

class ComputeModel {
public:
    // `precision` selects the peak for GEMMs; attention runs in 16-bit under fp8 training.
    // `time_sharing` ranks share the device (ClusterSpec::ranks_per_device): each kernel takes that
    // many times its time on a device of its own.
    ComputeModel(const hardware::DeviceSpec& device, Precision precision, GradientAccumulation accumulation = {},
                 int time_sharing = 1);

    [[nodiscard]] Seconds forward(const model::Op& op) const;
    [[nodiscard]] Seconds backward(const model::Op& op) const;     // input and weight gradients
    [[nodiscard]] Seconds weight_grad(const model::Op& op) const;  // the weight-gradient part of backward()

    // The tile the GEMM library picks for a product of this shape doing `flops` (2 m n k batch
    // unless given): of the device's tiles, the one that finishes first. A tile of m_t x n_t
    // outputs is scheduled on one compute unit; ceil(m/m_t) ceil(n/n_t) batch tiles run in waves
    // of one per unit (tile and wave quantization: NVIDIA Deep Learning Performance Guide, "Matrix
    // Multiplication Background", Sec. 3). Each wave takes the tile's main loop, 2 m_t n_t k FLOPs
    // at (peak / units) x gemm_efficiency x tile_efficiency, plus gemm_tile_overhead.
    [[nodiscard]] GemmSchedule gemm_schedule(const model::GemmShape& shape) const;
    [[nodiscard]] GemmSchedule gemm_schedule(const model::GemmShape& shape, Flops flops) const;
    // Fraction of the GEMM peak a product of this shape sustains (memory and launch aside).
    [[nodiscard]] double gemm_efficiency(const model::GemmShape& shape) const;

    // The one formula behind every time: a kernel of `kind` (model::to_string(OpKind) or
    // "optimizer") doing `flops` over an output of `shape` and moving `bytes`. GEMMs run as
    // gemm_schedule() costs them, fused attention at the attention peak x efficiency, unless
    // memory is slower; the other kinds at memory bandwidth x efficiency; each pays a launch
    // overhead. A fitted kind (KernelModel::per_kind) uses its own efficiency and overhead.
    // `pass` ("forward", "backward", "backward_input", "backward_weight", "step"; empty: any)
    // selects a fit made on that pass of the kind, where the device has one.
    [[nodiscard]] Seconds kernel_time(std::string_view kind, const model::GemmShape& shape, Flops flops, Bytes bytes,
                                      std::string_view pass = {}) const;
    // Time of a GEMM of this shape moving `bytes`, launch overhead included.
    [[nodiscard]] Seconds gemm_time(const model::GemmShape& shape, Bytes bytes) const;
    // Time of a memory-bound kernel (the optimizer step, gradient accumulation) moving `bytes`,
    // launch overhead included.
    [[nodiscard]] Seconds memory_time(Bytes bytes) const;
    // Tile and wave quantization alone of the tile gemm_schedule() picks (1 for a shape that fills
    // every tile and wave).
    [[nodiscard]] double quantization(const model::GemmShape& shape) const;
    [[nodiscard]] FlopRate peak(std::string_view kind) const;

    [[nodiscard]] const hardware::DeviceSpec& device() const { return *device_; }
    [[nodiscard]] FlopRate gemm_peak() const { return gemm_peak_; }

private:
    // kernel_time() on a device of its own.
    [[nodiscard]] Seconds device_kernel_time(std::string_view kind, const model::GemmShape& shape, Flops flops, Bytes bytes,
                                             std::string_view pass) const;
    // Time to add one micro-batch's weight gradient of `parameters` to the main gradients, beyond
    // the weight-gradient GEMM itself.
    [[nodiscard]] Seconds accumulation_time(double parameters, Bytes gemm_bytes, const model::GemmShape& shape) const;

    const hardware::DeviceSpec* device_;
    double time_sharing_ = 1;
    FlopRate gemm_peak_;
    FlopRate attention_peak_;
    double input_bytes_;  // bytes per GEMM operand element
    GradientAccumulation accumulation_;
};

}  // namespace splitsim::cost
