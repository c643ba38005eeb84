// One accelerator: datasheet figures (topologies/devices/*.json) and the parameters of its kernel
// performance model.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "splitsim/common/precision.hpp"
#include "splitsim/common/units.hpp"

namespace splitsim::hardware {

// A fitted kind of kernel (splitsim calibrate): time = launch + FLOPs / (peak x quantization x
// compute_efficiency) + bytes / (bandwidth x memory_efficiency), a term dropped where its
// efficiency is 0. Efficiencies above 1 mean the data stayed in cache.
struct KernelFit {
    double compute_efficiency = 0;
    double memory_efficiency = 0;
    Seconds launch_overhead;
};

// One CTA tile shape a GEMM library launches: rows x columns of the output one compute unit
// produces at a time.
struct GemmTile {
    int m = 128;
    int n = 128;
};

// How close real kernels come to the datasheet, and at which granularity a GEMM is scheduled.
// Defaults below are documented where they are defined (device.cpp); a device file or a calibration
// profile replaces them.
struct KernelModel {
    double gemm_efficiency = 0.0;       // fraction of peak the main loop of an unconstrained GEMM tile sustains
    double attention_efficiency = 0.0;  // fraction of peak a fused attention kernel sustains
    double memory_efficiency = 0.0;     // fraction of memory bandwidth a streaming kernel sustains
    Seconds launch_overhead;            // fixed cost of one kernel
    // The CTA tiles the GEMM library chooses among (it takes the fastest for each shape); none
    // given means one 128 x 128 tile.
    std::vector<GemmTile> gemm_tiles;
    // Bandwidth from the L2 cache to all compute units together: a tile whose operand stream
    // ((m + n) k elements per m n k multiply-adds) needs more than its share runs slower.
    // 0: the operand stream never limits a tile.
    Bandwidth l2_bandwidth;
    // Fixed time of one tile besides its main loop (pipeline prologue and epilogue); a GEMM pays it
    // once per wave of tiles, so short reductions (small k) lose most to it.
    Seconds gemm_tile_overhead;
    Bytes gemm_workspace;               // cuBLAS/hipBLASLt workspace kept per stream
    double overlap_slowdown = 0;        // compute runs this much slower while communication overlaps it
    // Fitted kinds, by name: model::to_string(OpKind) ("gemm", "norm", ...) or "optimizer", each
    // alone or with the pass it was fitted on ("gemm.backward_weight"), which wins for that pass.
    std::map<std::string, KernelFit, std::less<>> per_kind;
};

struct Interconnect {
    std::string name;
    int links = 0;
    Bandwidth link_bandwidth;            // line rate per link, per direction
    Bandwidth effective_link_bandwidth;  // what transfers sustain per link (NCCL's topology model); line rate if not given
    double in_switch_reduction_efficiency = 0;  // NVLink SHARP throughput relative to the links; 0 if not given
    // All links together, at the sustained rate.
    [[nodiscard]] Bandwidth bandwidth() const { return effective_link_bandwidth * static_cast<double>(links); }
};

// What kind of processor a device is: which harness backend can measure it (splitsim calibrate
// takes CUDA measurements for a GPU and CPU measurements for a CPU only).
enum class DeviceKind { gpu, cpu, tpu };
std::string_view to_string(DeviceKind kind);

struct DeviceSpec {
    std::string name;
    DeviceKind kind = DeviceKind::gpu;
    Bytes memory;
    Bandwidth memory_bandwidth;
    std::array<std::optional<FlopRate>, 5> peak;  // dense peak per Precision (index = enum value)
    int compute_units = 0;
    std::optional<Interconnect> interconnect;
    KernelModel kernels;
    // Device memory outside the training framework's allocator: the driver's context (kernels of the
    // loaded libraries), and the communication library's buffers of one communicator.
    Bytes context_memory;
    Bytes communicator_memory;
    // Thermal design power from the datasheet ("tdp": "400 W"), the most one device draws; what
    // splitsim estimate takes for a device's power unless told otherwise.
    std::optional<double> tdp_watts;

    [[nodiscard]] std::optional<FlopRate> peak_for(Precision p) const { return peak[static_cast<int>(p)]; }
};

// "400 W" or "1.2 kW" as watts; std::invalid_argument for anything else or a value that is not positive.
double parse_watts(std::string_view text);

// `pointer` locates an inline device inside a larger file ("/device" in a cluster file).
DeviceSpec parse_device(const nlohmann::json& json, const std::string& file, const std::string& pointer = "");
// The device in the file format parse_device reads.
nlohmann::json to_json(const DeviceSpec& device);

// The kernel kinds a device file may fit (model::to_string(OpKind) names and "optimizer").
bool is_kernel_kind(std::string_view name);
// A key of KernelModel::per_kind: a kernel kind, or a kind and the pass it was fitted on
// ("gemm.backward_weight"; passes forward, backward, backward_input, backward_weight, step).
bool is_fitted_kernel(std::string_view name);
DeviceSpec load_device(const std::string& path);

}  // namespace splitsim::hardware
