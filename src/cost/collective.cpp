#include "splitsim/cost/collective.hpp"

#include <algorithm>
#include <set>

namespace splitsim::cost {

CollectiveModel::CollectiveModel(const hardware::ClusterSpec& cluster) : cluster_(&cluster) {}

// Ring over the bottleneck: the group's ranks inside one node share the node fabric at the
// per-GPU bandwidth; a group across nodes crosses the network at its share of the node's NICs
// (all groups of the same kind communicate at once, so each GPU gets nics x nic_bandwidth /
// gpus_per_node). Thakur, Rabenseifner and Gropp 2005: a ring moves (n-1)/n S per rank per phase.
CollectiveEstimate CollectiveModel::estimate(CollectiveKind kind, Bytes bytes, const std::vector<int>& ranks) const {
    const int n = static_cast<int>(ranks.size());
    if (n <= 1 || bytes.value() <= 0) return {Seconds(0), "none"};
    const auto& c = *cluster_;
    std::set<int> nodes;
    for (int r : ranks) nodes.insert(r / c.gpus_per_node);
    const double per_node = static_cast<double>(n) / static_cast<double>(nodes.size());

    Bandwidth bw = c.node.gpu_bandwidth;
    Seconds hop = c.node.latency;
    if (nodes.size() > 1 && c.network) {
        const Bandwidth nic_share = c.network->nic_bandwidth * (c.network->nics_per_node / static_cast<double>(c.gpus_per_node));
        bw = min(bw, nic_share * per_node);
        hop = c.network->latency;
    }
    const double factor = bus_bandwidth_factor(kind, n);
    double steps = n - 1.0;
    if (kind == CollectiveKind::all_reduce) steps = 2.0 * (n - 1.0);
    if (kind == CollectiveKind::send_recv) steps = 1.0;
    const Seconds time = bytes * factor / bw + hop * steps;
    return {time, "ring"};
}

}  // namespace splitsim::cost
