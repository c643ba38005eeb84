// `splitsim collective`: one collective over a size sweep on a cluster, as predicted, in the
// columns nccl-tests prints (size, time, algbw, busbw) with the algorithm and protocol chosen.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "splitsim/common/collective.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"

namespace splitsim::report {

struct CollectiveSweep {
    struct Row {
        Bytes bytes;
        Seconds time;
        double algbw_GBps = 0;
        double busbw_GBps = 0;
        std::string algorithm;
        std::string protocol;
    };
    std::string cluster;
    std::string op;  // as the caller named it
    int ranks = 0;
    int nodes = 0;
    Bandwidth bottleneck;  // of the ring over the placed ranks, per direction
    Seconds hop_latency;   // its longest hop
    std::vector<Row> rows;
};

// `ranks` spread evenly over `nodes` (default: as few nodes as hold them, within the cluster);
// sizes from `min` to `max` by `factor`. `load_cluster(nodes)` reads the cluster with its node
// count overridden (none: as described). Throws InputError naming --ranks or --nodes for
// placements the cluster cannot hold.
CollectiveSweep sweep_collective(const std::function<hardware::ClusterSpec(std::optional<int>)>& load_cluster, CollectiveKind kind,
                                 const std::string& op, int ranks, std::optional<int> nodes, Bytes min, Bytes max, double factor);

// {cluster, op, ranks, nodes, bottleneck_GBps, rows[] {bytes, time_us, algbw_GBps, busbw_GBps,
// algorithm, protocol}}
nlohmann::json to_json(const CollectiveSweep& sweep);
std::string render_table(const CollectiveSweep& sweep);

}  // namespace splitsim::report
