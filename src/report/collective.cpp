#include "splitsim/report/collective.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <sstream>

#include "splitsim/common/error.hpp"
#include "splitsim/cost/collective.hpp"
#include "splitsim/hardware/topology.hpp"

namespace splitsim::report {

CollectiveSweep sweep_collective(const std::function<hardware::ClusterSpec(std::optional<int>)>& load_cluster, CollectiveKind kind,
                                 const std::string& op, int ranks, std::optional<int> requested_nodes, Bytes min, Bytes max,
                                 double factor) {
    // Read the cluster once to learn its node size, then again with the nodes this run needs.
    const hardware::ClusterSpec file = load_cluster(std::nullopt);
    const int per_node_capacity = file.gpus_per_node;
    const int nodes = requested_nodes ? *requested_nodes : (ranks + per_node_capacity - 1) / per_node_capacity;
    if (ranks % nodes != 0) {
        throw InputError("command line", "--ranks", std::to_string(ranks) + " ranks do not spread evenly over " + std::to_string(nodes) + " nodes");
    }
    const int per_node = ranks / nodes;
    if (per_node > per_node_capacity) {
        throw InputError("command line", "--ranks", std::to_string(per_node) + " ranks per node exceed the " +
                                                        std::to_string(per_node_capacity) + " devices of a node");
    }
    // Without --nodes the ranks must fit the cluster as described, as for simulate; --nodes
    // sets the cluster's size.
    if (!requested_nodes && !file.torus && !file.graph && nodes > file.nodes) {
        throw InputError("command line", "--ranks", std::to_string(ranks) + " ranks need " + std::to_string(nodes) + " nodes of " +
                                                        std::to_string(per_node_capacity) + " but the cluster has " +
                                                        std::to_string(file.nodes) + "; --nodes " + std::to_string(nodes) +
                                                        " gives it " + std::to_string(nodes * per_node_capacity) + " GPUs");
    }
    if (file.torus || file.graph) {
        const std::int64_t spanned = std::int64_t{nodes} * per_node_capacity;
        if (spanned != file.device_count() && requested_nodes) {
            throw InputError("command line", "--nodes", "a torus or explicit graph has a fixed size");
        }
        if (spanned > file.device_count()) {
            throw InputError("command line", "--ranks", "the cluster has only " + std::to_string(file.device_count()) + " devices");
        }
    }
    hardware::ClusterSpec spec = (file.torus || file.graph) ? file : load_cluster(nodes);
    const auto topology = std::make_shared<const hardware::Topology>(std::move(spec));
    cost::GroupSet set;
    std::vector<int> group;
    for (int node = 0; node < nodes; ++node) {
        for (int l = 0; l < per_node; ++l) group.push_back(node * per_node_capacity + l);
    }
    if (group.back() >= topology->devices()) {
        throw InputError("command line", "--ranks", "the cluster has only " + std::to_string(topology->devices()) + " devices");
    }
    set.groups.push_back(group);
    const cost::PlacedGroups placed(*topology, std::move(set));

    CollectiveSweep out;
    out.cluster = topology->cluster().name;
    out.op = op;
    out.ranks = ranks;
    out.nodes = nodes;
    out.bottleneck = placed.placement().bottleneck;
    out.hop_latency = placed.placement().hop_latency;
    for (double s = min.value(); s <= max.value() * (1 + 1e-12); s *= factor) {
        const Bytes bytes(std::floor(s));
        const cost::CollectiveEstimate e = placed.estimate(kind, bytes);
        const double algbw = bytes.value() / e.time.value() / 1e9;
        out.rows.push_back({bytes, e.time, algbw, algbw * bus_bandwidth_factor(kind, ranks), std::string(to_string(e.algorithm)),
                            std::string(to_string(e.protocol))});
    }
    return out;
}

nlohmann::json to_json(const CollectiveSweep& sweep) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : sweep.rows) {
        rows.push_back({{"bytes", r.bytes.value()},
                        {"time_us", r.time.value() * 1e6},
                        {"algbw_GBps", r.algbw_GBps},
                        {"busbw_GBps", r.busbw_GBps},
                        {"algorithm", r.algorithm},
                        {"protocol", r.protocol}});
    }
    return {{"cluster", sweep.cluster},
            {"op", sweep.op},
            {"ranks", sweep.ranks},
            {"nodes", sweep.nodes},
            {"bottleneck_GBps", sweep.bottleneck.value() / 1e9},
            {"rows", rows}};
}

std::string render_table(const CollectiveSweep& sweep) {
    std::ostringstream table;
    char line[256];
    std::snprintf(line, sizeof line, "# %s on %s: %d ranks on %d node(s), predicted\n", sweep.op.c_str(), sweep.cluster.c_str(),
                  sweep.ranks, sweep.nodes);
    table << line;
    std::snprintf(line, sizeof line, "#%15s %12s %12s %12s  %s\n", "size (B)", "time (us)", "algbw (GB/s)", "busbw (GB/s)", "algorithm");
    table << line;
    for (const auto& r : sweep.rows) {
        const std::string algo = r.algorithm + "/" + r.protocol;
        std::snprintf(line, sizeof line, " %15.0f %12.2f %12.2f %12.2f  %s\n", r.bytes.value(), r.time.value() * 1e6, r.algbw_GBps,
                      r.busbw_GBps, algo.c_str());
        table << line;
    }
    std::snprintf(line, sizeof line, "# ring bottleneck %.1f GB/s per direction, longest hop %.2f us\n", sweep.bottleneck.value() / 1e9,
                  sweep.hop_latency.value() * 1e6);
    table << line;
    return table.str();
}

}  // namespace splitsim::report
