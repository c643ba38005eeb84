// A cluster as a graph (Boost.Graph): devices, NVSwitches, PCIe switches, CPU sockets, NICs, leaf
// and spine switches, joined by directed links with a bandwidth and a latency. Built from a
// ClusterSpec by the generator its fabric names; routes follow the fabric's structure.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"

namespace splitsim::hardware {

enum class VertexKind { device, nvswitch, pcie_switch, cpu_socket, nic, leaf_switch, spine_switch, graph_switch };
enum class LinkClass { nvlink, pcie, socket, network, ici, other };

struct TopoVertex {
    VertexKind kind = VertexKind::device;
    int node = -1;  // the node a device, node switch or NIC belongs to
};

struct TopoLink {
    Bandwidth bandwidth;  // per direction: each TopoLink is one direction
    Seconds latency;
    LinkClass cls = LinkClass::other;
};

using LinkId = std::size_t;

class Topology {
public:
    using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, TopoVertex,
                                        boost::property<boost::edge_index_t, LinkId>>;
    using Vertex = Graph::vertex_descriptor;

    // Throws InputError naming the cluster file for graphs that do not connect every device.
    explicit Topology(ClusterSpec cluster);

    [[nodiscard]] int devices() const { return devices_; }
    [[nodiscard]] int node_of(int device) const { return node_of_[static_cast<std::size_t>(device)]; }
    [[nodiscard]] std::size_t link_count() const { return links_.size(); }
    [[nodiscard]] const TopoLink& link(LinkId id) const { return links_[id]; }
    [[nodiscard]] const Graph& graph() const { return graph_; }
    [[nodiscard]] const ClusterSpec& cluster() const { return cluster_; }
    // A readable name of a link: "device 3 -> nvswitch 0 (nvlink)".
    [[nodiscard]] std::string link_name(LinkId id) const;
    // The NIC rail of a device: which of its node's NICs it sends through (-1 without a network).
    [[nodiscard]] int rail_of(int device) const;

    // Appends the directed links a message from device `from` to device `to` crosses, in order.
    void route(int from, int to, std::vector<LinkId>& out) const;
    // The slowest link and the summed latency along the route.
    [[nodiscard]] Bandwidth route_bandwidth(int from, int to) const;
    [[nodiscard]] Seconds route_latency(int from, int to) const;

private:
    struct Pair {
        LinkId up = 0;    // towards the switch
        LinkId down = 0;  // from the switch
    };

    Vertex add_vertex(VertexKind kind, int node);
    Pair connect(Vertex a, Vertex b, Bandwidth bw, Seconds latency, LinkClass cls);
    void build_node_fabric(const ClusterSpec& c);
    void build_network(const ClusterSpec& c);
    void build_torus(const ClusterSpec& c);
    void build_graph(const ClusterSpec& c);
    void check_connected(const ClusterSpec& c) const;

    void route_in_node(int from, int to, std::vector<LinkId>& out) const;
    void route_torus(int from, int to, std::vector<LinkId>& out) const;
    void route_graph(int from, int to, std::vector<LinkId>& out) const;

    ClusterSpec cluster_;
    Graph graph_;
    std::vector<TopoLink> links_;
    std::vector<Vertex> link_source_;  // per link
    std::vector<Vertex> link_target_;  // per link
    int devices_ = 0;
    std::vector<int> node_of_;

    // Node fabric: NVSwitch uplinks, or PCIe switch and socket structure.
    std::vector<Pair> device_to_node_switch_;  // per device
    std::vector<int> pcie_switch_of_;          // per device (PCIe nodes)
    std::vector<Pair> pcie_to_socket_;         // per PCIe switch, all nodes
    std::vector<int> socket_of_switch_;        // per PCIe switch (global index)
    std::vector<std::vector<Pair>> socket_links_;  // per node: socket i -> socket j, flattened i * sockets + j
    // Network: NIC of each device, and NIC / leaf / spine links.
    std::vector<int> nic_of_;        // per device: global NIC index
    std::vector<Pair> device_to_nic_;  // per device (through its PCIe switch on PCIe nodes)
    std::vector<Pair> nic_to_leaf_;  // per NIC
    std::vector<int> leaf_of_nic_;   // per NIC
    std::vector<Pair> leaf_to_spine_;  // per leaf
    // Torus: per device and dimension, the links to the next and previous chip.
    std::vector<int> torus_dims_;
    std::vector<std::vector<LinkId>> torus_next_;  // [device][dim]
    std::vector<std::vector<LinkId>> torus_prev_;
    // Explicit graph: device index -> vertex; shortest paths computed on demand.
    std::vector<Vertex> device_vertex_;
    std::vector<std::vector<LinkId>> graph_predecessor_;  // per source device: the link into each vertex on a shortest path
};

}  // namespace splitsim::hardware
