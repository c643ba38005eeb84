#include "splitsim/planning/variation.hpp"

#include <cmath>
#include <sstream>

#include "splitsim/common/error.hpp"

namespace splitsim::planning {
namespace {

constexpr std::array<std::string_view, kAllKnobs.size()> kNames{
    "flops", "memory_bandwidth", "memory_capacity", "nvlink_bandwidth", "nic_bandwidth", "latency", "gpus", "global_batch", "seq_len"};

std::string text(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// value x factor as a whole number, or an InputError.
int whole(int value, double factor, Knob knob, const std::string& option) {
    const double scaled = value * factor;
    const double rounded = std::round(scaled);
    if (std::abs(scaled - rounded) > 1e-9 * std::max(1.0, scaled) || rounded < 1 || rounded > 1e9) {
        throw InputError("command line", option,
                         std::string(to_string(knob)) + " " + std::to_string(value) + " x " + text(factor) + " = " + text(scaled) +
                             " is not a whole number");
    }
    return static_cast<int>(rounded);
}

}  // namespace

std::string_view to_string(Knob knob) { return kNames[static_cast<std::size_t>(knob)]; }

std::optional<Knob> knob_from_string(std::string_view name) {
    for (Knob k : kAllKnobs) {
        if (to_string(k) == name) return k;
    }
    return std::nullopt;
}

bool is_hardware(Knob knob) { return knob != Knob::gpus && knob != Knob::global_batch && knob != Knob::seq_len; }

bool applies(const hardware::ClusterSpec& c, Knob knob) {
    switch (knob) {
        case Knob::nic_bandwidth: return c.network.has_value() && c.nodes > 1;
        case Knob::nvlink_bandwidth: return !c.graph;
        case Knob::latency: return !c.graph;
        default: return true;
    }
}

Workload vary(const Workload& base, Knob knob, double factor, const std::string& option) {
    if (!(factor >= kMinFactor && factor <= kMaxFactor)) {
        throw InputError("command line", option,
                         std::string(to_string(knob)) + " factor " + text(factor) + " is outside " + text(kMinFactor) + " to " +
                             text(kMaxFactor));
    }
    Workload w = base;
    hardware::ClusterSpec& c = w.cluster;
    switch (knob) {
        case Knob::flops:
            for (auto& peak : c.device.peak) {
                if (peak) *peak = *peak * factor;
            }
            break;
        case Knob::memory_bandwidth:
            c.device.memory_bandwidth = c.device.memory_bandwidth * factor;
            break;
        case Knob::memory_capacity:
            c.device.memory = c.device.memory * factor;
            // Memory outside the allocator stays what the driver and NCCL take; it must still fit.
            if (c.device.context_memory + c.device.communicator_memory > c.device.memory) {
                throw InputError("command line", option,
                                 "memory_capacity factor " + text(factor) + " leaves less memory than the device's context and communicator take");
            }
            break;
        case Knob::nvlink_bandwidth:
            c.node.gpu_bandwidth = c.node.gpu_bandwidth * factor;
            c.node.socket_link = c.node.socket_link * factor;
            if (c.torus) c.torus->link_bandwidth = c.torus->link_bandwidth * factor;
            for (auto& fit : c.collectives) {
                if (!fit.across_nodes) fit.bandwidth = fit.bandwidth * factor;
            }
            break;
        case Knob::nic_bandwidth:
            if (c.network) c.network->nic_bandwidth = c.network->nic_bandwidth * factor;
            for (auto& fit : c.collectives) {
                if (fit.across_nodes) fit.bandwidth = fit.bandwidth * factor;
            }
            break;
        case Knob::latency:
            c.node.latency = c.node.latency * factor;
            if (c.network) c.network->latency = c.network->latency * factor;
            if (c.torus) c.torus->latency = c.torus->latency * factor;
            for (auto& fit : c.collectives) fit.latency = fit.latency * factor;
            break;
        case Knob::gpus: {
            w.gpus = whole(base.gpus, factor, knob, option);
            if (c.torus || c.graph) {
                if (w.gpus != c.device_count()) {
                    throw InputError("command line", option, "a torus or explicit graph has exactly " + std::to_string(c.device_count()) + " devices");
                }
            } else {
                // Whole nodes, or a power of two that divides one node's GPUs (best_plan.hpp's gpu_counts).
                const bool part_of_node = w.gpus < c.gpus_per_node && c.gpus_per_node % w.gpus == 0 && (w.gpus & (w.gpus - 1)) == 0;
                if (!part_of_node && w.gpus % c.gpus_per_node != 0) {
                    throw InputError("command line", option,
                                     "gpus " + std::to_string(base.gpus) + " x " + text(factor) + " = " + std::to_string(w.gpus) +
                                         " is neither whole " + std::to_string(c.gpus_per_node) + "-GPU nodes nor a power of two within one");
                }
                if (w.gpus > c.device_count()) c.nodes = w.gpus / c.gpus_per_node;  // the cluster grows by nodes of the same kind
            }
            break;
        }
        case Knob::global_batch:
            w.global_batch = whole(base.global_batch, factor, knob, option);
            break;
        case Knob::seq_len:
            w.model.seq_len = whole(base.model.seq_len, factor, knob, option);
            break;
    }
    return w;
}

}  // namespace splitsim::planning
