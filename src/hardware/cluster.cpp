#include "splitsim/hardware/cluster.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <numeric>
#include <set>

#include "splitsim/common/data_directory.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/common/json_reader.hpp"

namespace splitsim::hardware {
namespace {

// A cluster holds at most kMaxDevices devices: several times the largest machines built (about
// 10^5 GPUs), small enough that the topology graph of the largest cluster fits in memory.
constexpr std::int64_t kMaxDevices = 1 << 20;
// CPU sockets per PCIe node: the largest x86 servers have eight.
constexpr int kMaxSockets = 8;
// An explicit graph keeps a shortest-path tree per device over all vertices (devices x vertices).
constexpr std::size_t kMaxGraphVertices = 4096;

// Bandwidths between 1 B/s and 10^30 B/s and latencies of at most a second keep every time the
// simulator derives from them finite; real links lie many orders of magnitude inside both bounds.
Bandwidth positive_bandwidth(JsonObject& o, std::string_view key) {
    const Bandwidth bw = o.required<Bandwidth>(key);
    if (bw.value() <= 0) o.fail(key, "bandwidth must be positive");
    if (bw.value() < 1 || bw.value() > 1e30) o.fail(key, "bandwidth must be between 1 B/s and 1e30 B/s");
    return bw;
}

Seconds latency(JsonObject& o, std::string_view key) {
    const Seconds t = o.required<Seconds>(key);
    if (t.value() < 0) o.fail(key, "latency must not be negative");
    if (t.value() > 1) o.fail(key, "latency must be at most 1 s");
    return t;
}

NodeSpec parse_node(JsonObject o, const DeviceSpec& device, int gpus_per_node) {
    NodeSpec n;
    n.fabric = o.choice<NodeFabric>("fabric", {{"nvswitch", NodeFabric::nvswitch}, {"pcie", NodeFabric::pcie}});
    if (o.has("gpu_bandwidth") || !device.interconnect || n.fabric == NodeFabric::pcie) {
        n.gpu_bandwidth = positive_bandwidth(o, "gpu_bandwidth");
    } else {
        n.gpu_bandwidth = device.interconnect->bandwidth();  // all of the device's links into the switches
    }
    n.latency = latency(o, "latency");
    n.in_switch_reduction = o.optional<bool>("in_switch_reduction", false);
    if (n.in_switch_reduction && n.fabric != NodeFabric::nvswitch) {
        o.fail("in_switch_reduction", "needs an nvswitch fabric");
    }
    if (n.in_switch_reduction && (!device.interconnect || device.interconnect->in_switch_reduction_efficiency <= 0)) {
        o.fail("in_switch_reduction", "device " + device.name + " gives no interconnect in_switch_reduction_efficiency");
    }
    if (n.fabric == NodeFabric::pcie) {
        n.pcie_switches = o.required<int>("pcie_switches", between(1, gpus_per_node));
        if (gpus_per_node % n.pcie_switches != 0) {
            o.fail("pcie_switches", std::to_string(n.pcie_switches) + " switches do not divide " +
                                        std::to_string(gpus_per_node) + " GPUs per node");
        }
        n.sockets = o.optional<int>("sockets", 1, between(1, std::min(n.pcie_switches, kMaxSockets)));
        if (n.pcie_switches % n.sockets != 0) {
            o.fail("sockets", std::to_string(n.sockets) + " sockets do not divide " +
                                  std::to_string(n.pcie_switches) + " PCIe switches");
        }
        if (n.sockets > 1) n.socket_link = positive_bandwidth(o, "socket_link");
    }
    o.finish();
    return n;
}

NetworkSpec parse_network(JsonObject o, int nodes, int gpus_per_node) {
    NetworkSpec n;
    n.fabric = o.choice<NetworkFabric>(
        "fabric", {{"fat-tree", NetworkFabric::fat_tree}, {"rail-optimized", NetworkFabric::rail_optimized}});
    // GPU l of a node sends through NIC l x nics / gpus: NICs beyond one per GPU would carry nothing.
    n.nics_per_node = o.required<int>("nics_per_node", between(1, gpus_per_node));
    n.nic_bandwidth = positive_bandwidth(o, "nic_bandwidth");
    n.latency = latency(o, "latency");
    n.oversubscription = o.optional<double>("oversubscription", 1.0, between(1.0, 1000.0));
    n.nodes_per_leaf = o.optional<int>("nodes_per_leaf", 0, at_least(0));
    // Without nodes_per_leaf every node hangs off one leaf: there is no uplink to oversubscribe.
    if (n.nodes_per_leaf == 0 && n.oversubscription != 1.0) {
        o.fail("oversubscription", "needs nodes_per_leaf: without it every node is under one leaf and no uplink is shared");
    }
    if (n.nodes_per_leaf > nodes) n.nodes_per_leaf = nodes;
    o.finish();
    return n;
}

TorusSpec parse_torus(JsonObject o, int devices) {
    TorusSpec t;
    JsonArray dims = o.array("dims");
    if (dims.size() < 1 || dims.size() > 3) dims.fail("a torus has 1, 2 or 3 dimensions");
    for (std::size_t i = 0; i < dims.size(); ++i) {
        const int d = dims.get<int>(i);
        if (d < 1 || d > devices) dims.fail(i, "must be between 1 and nodes x gpus_per_node (" + std::to_string(devices) + ")");
        t.dims.push_back(d);
    }
    const std::int64_t product = std::accumulate(t.dims.begin(), t.dims.end(), std::int64_t{1}, std::multiplies<>());
    if (product != devices) {
        dims.fail("holds " + std::to_string(product) + " chips but nodes x gpus_per_node is " +
                  std::to_string(devices));
    }
    t.link_bandwidth = positive_bandwidth(o, "link_bandwidth");
    t.latency = latency(o, "latency");
    t.wraparound = o.optional<bool>("wraparound", true);
    o.finish();
    return t;
}

ExplicitGraph parse_graph(JsonObject o, int devices) {
    ExplicitGraph g;
    std::set<std::string, std::less<>> names;
    JsonArray vertices = o.array("vertices");
    if (vertices.size() > kMaxGraphVertices) {
        vertices.fail("has " + std::to_string(vertices.size()) + " vertices; an explicit graph has at most " +
                      std::to_string(kMaxGraphVertices));
    }
    int device_count = 0;
    for (std::size_t i = 0; i < vertices.size(); ++i) {
        JsonObject v = vertices.object(i);
        ExplicitVertex vertex;
        vertex.name = v.required<std::string>("name");
        vertex.device = v.choice<bool>("kind", {{"device", true}, {"switch", false}});
        if (!names.insert(vertex.name).second) v.fail("name", "duplicate vertex \"" + vertex.name + "\"");
        v.finish();
        device_count += vertex.device ? 1 : 0;
        g.vertices.push_back(std::move(vertex));
    }
    if (device_count != devices) {
        vertices.fail("has " + std::to_string(device_count) + " devices but nodes x gpus_per_node is " +
                      std::to_string(devices));
    }
    JsonArray links = o.array("links");
    for (std::size_t i = 0; i < links.size(); ++i) {
        JsonObject l = links.object(i);
        ExplicitLink link;
        link.a = l.required<std::string>("a");
        link.b = l.required<std::string>("b");
        if (!names.contains(link.a)) l.fail("a", "unknown vertex \"" + link.a + "\"");
        if (!names.contains(link.b)) l.fail("b", "unknown vertex \"" + link.b + "\"");
        if (link.a == link.b) l.fail("b", "a link joins two different vertices");
        link.bandwidth = positive_bandwidth(l, "bandwidth");
        link.latency = latency(l, "latency");
        l.finish();
        g.links.push_back(std::move(link));
    }
    o.finish();
    return g;
}

}  // namespace

ClusterSpec parse_cluster(const nlohmann::json& json, const std::string& file, const std::string& device_dir,
                          std::optional<int> nodes_override) {
    JsonObject o(json, file);
    ClusterSpec c;
    c.origin = file;
    c.name = o.required<std::string>("name");
    (void)o.optional<std::string>("source", "");

    const nlohmann::json& device = o.raw("device");
    if (device.is_string()) {
        const std::string name = device.get<std::string>();
        const std::filesystem::path path = std::filesystem::path(device_dir) / (name + ".json");
        // A name too long for a file name makes the lookup fail with an error, not just "absent".
        std::error_code error;
        if (name.empty() || name.find('/') != std::string::npos || !std::filesystem::is_regular_file(path, error)) {
            o.fail("device", "no device \"" + name + "\" in " + device_dir);
        }
        c.device = load_device(path.string());
    } else if (device.is_object()) {
        c.device = parse_device(device, file, o.pointer_to("device"));
    } else {
        o.fail("device", "expected a device name or an inline device object");
    }

    c.nodes = o.required<int>("nodes", at_least(1));
    c.gpus_per_node = o.required<int>("gpus_per_node", at_least(1));
    c.ranks_per_device = o.optional<int>("ranks_per_device", 1, between(1, 64));
    if (c.gpus_per_node % c.ranks_per_device != 0) {
        o.fail("ranks_per_device", std::to_string(c.ranks_per_device) + " does not divide gpus_per_node (" +
                                       std::to_string(c.gpus_per_node) + "), which counts ranks");
    }
    auto check_size = [&](std::int64_t nodes, const std::function<void(const std::string&)>& fail) {
        if (nodes * c.gpus_per_node > kMaxDevices) {
            fail(std::to_string(nodes) + " nodes x " + std::to_string(c.gpus_per_node) + " GPUs per node exceed " +
                 std::to_string(kMaxDevices) + " devices");
        }
    };
    check_size(c.nodes, [&](const std::string& detail) { o.fail("nodes", detail); });
    if (nodes_override) {
        if (*nodes_override < 1) throw InputError("command line", "--nodes", "must be at least 1");
        check_size(*nodes_override,
                   [&](const std::string& detail) { throw InputError("command line", "--nodes", detail); });
        c.nodes = *nodes_override;
    }

    const int fabrics = (o.has("torus") ? 1 : 0) + (o.has("graph") ? 1 : 0) + (o.has("node") ? 1 : 0);
    if (fabrics == 0) o.fail("a cluster needs \"node\" (with \"network\" for several nodes), \"torus\" or \"graph\"");
    if (o.has("torus") && (o.has("node") || o.has("graph") || o.has("network"))) {
        o.fail("torus", "a torus replaces \"node\", \"network\" and \"graph\"");
    }
    if (o.has("graph") && (o.has("node") || o.has("network"))) {
        o.fail("graph", "an explicit graph replaces \"node\" and \"network\"");
    }
    if (auto node = o.maybe_object("node")) c.node = parse_node(*node, c.device, c.gpus_per_node);
    if (auto network = o.maybe_object("network")) c.network = parse_network(*network, c.nodes, c.gpus_per_node);
    if (o.has("node") && c.nodes > 1 && !c.network) o.fail("network", "missing: a cluster of several nodes needs one");
    if (auto torus = o.maybe_object("torus")) c.torus = parse_torus(*torus, c.device_count());
    if (auto graph = o.maybe_object("graph")) c.graph = parse_graph(*graph, c.device_count());
    if (auto list = o.maybe_array("collectives")) {
        for (std::size_t i = 0; i < list->size(); ++i) {
            JsonObject e = list->object(i);
            CalibratedCollective k;
            k.op = e.choice<CollectiveKind>("op", {{"all_reduce", CollectiveKind::all_reduce},
                                                   {"all_gather", CollectiveKind::all_gather},
                                                   {"reduce_scatter", CollectiveKind::reduce_scatter},
                                                   {"all_to_all", CollectiveKind::all_to_all},
                                                   {"broadcast", CollectiveKind::broadcast},
                                                   {"send_recv", CollectiveKind::send_recv}});
            k.ranks = e.required<int>("ranks", at_least(2));
            k.across_nodes = e.choice<bool>("scope", {{"node", false}, {"network", true}});
            k.min_bytes = e.optional<Bytes>("min_bytes", Bytes(0));
            if (k.min_bytes.value() < 0 || k.min_bytes.value() > 1e18) e.fail("min_bytes", "must be between 0 B and 1e18 B");
            for (const CalibratedCollective& other : c.collectives) {
                if (other.op == k.op && other.ranks == k.ranks && other.across_nodes == k.across_nodes && other.min_bytes == k.min_bytes) {
                    e.fail("min_bytes", "a collective of this op, ranks and scope from this size is listed twice");
                }
            }
            k.latency = latency(e, "latency");
            k.bandwidth = positive_bandwidth(e, "bandwidth");
            (void)e.optional<std::string>("source", "");
            e.finish();
            c.collectives.push_back(k);
        }
    }
    o.finish();
    return c;
}

ClusterSpec load_cluster(const std::string& named, std::optional<int> nodes_override) {
    const std::string path = resolve_input_file(named);
    const std::string dir = (std::filesystem::path(path).parent_path() / "devices").string();
    const nlohmann::json json = read_json_file(path);
    expect_file_kind(json, path, FileKind::cluster);
    return parse_cluster(json, path, dir, nodes_override);
}

ClusterSpec fit_to_ranks(ClusterSpec cluster, int ranks, std::string* how) {
    auto say = [&](const std::string& text) {
        if (how) *how = text;
    };
    const int devices = cluster.device_count();
    if (devices == ranks || cluster.torus || cluster.graph) return cluster;
    if (devices > ranks) {
        if (ranks <= cluster.gpus_per_node) {
            say("one node of " + std::to_string(ranks) + " of its " + std::to_string(cluster.gpus_per_node) + " GPUs");
            cluster.nodes = 1;
            cluster.gpus_per_node = ranks;
            cluster.network.reset();
        } else if (ranks % cluster.gpus_per_node == 0) {
            say(std::to_string(ranks / cluster.gpus_per_node) + " of its " + std::to_string(cluster.nodes) + " nodes");
            cluster.nodes = ranks / cluster.gpus_per_node;
        }
        return cluster;
    }
    if (cluster.nodes == 1 && ranks % devices == 0) {
        const int share = ranks / devices;
        say(std::to_string(ranks) + " ranks on its " + std::to_string(devices) + " devices, " + std::to_string(share) +
            " time-sharing each");
        cluster.gpus_per_node = ranks;
        cluster.ranks_per_device *= share;
    }
    return cluster;
}

}  // namespace splitsim::hardware
