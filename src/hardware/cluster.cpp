#include "splitsim/hardware/cluster.hpp"

#include <filesystem>
#include <functional>
#include <numeric>
#include <set>

#include "splitsim/common/json_reader.hpp"

namespace splitsim::hardware {
namespace {

Bandwidth positive_bandwidth(JsonObject& o, std::string_view key) {
    const Bandwidth bw = o.required<Bandwidth>(key);
    if (bw.value() <= 0) o.fail(key, "bandwidth must be positive");
    return bw;
}

Seconds latency(JsonObject& o, std::string_view key) {
    const Seconds t = o.required<Seconds>(key);
    if (t.value() < 0) o.fail(key, "latency must not be negative");
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
        n.sockets = o.optional<int>("sockets", 1, between(1, n.pcie_switches));
        if (n.pcie_switches % n.sockets != 0) {
            o.fail("sockets", std::to_string(n.sockets) + " sockets do not divide " +
                                  std::to_string(n.pcie_switches) + " PCIe switches");
        }
        if (n.sockets > 1) n.socket_link = positive_bandwidth(o, "socket_link");
    }
    o.finish();
    return n;
}

NetworkSpec parse_network(JsonObject o, int nodes) {
    NetworkSpec n;
    n.fabric = o.choice<NetworkFabric>(
        "fabric", {{"fat-tree", NetworkFabric::fat_tree}, {"rail-optimized", NetworkFabric::rail_optimized}});
    n.nics_per_node = o.required<int>("nics_per_node", at_least(1));
    n.nic_bandwidth = positive_bandwidth(o, "nic_bandwidth");
    n.latency = latency(o, "latency");
    n.oversubscription = o.optional<double>("oversubscription", 1.0, at_least(1.0));
    n.nodes_per_leaf = o.optional<int>("nodes_per_leaf", 0, at_least(0));
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
        if (d < 1) dims.fail(i, "must be at least 1");
        t.dims.push_back(d);
    }
    const long product = std::accumulate(t.dims.begin(), t.dims.end(), 1L, std::multiplies<>());
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
        if (name.empty() || name.find('/') != std::string::npos || !std::filesystem::exists(path)) {
            o.fail("device", "no device \"" + name + "\" in " + device_dir);
        }
        c.device = load_device(path.string());
    } else if (device.is_object()) {
        c.device = parse_device(device, file, o.pointer_to("device"));
    } else {
        o.fail("device", "expected a device name or an inline device object");
    }

    c.nodes = o.required<int>("nodes", at_least(1));
    if (nodes_override) c.nodes = *nodes_override;
    c.gpus_per_node = o.required<int>("gpus_per_node", at_least(1));

    const int fabrics = (o.has("torus") ? 1 : 0) + (o.has("graph") ? 1 : 0) + (o.has("node") ? 1 : 0);
    if (fabrics == 0) o.fail("a cluster needs \"node\" (with \"network\" for several nodes), \"torus\" or \"graph\"");
    if (o.has("torus") && (o.has("node") || o.has("graph") || o.has("network"))) {
        o.fail("torus", "a torus replaces \"node\", \"network\" and \"graph\"");
    }
    if (o.has("graph") && (o.has("node") || o.has("network"))) {
        o.fail("graph", "an explicit graph replaces \"node\" and \"network\"");
    }
    if (auto node = o.maybe_object("node")) c.node = parse_node(*node, c.device, c.gpus_per_node);
    if (auto network = o.maybe_object("network")) c.network = parse_network(*network, c.nodes);
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

ClusterSpec load_cluster(const std::string& path, std::optional<int> nodes_override) {
    const std::string dir = (std::filesystem::path(path).parent_path() / "devices").string();
    return parse_cluster(read_json_file(path), path, dir, nodes_override);
}

}  // namespace splitsim::hardware
