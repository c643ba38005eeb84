// Time of a collective on a group of ranks placed on a topology, as NCCL's tuning model sees it
// (NVIDIA/nccl src/graph/tuning.cc): for every algorithm and protocol a latency and a bandwidth,
// time = latency + bytes / bandwidth, and the fastest combination is the one used.
//
// Bandwidths come from the links a pattern's messages cross: every group of the same parallel
// dimension communicates at once, each message adds load to the links on its route, and the
// busiest link (load over bandwidth) sets the pace. So a group knows the links its traffic
// crosses, its bottleneck, and how many groups share that bottleneck.
#pragma once

#include <string_view>
#include <vector>

#include "splitsim/common/collective.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/topology.hpp"

namespace splitsim::cost {

enum class Algorithm {
    ring,          // NCCL ring (Thakur, Rabenseifner and Gropp 2005: reduce-scatter + all-gather in 2(n-1) steps)
    tree,          // NCCL double binary tree between nodes, chains inside nodes
    hierarchical,  // intra-node reduce-scatter, inter-node all-reduce, intra-node all-gather
    nvls,          // NVLink SHARP: the NVSwitch reduces operands in the switch
    torus,         // one ring per torus dimension, both directions (bucket algorithm)
    direct,        // all-to-all as concurrent sends to every peer
    p2p,           // send/receive between pipeline or ring neighbours
    calibrated,    // fitted to measurements of this collective and group size (splitsim calibrate)
};
enum class Protocol { ll, simple };

std::string_view to_string(Algorithm a);
std::string_view to_string(Protocol p);

// The groups of one parallel dimension; they communicate at the same time. groups[0] is the group
// estimates are for. Each group lists device indices in rank order.
struct GroupSet {
    std::vector<std::vector<int>> groups;
    // The traffic patterns to cost: rings (all-reduce, all-gather, reduce-scatter, broadcast),
    // all-to-all, and sends to the next rank. A collective whose pattern was left out costs infinity.
    bool rings = true;
    bool all_to_all = true;
    bool p2p = true;
};

// The bytes each link carries per byte of a traffic pattern, over all groups of a set at once.
struct LinkUsage {
    std::vector<std::pair<hardware::LinkId, double>> loads;  // in link order
    double seconds_per_byte = 0;                              // the busiest link's load over its bandwidth
};

enum class Pattern {
    ring,        // NCCL's rings (channels over NIC rails; both directions on a torus)
    all_to_all,  // every rank sends 1/n to every other rank
    successor,   // every rank sends to the next rank of its group
};

LinkUsage link_usage(const hardware::Topology& topology, Pattern pattern, const std::vector<std::vector<int>>& groups);

struct CollectiveEstimate {
    Seconds time;     // latency + transfer
    Seconds latency;  // the part that does not depend on the links' sharing
    Algorithm algorithm = Algorithm::ring;
    Protocol protocol = Protocol::simple;
};

// Where a group set sits: its shape and its bottleneck under the ring pattern.
struct GroupPlacement {
    int ranks = 1;
    int nodes = 1;
    int ranks_per_node = 1;
    Bandwidth bottleneck;        // bandwidth of the busiest link of group 0's ring, per sharing group
    int sharing_groups = 1;      // groups whose traffic crosses that link
    Seconds hop_latency;         // the longest route latency between ring neighbours
};

// One group set placed on a topology, with the per-byte costs of its traffic patterns computed once.
class PlacedGroups {
public:
    PlacedGroups(const hardware::Topology& topology, GroupSet groups);

    // `bytes` is nccl-tests' size S (common/collective.hpp).
    [[nodiscard]] CollectiveEstimate estimate(CollectiveKind kind, Bytes bytes) const;
    // The estimate with one algorithm and protocol forced (time is infinite where it does not apply).
    [[nodiscard]] CollectiveEstimate estimate(CollectiveKind kind, Bytes bytes, Algorithm a, Protocol p) const;
    [[nodiscard]] const GroupPlacement& placement() const { return placement_; }
    // The links the collective's traffic crosses (its pattern, over all groups of the set).
    [[nodiscard]] const LinkUsage& usage(CollectiveKind kind) const;
    [[nodiscard]] int ranks() const { return placement_.ranks; }

private:
    [[nodiscard]] Seconds latency(Algorithm a, Protocol p, int steps, int inter_steps) const;

    const hardware::Topology* topology_;
    GroupSet set_;
    GroupPlacement placement_;
    bool nvidia_fabric_ = true;   // NVLink/PCIe nodes and a NIC network: NCCL's latency tables apply
    bool nvlink_ = true;          // the node fabric is NVLink (else PCIe)
    bool nvls_ = false;           // NVLS applies: one node, in-switch reduction
    double nvls_efficiency_ = 0;
    // Link loads of each pattern, for all concurrent groups (see collective.cpp).
    LinkUsage ring_usage_;
    LinkUsage all_to_all_usage_;
    LinkUsage p2p_usage_;
    // Seconds per byte of each pattern.
    double ring_ = 0;            // per byte each rank passes to its ring neighbour
    double intra_ring_ = 0;      // the same, on the intra-node parts of the groups
    double inter_ring_ = 0;      // the same, on the inter-node parts (one rank per node)
    double all_to_all_ = 0;      // per byte of each rank's send buffer
    double p2p_ = 0;             // per byte each rank sends to its successor
    double nvls_link_ = 0;       // per byte through a GPU's switch link
    std::vector<int> torus_extents_;   // group extent per torus dimension it spans
    std::vector<double> torus_ring_;   // per byte, per spanned torus dimension
};

// Estimates for groups placed on a cluster's topology.
class CollectiveModel {
public:
    explicit CollectiveModel(const hardware::Topology& topology) : topology_(&topology) {}
    [[nodiscard]] PlacedGroups place(GroupSet groups) const { return PlacedGroups(*topology_, std::move(groups)); }
    [[nodiscard]] const hardware::Topology& topology() const { return *topology_; }

private:
    const hardware::Topology* topology_;
};

}  // namespace splitsim::cost
