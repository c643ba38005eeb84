// A cluster as people describe it (topologies/*.json): a device type, how many, and the fabrics
// that connect them. topology.hpp turns this description into a graph of devices, switches and links.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "splitsim/common/collective.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/device.hpp"

namespace splitsim::hardware {

// The fabric inside one node (or one scale-up domain such as an NVL72 rack).
enum class NodeFabric {
    nvswitch,  // every GPU linked to NVSwitches: full bisection at the per-GPU NVLink bandwidth
    pcie,      // GPUs behind PCIe switches under CPU sockets, no NVLink
};

struct NodeSpec {
    NodeFabric fabric = NodeFabric::nvswitch;
    Bandwidth gpu_bandwidth;          // per GPU, per direction, into the node fabric
    Seconds latency;                  // one hop through the node fabric
    bool in_switch_reduction = false; // NVLink SHARP (NVLS): the switch reduces all-reduce operands
    // PCIe nodes only:
    int pcie_switches = 0;            // GPUs split evenly over these switches
    int sockets = 0;                  // CPU sockets; PCIe switches split evenly over sockets
    Bandwidth socket_link;            // CPU-to-CPU link (UPI / Infinity Fabric), per direction
};

// The scale-out network between nodes.
enum class NetworkFabric {
    fat_tree,        // leaf switches under spine switches; NICs of a node may land on any leaf
    rail_optimized,  // NIC i of every node on rail switch i (DGX SuperPOD), rails joined by a spine
};

struct NetworkSpec {
    NetworkFabric fabric = NetworkFabric::fat_tree;
    int nics_per_node = 1;
    Bandwidth nic_bandwidth;         // per NIC, per direction
    Seconds latency;                 // end-to-end latency of one message across the network
    double oversubscription = 1.0;   // leaf downlink : uplink bandwidth ratio (1 = full bisection)
    int nodes_per_leaf = 0;          // nodes under one leaf (fat tree) or in one rail group; 0 = all
};

// A torus of chips with wrap-around links (TPU v4/v5p slices), in place of node and network fabrics.
struct TorusSpec {
    std::vector<int> dims;     // chips per dimension; the product is the chip count
    Bandwidth link_bandwidth;  // per link, per direction
    Seconds latency;           // per hop
    bool wraparound = true;
};

// An explicit graph for anything else: named vertices and links.
struct ExplicitVertex {
    std::string name;
    bool device = false;  // a compute device (rank) rather than a switch
};
struct ExplicitLink {
    std::string a;
    std::string b;
    Bandwidth bandwidth;  // per direction
    Seconds latency;
};
struct ExplicitGraph {
    std::vector<ExplicitVertex> vertices;
    std::vector<ExplicitLink> links;
};

// A collective measured and fitted by splitsim calibrate: time = latency + bytes / bandwidth for
// groups of `ranks` inside one node or across nodes (bytes as nccl-tests' size S), for sizes from
// min_bytes up to the next entry's min_bytes of the same op, ranks and scope (the smallest entry
// also covers smaller sizes): one entry per protocol the transport switches to.
struct CalibratedCollective {
    CollectiveKind op = CollectiveKind::all_reduce;
    int ranks = 2;
    bool across_nodes = false;
    Bytes min_bytes;
    Seconds latency;
    Bandwidth bandwidth;
};

struct ClusterSpec {
    std::string origin;  // the file it was read from, for error messages
    std::string name;
    DeviceSpec device;
    int nodes = 1;
    int gpus_per_node = 1;
    NodeSpec node;
    std::optional<NetworkSpec> network;  // absent for a single node or a torus
    std::optional<TorusSpec> torus;
    std::optional<ExplicitGraph> graph;
    std::vector<CalibratedCollective> collectives;  // fitted by splitsim calibrate, used where they match
    // Ranks that time-share one physical processor (key "ranks_per_device"): MPI ranks beyond a
    // machine's cores, or several processes on one GPU. gpus_per_node counts ranks; each computes at
    // 1 / ranks_per_device of the device's rates, as when every rank on a processor is busy.
    int ranks_per_device = 1;

    [[nodiscard]] int device_count() const { return nodes * gpus_per_node; }
};

// The cluster as a run of `ranks` ranks sees it: cut to one node of `ranks` devices, or to
// ranks / gpus_per_node nodes, when it has more; on one node with fewer devices than ranks (a
// multiple of them), that many ranks time-share each device (ranks_per_device). Unchanged when it
// has exactly `ranks` devices or none of these applies; `*how` says what was done, if anything.
ClusterSpec fit_to_ranks(ClusterSpec cluster, int ranks, std::string* how = nullptr);

// Reads a cluster file; a "device" given by name is read from devices/<name>.json next to it.
// `nodes_override` (the --nodes option) replaces the file's node count.
ClusterSpec load_cluster(const std::string& path, std::optional<int> nodes_override = std::nullopt);
ClusterSpec parse_cluster(const nlohmann::json& json, const std::string& file, const std::string& device_dir,
                          std::optional<int> nodes_override = std::nullopt);

}  // namespace splitsim::hardware
