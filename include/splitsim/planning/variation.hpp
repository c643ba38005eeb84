// What-if variations of a workload: one hardware resource of the cluster, the GPU count, the global
// batch or the sequence length scaled by a factor. A hardware variation is applied to the cluster
// value (its device and fabrics), never patched into the cost models or the engine.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"

namespace splitsim::planning {

enum class Knob {
    flops,              // the device's peak FLOP/s, every precision
    memory_bandwidth,   // the device's memory bandwidth
    memory_capacity,    // the device's memory
    nvlink_bandwidth,   // per-GPU bandwidth into the node fabric (NVLink, PCIe) or of torus links
    nic_bandwidth,      // per-NIC bandwidth of the scale-out network
    latency,            // node-fabric, network and torus hop latencies
    gpus,               // the GPU count
    global_batch,       // sequences per iteration
    seq_len,            // tokens per sequence
};
inline constexpr std::array<Knob, 9> kAllKnobs{Knob::flops,       Knob::memory_bandwidth, Knob::memory_capacity,
                                               Knob::nvlink_bandwidth, Knob::nic_bandwidth, Knob::latency,
                                               Knob::gpus,        Knob::global_batch,     Knob::seq_len};
std::string_view to_string(Knob knob);
// The knob of a name (to_string's), or nothing.
std::optional<Knob> knob_from_string(std::string_view name);
[[nodiscard]] bool is_hardware(Knob knob);

// The factors a knob may be scaled by: 1/100 to 100. Beyond them the cost models leave the ranges
// they were measured in (and a factor of 0 or less means nothing).
inline constexpr double kMinFactor = 0.01;
inline constexpr double kMaxFactor = 100.0;

// The workload one variation describes.
struct Workload {
    model::ModelSpec model;
    hardware::ClusterSpec cluster;
    int gpus = 0;
    int global_batch = 0;
};

// Whether the cluster has the resource a hardware knob scales (a single node uses no NIC).
[[nodiscard]] bool applies(const hardware::ClusterSpec& cluster, Knob knob);

// The workload with one knob scaled by `factor`. GPU count, batch and sequence length must stay
// whole numbers (and whole nodes for GPUs); a cluster grows by nodes where the GPU count asks for
// more. Throws InputError (naming `option`) for factors outside [kMinFactor, kMaxFactor] or that
// give no whole value.
Workload vary(const Workload& base, Knob knob, double factor, const std::string& option = "--factors");

}  // namespace splitsim::planning
