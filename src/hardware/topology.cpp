#include "splitsim/hardware/topology.hpp"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <limits>
#include <map>

#include <boost/graph/breadth_first_search.hpp>

#include "splitsim/common/error.hpp"

namespace splitsim::hardware {
namespace {

constexpr LinkId kNoLink = std::numeric_limits<LinkId>::max();

// Records, for each vertex reached, the link it was reached by.
class PredecessorRecorder : public boost::default_bfs_visitor {
public:
    explicit PredecessorRecorder(std::vector<LinkId>* incoming) : incoming_(incoming) {}
    template <class Edge, class Graph>
    void tree_edge(Edge e, const Graph& g) const {
        (*incoming_)[boost::target(e, g)] = boost::get(boost::edge_index, g, e);
    }

private:
    std::vector<LinkId>* incoming_;
};

}  // namespace

Topology::Vertex Topology::add_vertex(VertexKind kind, int node) { return boost::add_vertex(TopoVertex{kind, node}, graph_); }

Topology::Pair Topology::connect(Vertex a, Vertex b, Bandwidth bw, Seconds latency, LinkClass cls) {
    Pair p;
    p.up = links_.size();
    links_.push_back({bw, latency, cls});
    link_source_.push_back(a);
    link_target_.push_back(b);
    boost::add_edge(a, b, p.up, graph_);
    p.down = links_.size();
    links_.push_back({bw, latency, cls});
    link_source_.push_back(b);
    link_target_.push_back(a);
    boost::add_edge(b, a, p.down, graph_);
    return p;
}

Topology::Topology(ClusterSpec cluster) : cluster_(std::move(cluster)) {
    const ClusterSpec& c = cluster_;
    devices_ = c.device_count();
    for (int d = 0; d < devices_; ++d) {
        add_vertex(VertexKind::device, d / c.gpus_per_node);
        node_of_.push_back(d / c.gpus_per_node);
    }
    if (c.torus) {
        build_torus(c);
    } else if (c.graph) {
        build_graph(c);
    } else {
        build_node_fabric(c);
        if (c.network) build_network(c);
    }
    check_connected(c);
}

// NVSwitch node: each GPU joins the node's switch plane with all its NVLinks (the switch chips act
// as one non-blocking switch). PCIe node: GPUs split evenly over PCIe switches, the switches over
// CPU sockets, the sockets joined by their CPU-to-CPU link.
void Topology::build_node_fabric(const ClusterSpec& c) {
    const NodeSpec& n = c.node;
    const LinkClass gpu_link = n.fabric == NodeFabric::nvswitch ? LinkClass::nvlink : LinkClass::pcie;
    device_to_node_switch_.resize(static_cast<std::size_t>(devices_));
    if (n.fabric == NodeFabric::nvswitch) {
        for (int node = 0; node < c.nodes; ++node) {
            const Vertex sw = add_vertex(VertexKind::nvswitch, node);
            for (int l = 0; l < c.gpus_per_node; ++l) {
                const int d = node * c.gpus_per_node + l;
                device_to_node_switch_[static_cast<std::size_t>(d)] =
                    connect(static_cast<Vertex>(d), sw, n.gpu_bandwidth, n.latency, gpu_link);
            }
        }
        return;
    }
    const int per_switch = c.gpus_per_node / n.pcie_switches;
    const int switches_per_socket = n.pcie_switches / n.sockets;
    pcie_switch_of_.resize(static_cast<std::size_t>(devices_));
    socket_links_.resize(static_cast<std::size_t>(c.nodes));
    for (int node = 0; node < c.nodes; ++node) {
        std::vector<Vertex> sockets;
        for (int s = 0; s < n.sockets; ++s) sockets.push_back(add_vertex(VertexKind::cpu_socket, node));
        auto& mesh = socket_links_[static_cast<std::size_t>(node)];
        mesh.assign(static_cast<std::size_t>(n.sockets * n.sockets), Pair{});
        for (int i = 0; i < n.sockets; ++i) {
            for (int j = i + 1; j < n.sockets; ++j) {
                const Pair p = connect(sockets[static_cast<std::size_t>(i)], sockets[static_cast<std::size_t>(j)],
                                       n.socket_link, n.latency, LinkClass::socket);
                mesh[static_cast<std::size_t>(i * n.sockets + j)] = p;
                mesh[static_cast<std::size_t>(j * n.sockets + i)] = Pair{p.down, p.up};
            }
        }
        for (int s = 0; s < n.pcie_switches; ++s) {
            const Vertex sw = add_vertex(VertexKind::pcie_switch, node);
            const int socket = s / switches_per_socket;
            pcie_to_socket_.push_back(connect(sw, sockets[static_cast<std::size_t>(socket)], n.gpu_bandwidth, n.latency,
                                              LinkClass::pcie));
            socket_of_switch_.push_back(socket);
            const int global_switch = static_cast<int>(pcie_to_socket_.size()) - 1;
            for (int l = s * per_switch; l < (s + 1) * per_switch; ++l) {
                const int d = node * c.gpus_per_node + l;
                device_to_node_switch_[static_cast<std::size_t>(d)] =
                    connect(static_cast<Vertex>(d), sw, n.gpu_bandwidth, n.latency, gpu_link);
                pcie_switch_of_[static_cast<std::size_t>(d)] = global_switch;
            }
        }
    }
}

// The network: NICs shared evenly by the GPUs of a node (GPU l uses NIC l * nics / gpus). A fat tree
// puts every NIC of `nodes_per_leaf` consecutive nodes under one leaf; a rail-optimized fabric puts
// NIC i of those nodes under rail switch i. Leaves join one spine tier whose uplinks carry the
// leaf's downlink bandwidth divided by the oversubscription.
void Topology::build_network(const ClusterSpec& c) {
    const NetworkSpec& net = *c.network;
    const int nics = net.nics_per_node;
    const int group = net.nodes_per_leaf > 0 ? net.nodes_per_leaf : c.nodes;
    const int groups = (c.nodes + group - 1) / group;
    const bool rails = net.fabric == NetworkFabric::rail_optimized;
    const int leaves = groups * (rails ? nics : 1);

    std::vector<Vertex> leaf_vertex;
    for (int l = 0; l < leaves; ++l) leaf_vertex.push_back(add_vertex(VertexKind::leaf_switch, -1));
    std::vector<Vertex> nic_vertex;
    for (int node = 0; node < c.nodes; ++node) {
        for (int i = 0; i < nics; ++i) {
            const Vertex v = add_vertex(VertexKind::nic, node);
            nic_vertex.push_back(v);
            const int g = node / group;
            const int leaf = rails ? g * nics + i : g;
            nic_to_leaf_.push_back(connect(v, leaf_vertex[static_cast<std::size_t>(leaf)], net.nic_bandwidth, net.latency / 2.0,
                                           LinkClass::network));
            leaf_of_nic_.push_back(leaf);
        }
    }
    if (leaves > 1) {
        const Vertex spine = add_vertex(VertexKind::spine_switch, -1);
        for (int l = 0; l < leaves; ++l) {
            const int nodes_under = std::min(group, c.nodes - (rails ? l / nics : l) * group);
            const double nics_under = nodes_under * (rails ? 1.0 : nics);
            const Bandwidth up = net.nic_bandwidth * (nics_under / net.oversubscription);
            leaf_to_spine_.push_back(connect(leaf_vertex[static_cast<std::size_t>(l)], spine, up, Seconds(0), LinkClass::network));
        }
    }
    nic_of_.resize(static_cast<std::size_t>(devices_));
    device_to_nic_.resize(static_cast<std::size_t>(devices_));
    for (int d = 0; d < devices_; ++d) {
        const int node = node_of(d);
        const int local = d % c.gpus_per_node;
        const int nic = node * nics + local * nics / c.gpus_per_node;
        nic_of_[static_cast<std::size_t>(d)] = nic;
        // The GPU reaches its NIC over PCIe at no less than the NIC's rate (GPUDirect RDMA).
        device_to_nic_[static_cast<std::size_t>(d)] =
            connect(static_cast<Vertex>(d), nic_vertex[static_cast<std::size_t>(nic)], net.nic_bandwidth, Seconds(0), LinkClass::pcie);
    }
}

// A torus with wrap-around: chip coordinates in row-major order of `dims`, one link to the next and
// one to the previous chip in every dimension.
void Topology::build_torus(const ClusterSpec& c) {
    const TorusSpec& t = *c.torus;
    torus_dims_ = t.dims;
    const std::size_t nd = t.dims.size();
    torus_next_.assign(static_cast<std::size_t>(devices_), std::vector<LinkId>(nd, kNoLink));
    torus_prev_.assign(static_cast<std::size_t>(devices_), std::vector<LinkId>(nd, kNoLink));
    int stride = 1;
    for (std::size_t k = nd; k-- > 0;) {
        const int extent = t.dims[k];
        for (int d = 0; d < devices_; ++d) {
            const int coord = (d / stride) % extent;
            if (extent == 1 || (coord == extent - 1 && !t.wraparound)) continue;
            const int next = d + (coord == extent - 1 ? -(extent - 1) * stride : stride);
            const Pair p = connect(static_cast<Vertex>(d), static_cast<Vertex>(next), t.link_bandwidth, t.latency, LinkClass::ici);
            torus_next_[static_cast<std::size_t>(d)][k] = p.up;
            torus_prev_[static_cast<std::size_t>(next)][k] = p.down;
        }
        stride *= extent;
    }
}

void Topology::build_graph(const ClusterSpec& c) {
    const ExplicitGraph& g = *c.graph;
    std::map<std::string, Vertex, std::less<>> vertex;
    int device = 0;
    for (const ExplicitVertex& v : g.vertices) {
        if (v.device) {
            vertex[v.name] = static_cast<Vertex>(device);
            device_vertex_.push_back(static_cast<Vertex>(device));
            ++device;
        } else {
            vertex[v.name] = add_vertex(VertexKind::graph_switch, -1);
        }
    }
    for (const ExplicitLink& l : g.links) connect(vertex[l.a], vertex[l.b], l.bandwidth, l.latency, LinkClass::other);

    // Shortest paths (fewest hops) from every device, by breadth-first search.
    graph_predecessor_.resize(static_cast<std::size_t>(devices_));
    for (int d = 0; d < devices_; ++d) {
        auto& incoming = graph_predecessor_[static_cast<std::size_t>(d)];
        incoming.assign(boost::num_vertices(graph_), kNoLink);
        boost::breadth_first_search(graph_, device_vertex_[static_cast<std::size_t>(d)],
                                    boost::visitor(PredecessorRecorder(&incoming)));
    }
}

void Topology::check_connected(const ClusterSpec& c) const {
    std::vector<LinkId> incoming(boost::num_vertices(graph_), kNoLink);
    boost::breadth_first_search(graph_, static_cast<Vertex>(0), boost::visitor(PredecessorRecorder(&incoming)));
    for (int d = 1; d < devices_; ++d) {
        if (incoming[static_cast<std::size_t>(d)] == kNoLink) {
            const std::string where = c.graph ? "/graph" : c.torus ? "/torus" : "/network";
            throw InputError(c.origin, where,
                             "the topology is disconnected: device " + std::to_string(d) + " cannot reach device 0");
        }
    }
}

std::string Topology::link_name(LinkId id) const {
    auto name = [&](Vertex v) {
        static constexpr const char* kKinds[] = {"device", "nvswitch", "pcie-switch", "socket", "nic", "leaf", "spine", "switch"};
        const TopoVertex& tv = graph_[v];
        // Vertices of one kind are numbered in the order they were made.
        int index = 0;
        for (Vertex u = 0; u < v; ++u) index += graph_[u].kind == tv.kind ? 1 : 0;
        return std::string(kKinds[static_cast<int>(tv.kind)]) + " " + std::to_string(index);
    };
    static constexpr const char* kClasses[] = {"nvlink", "pcie", "socket", "network", "ici", "link"};
    return name(link_source_[id]) + " -> " + name(link_target_[id]) + " (" + kClasses[static_cast<int>(links_[id].cls)] + ")";
}

int Topology::rail_of(int device) const {
    if (nic_of_.empty()) return -1;
    return nic_of_[static_cast<std::size_t>(device)] % cluster_.network->nics_per_node;
}

void Topology::route_in_node(int from, int to, std::vector<LinkId>& out) const {
    const auto f = static_cast<std::size_t>(from);
    const auto t = static_cast<std::size_t>(to);
    out.push_back(device_to_node_switch_[f].up);
    if (cluster_.node.fabric == NodeFabric::pcie && pcie_switch_of_[f] != pcie_switch_of_[t]) {
        const auto sf = static_cast<std::size_t>(pcie_switch_of_[f]);
        const auto st = static_cast<std::size_t>(pcie_switch_of_[t]);
        out.push_back(pcie_to_socket_[sf].up);
        const int a = socket_of_switch_[sf];
        const int b = socket_of_switch_[st];
        if (a != b) {
            const auto& mesh = socket_links_[static_cast<std::size_t>(node_of(from))];
            out.push_back(mesh[static_cast<std::size_t>(a * cluster_.node.sockets + b)].up);
        }
        out.push_back(pcie_to_socket_[st].down);
    }
    out.push_back(device_to_node_switch_[t].down);
}

// Dimension-order routing, the shorter way round each ring.
void Topology::route_torus(int from, int to, std::vector<LinkId>& out) const {
    int here = from;
    int stride = 1;
    for (std::size_t k = torus_dims_.size(); k-- > 0;) {
        const int extent = torus_dims_[k];
        const int a = (here / stride) % extent;
        const int b = (to / stride) % extent;
        int forward = ((b - a) % extent + extent) % extent;
        const bool wrap = cluster_.torus->wraparound;
        const bool go_next = wrap ? forward <= extent - forward : b > a;
        int steps = wrap ? std::min(forward, extent - forward) : std::abs(b - a);
        while (steps-- > 0) {
            const auto h = static_cast<std::size_t>(here);
            const int coord = (here / stride) % extent;
            if (go_next) {
                out.push_back(torus_next_[h][k]);
                here += coord == extent - 1 ? -(extent - 1) * stride : stride;
            } else {
                out.push_back(torus_prev_[h][k]);
                here -= coord == 0 ? -(extent - 1) * stride : stride;
            }
        }
        stride *= extent;
    }
    assert(here == to);
}

void Topology::route_graph(int from, int to, std::vector<LinkId>& out) const {
    const auto& incoming = graph_predecessor_[static_cast<std::size_t>(from)];
    const std::size_t start = out.size();
    Vertex v = device_vertex_[static_cast<std::size_t>(to)];
    const Vertex source = device_vertex_[static_cast<std::size_t>(from)];
    while (v != source) {
        const LinkId l = incoming[v];
        out.push_back(l);
        v = link_source_[l];
    }
    std::reverse(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
}

void Topology::route(int from, int to, std::vector<LinkId>& out) const {
    if (from == to) return;
    if (cluster_.torus) return route_torus(from, to, out);
    if (cluster_.graph) return route_graph(from, to, out);
    if (node_of(from) == node_of(to)) return route_in_node(from, to, out);
    // Across nodes. On a rail-optimized fabric NCCL's PXN first moves the data over the node fabric
    // to the GPU on the destination's rail, so the message stays on one rail switch.
    int sender = from;
    if (cluster_.network->fabric == NetworkFabric::rail_optimized && cluster_.node.fabric == NodeFabric::nvswitch) {
        const int local_to = to % cluster_.gpus_per_node;
        const int rail_gpu = node_of(from) * cluster_.gpus_per_node + local_to;
        if (rail_of(rail_gpu) == rail_of(to) && rail_gpu != from) {
            route_in_node(from, rail_gpu, out);
            sender = rail_gpu;
        }
    }
    const auto nic_a = static_cast<std::size_t>(nic_of_[static_cast<std::size_t>(sender)]);
    const auto nic_b = static_cast<std::size_t>(nic_of_[static_cast<std::size_t>(to)]);
    out.push_back(device_to_nic_[static_cast<std::size_t>(sender)].up);
    out.push_back(nic_to_leaf_[nic_a].up);
    const int leaf_a = leaf_of_nic_[nic_a];
    const int leaf_b = leaf_of_nic_[nic_b];
    if (leaf_a != leaf_b) {
        out.push_back(leaf_to_spine_[static_cast<std::size_t>(leaf_a)].up);
        out.push_back(leaf_to_spine_[static_cast<std::size_t>(leaf_b)].down);
    }
    out.push_back(nic_to_leaf_[nic_b].down);
    out.push_back(device_to_nic_[static_cast<std::size_t>(to)].down);
}

Bandwidth Topology::route_bandwidth(int from, int to) const {
    std::vector<LinkId> path;
    route(from, to, path);
    Bandwidth bw(std::numeric_limits<double>::infinity());
    for (LinkId l : path) bw = min(bw, links_[l].bandwidth);
    return bw;
}

Seconds Topology::route_latency(int from, int to) const {
    std::vector<LinkId> path;
    route(from, to, path);
    Seconds t;
    for (LinkId l : path) t += links_[l].latency;
    return t;
}

}  // namespace splitsim::hardware
