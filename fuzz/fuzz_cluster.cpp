// Fuzzes the cluster reader (topologies/*.json, devices by name from topologies/devices/), the
// construction of the topology graph, routing, and the collective model on the whole cluster.
// Clusters above kMaxDevices are read but not built, so that one input stays fast.
#include <cmath>

#include "splitsim/common/collective.hpp"
#include "splitsim/cost/collective.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/hardware/topology.hpp"
#include "support.hpp"

using namespace splitsim;

namespace {
constexpr int kMaxDevices = 256;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz::run_json(data, size, "cluster.json", [](const nlohmann::json& json) {
        hardware::ClusterSpec c = hardware::parse_cluster(json, "cluster.json", SPLITSIM_SOURCE_ROOT "/topologies/devices");
        FUZZ_CHECK(c.nodes >= 1 && c.gpus_per_node >= 1 && c.device_count() >= 1);
        if (c.device_count() > kMaxDevices) return;
        const hardware::Topology topology(std::move(c));
        const int n = topology.devices();
        std::vector<hardware::LinkId> path;
        for (int d = 0; d < n; ++d) {
            for (int to : {0, n - 1, (d + 1) % n}) {
                path.clear();
                topology.route(d, to, path);
                FUZZ_CHECK((d == to) == path.empty());
                for (hardware::LinkId l : path) FUZZ_CHECK(l < topology.link_count());
                if (d == to) continue;
                const Bandwidth bw = topology.route_bandwidth(d, to);
                FUZZ_CHECK(std::isfinite(bw.value()) && bw.value() > 0);
                const Seconds t = topology.route_latency(d, to);
                FUZZ_CHECK(std::isfinite(t.value()) && t.value() >= 0);
            }
        }
        if (n < 2) return;
        cost::GroupSet set;
        set.groups.emplace_back();
        for (int d = 0; d < n; ++d) set.groups.back().push_back(d);
        const cost::PlacedGroups placed(topology, std::move(set));
        for (CollectiveKind kind : kAllCollectives) {
            for (double bytes : {8.0, 1048576.0}) {
                const cost::CollectiveEstimate e = placed.estimate(kind, Bytes(bytes));
                FUZZ_CHECK(std::isfinite(e.time.value()) && e.time.value() > 0);
                FUZZ_CHECK(e.latency.value() >= 0 && e.latency <= e.time);
            }
        }
    });
}
