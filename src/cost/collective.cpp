#include "splitsim/cost/collective.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace splitsim::cost {
namespace {

using hardware::LinkId;
using hardware::Topology;

// NCCL's tuning model (NVIDIA/nccl src/graph/tuning.cc and src/tuning/nvls.cc, NCCL 2.2x).
// Latencies in microseconds, indexed [LL, Simple].
constexpr double kBaseLatRing[2] = {6.6, 8.4};
constexpr double kBaseLatTree[2] = {6.8, 8.4};
constexpr double kHwLatNvlinkRing[2] = {0.6, 3.4};
constexpr double kHwLatNvlinkTree[2] = {0.6, 4.0};
constexpr double kHwLatPciRing[2] = {1.0, 5.7};
constexpr double kHwLatPciTree[2] = {1.0, 4.0};
constexpr double kHwLatNetRing[2] = {2.7, 14.0};
constexpr double kHwLatNetTree[2] = {5.0, 14.0};
constexpr double kHwLatNvls = 25.0;
// Network post overhead: 1 us per step on x86 (3x for Simple), a floor on the intra-node step
// latency of an inter-node ring (getNetOverhead).
constexpr double kNetOverhead[2] = {1.0, 3.0};
// Tree bus bandwidth is 92% of the ring's (busBw * .92).
constexpr double kTreeBandwidth = 0.92;

// Bandwidth of a protocol relative to the link: LL sends 8 bytes of flags with every 8 bytes of
// data, and NCCL models it at 1/4 of the link for all-reduce or across nodes, 1/3 otherwise.
double protocol_efficiency(Protocol p, CollectiveKind kind, int nodes) {
    if (p == Protocol::simple) return 1.0;
    return (nodes > 1 || kind == CollectiveKind::all_reduce) ? 1.0 / 4.0 : 1.0 / 3.0;
}

// Pipeline granularity: NCCL moves data in chunks of NCCL_BUFFSIZE / NCCL_STEPS x chunk steps
// (4 MiB / 8 x 4 = 2 MiB for Simple, src/include/collectives.h ALLREDUCE_CHUNKSTEPS); the LL buffer
// holds 512 KiB over 8 steps, half of it flags. A ring reaches its full rate once the first chunk
// has passed the ranks before it.
double chunk_bytes(Protocol p) { return p == Protocol::simple ? 2.0 * 1024 * 1024 : 32.0 * 1024; }

int log2_ceil(int n) {
    int l = 0;
    while ((1 << l) < n) ++l;
    return l;
}

// Load that concurrent messages put on each link, in bytes per byte of S.
class Loads {
public:
    explicit Loads(const Topology& t) : topology_(&t), load_(t.link_count(), 0.0), last_group_(t.link_count(), -1),
                                         groups_(t.link_count(), 0) {}

    void add(int from, int to, double amount, int group) {
        path_.clear();
        topology_->route(from, to, path_);
        for (LinkId l : path_) {
            if (load_[l] == 0.0) touched_.push_back(l);
            load_[l] += amount;
            if (last_group_[l] != group) {
                last_group_[l] = group;
                ++groups_[l];
            }
        }
    }
    // Seconds per byte on the busiest link, and that link.
    [[nodiscard]] std::pair<double, LinkId> busiest() const {
        double worst = 0;
        LinkId at = 0;
        for (LinkId l : touched_) {
            const double t = load_[l] / topology_->link(l).bandwidth.value();
            if (t > worst) {
                worst = t;
                at = l;
            }
        }
        return {worst, at};
    }
    [[nodiscard]] int groups_on(LinkId l) const { return groups_[l]; }
    [[nodiscard]] LinkUsage usage() const {
        LinkUsage u;
        std::vector<LinkId> links = touched_;
        std::sort(links.begin(), links.end());
        for (LinkId l : links) u.loads.emplace_back(l, load_[l]);
        u.seconds_per_byte = busiest().first;
        return u;
    }
    [[nodiscard]] double load_on(LinkId l) const { return load_[l]; }
    void clear() {
        for (LinkId l : touched_) {
            load_[l] = 0;
            last_group_[l] = -1;
            groups_[l] = 0;
        }
        touched_.clear();
    }

private:
    const Topology* topology_;
    std::vector<double> load_;
    std::vector<int> last_group_;
    std::vector<int> groups_;
    std::vector<LinkId> touched_;
    std::vector<LinkId> path_;
};

// The members of a group split by node, in order of first appearance.
std::vector<std::vector<int>> node_blocks(const Topology& t, const std::vector<int>& group) {
    std::vector<std::vector<int>> blocks;
    std::map<int, std::size_t> index;
    for (int r : group) {
        auto [it, fresh] = index.emplace(t.node_of(r), blocks.size());
        if (fresh) blocks.emplace_back();
        blocks[it->second].push_back(r);
    }
    return blocks;
}

// NCCL's rings: node-contiguous, one channel per NIC rail the group's GPUs use, each channel's
// ring rotated inside every node so that it leaves and enters nodes through a different rail. On a
// torus, two rings run the group's order in opposite directions.
std::vector<std::vector<int>> ring_channels(const Topology& t, const std::vector<int>& group) {
    if (t.cluster().torus) {
        std::vector<int> reversed(group.rbegin(), group.rend());
        return {group, reversed};
    }
    const auto blocks = node_blocks(t, group);
    if (blocks.size() == 1 || t.cluster().graph) return {group};
    std::set<int> rails;
    for (int r : blocks.front()) rails.insert(t.rail_of(r));
    const std::size_t channels = std::max<std::size_t>(1, rails.size());
    std::vector<std::vector<int>> out;
    for (std::size_t c = 0; c < channels; ++c) {
        std::vector<int> ring;
        for (const auto& b : blocks) {
            for (std::size_t i = 0; i < b.size(); ++i) ring.push_back(b[(c + i) % b.size()]);
        }
        out.push_back(std::move(ring));
    }
    return out;
}

void add_ring(Loads& loads, const Topology& t, const std::vector<int>& group, int group_index) {
    if (group.size() < 2) return;
    const auto channels = ring_channels(t, group);
    const double share = 1.0 / static_cast<double>(channels.size());
    for (const auto& ring : channels) {
        for (std::size_t i = 0; i < ring.size(); ++i) loads.add(ring[i], ring[(i + 1) % ring.size()], share, group_index);
    }
}

double ring_cost(Loads& loads, const Topology& t, const std::vector<std::vector<int>>& groups) {
    loads.clear();
    for (std::size_t g = 0; g < groups.size(); ++g) add_ring(loads, t, groups[g], static_cast<int>(g));
    return loads.busiest().first;
}

void add_pattern(Loads& loads, const Topology& t, Pattern pattern, const std::vector<std::vector<int>>& groups) {
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto& members = groups[g];
        const int gi = static_cast<int>(g);
        switch (pattern) {
            case Pattern::ring: add_ring(loads, t, members, gi); break;
            case Pattern::all_to_all: {
                const double share = 1.0 / static_cast<double>(members.size());
                for (int a : members) {
                    for (int b : members) {
                        if (a != b) loads.add(a, b, share, gi);
                    }
                }
                break;
            }
            case Pattern::successor:
                for (std::size_t i = 0; i + 1 < members.size(); ++i) loads.add(members[i], members[i + 1], 1.0, gi);
                break;
        }
    }
}

}  // namespace

LinkUsage link_usage(const Topology& t, Pattern pattern, const std::vector<std::vector<int>>& groups) {
    Loads loads(t);
    add_pattern(loads, t, pattern, groups);
    return loads.usage();
}

std::string_view to_string(Algorithm a) {
    switch (a) {
        case Algorithm::ring: return "ring";
        case Algorithm::tree: return "tree";
        case Algorithm::hierarchical: return "hierarchical";
        case Algorithm::nvls: return "nvls";
        case Algorithm::torus: return "torus";
        case Algorithm::direct: return "direct";
        case Algorithm::p2p: return "p2p";
        case Algorithm::calibrated: return "calibrated";
    }
    return "?";
}

std::string_view to_string(Protocol p) { return p == Protocol::ll ? "LL" : "Simple"; }

PlacedGroups::PlacedGroups(const Topology& t, GroupSet set) : topology_(&t), set_(std::move(set)) {
    assert(!set_.groups.empty());
    const auto& group = set_.groups.front();
    const auto& cluster = t.cluster();
    const auto blocks = node_blocks(t, group);
    placement_.ranks = static_cast<int>(group.size());
    placement_.nodes = static_cast<int>(blocks.size());
    for (const auto& b : blocks) placement_.ranks_per_node = std::max(placement_.ranks_per_node, static_cast<int>(b.size()));
    nvidia_fabric_ = !cluster.torus && !cluster.graph;
    nvlink_ = cluster.node.fabric == hardware::NodeFabric::nvswitch;
    if (group.size() < 2) return;

    Loads loads(t);
    // The ring pattern, with group 0's bottleneck and the groups sharing it.
    if (set_.rings) {
    add_pattern(loads, t, Pattern::ring, set_.groups);
    ring_usage_ = loads.usage();
    {
        // Group 0's own routes, to name its bottleneck.
        double worst = 0;
        LinkId at = 0;
        std::vector<LinkId> path;
        for (const auto& ring : ring_channels(t, group)) {
            for (std::size_t i = 0; i < ring.size(); ++i) {
                const int a = ring[i], b = ring[(i + 1) % ring.size()];
                path.clear();
                t.route(a, b, path);
                placement_.hop_latency = max(placement_.hop_latency, t.route_latency(a, b));
                for (LinkId l : path) {
                    const double cost = loads.load_on(l) / t.link(l).bandwidth.value();
                    if (cost > worst) {
                        worst = cost;
                        at = l;
                    }
                }
            }
        }
        ring_ = loads.busiest().first;
        placement_.sharing_groups = loads.groups_on(at);
        placement_.bottleneck = t.link(at).bandwidth / static_cast<double>(placement_.sharing_groups);
    }

    // Intra- and inter-node parts, for the hierarchical algorithm.
    bool balanced = true;
    for (const auto& b : blocks) balanced = balanced && b.size() == blocks.front().size();
    if (placement_.nodes > 1 && placement_.ranks_per_node > 1 && balanced) {
        std::vector<std::vector<int>> intra, inter;
        for (const auto& g : set_.groups) {
            const auto gb = node_blocks(t, g);
            for (const auto& b : gb) intra.push_back(b);
            for (std::size_t j = 0; j < gb.front().size(); ++j) {
                std::vector<int> column;
                for (const auto& b : gb) column.push_back(b[std::min(j, b.size() - 1)]);
                inter.push_back(std::move(column));
            }
        }
        intra_ring_ = ring_cost(loads, t, intra);
        inter_ring_ = ring_cost(loads, t, inter);
    }
    }

    // All-to-all: every rank sends 1/n of its buffer to every other rank.
    if (set_.all_to_all) {
        loads.clear();
        add_pattern(loads, t, Pattern::all_to_all, set_.groups);
        all_to_all_usage_ = loads.usage();
        all_to_all_ = all_to_all_usage_.seconds_per_byte;
    }

    // Send/receive: every rank to its successor, all at once (pipeline stages, context-parallel rings).
    if (set_.p2p) {
        loads.clear();
        add_pattern(loads, t, Pattern::successor, set_.groups);
        p2p_usage_ = loads.usage();
        p2p_ = p2p_usage_.seconds_per_byte;
    }

    // NVLS: each GPU sends its buffer into the switch and receives the reduced result, (n + 1)/n of
    // the buffer each way through its own links (multimem ld_reduce of its 1/n share, then a
    // multicast store of that share), at the switch's reduction efficiency.
    if (set_.rings && nvidia_fabric_ && placement_.nodes == 1 && cluster.node.in_switch_reduction && nvlink_) {
        nvls_ = true;
        nvls_efficiency_ = cluster.device.interconnect->in_switch_reduction_efficiency;
        const double n = placement_.ranks;
        nvls_link_ = (n + 1) / n / (cluster.node.gpu_bandwidth.value() * nvls_efficiency_);
    }

    // Torus: a group that fills a sub-grid reduces along one dimension at a time.
    if (set_.rings && cluster.torus) {
        const auto& dims = cluster.torus->dims;
        std::vector<std::set<int>> coords(dims.size());
        auto coordinate = [&](int r, std::size_t k) {
            int stride = 1;
            for (std::size_t j = dims.size(); j-- > k + 1;) stride *= dims[j];
            return (r / stride) % dims[k];
        };
        for (int r : group) {
            for (std::size_t k = 0; k < dims.size(); ++k) coords[k].insert(coordinate(r, k));
        }
        long cells = 1;
        for (const auto& c : coords) cells *= static_cast<long>(c.size());
        if (cells == placement_.ranks) {
            for (std::size_t k = 0; k < dims.size(); ++k) {
                if (coords[k].size() < 2) continue;
                // Lines along dimension k in every group.
                std::vector<std::vector<int>> lines;
                for (const auto& g : set_.groups) {
                    std::map<std::vector<int>, std::vector<int>> by_rest;
                    for (int r : g) {
                        std::vector<int> rest;
                        for (std::size_t j = 0; j < dims.size(); ++j) {
                            if (j != k) rest.push_back(coordinate(r, j));
                        }
                        by_rest[rest].push_back(r);
                    }
                    for (auto& [rest, line] : by_rest) lines.push_back(std::move(line));
                }
                torus_extents_.push_back(static_cast<int>(coords[k].size()));
                torus_ring_.push_back(ring_cost(loads, t, lines));
            }
        }
    }
}

Seconds PlacedGroups::latency(Algorithm a, Protocol p, int steps, int inter_steps) const {
    const int pi = p == Protocol::ll ? 0 : 1;
    if (!nvidia_fabric_) {
        // Torus and explicit graphs: the longest neighbour route per step.
        return placement_.hop_latency * static_cast<double>(steps);
    }
    const int nodes = placement_.nodes;
    double us = 0;
    switch (a) {
        case Algorithm::ring:
        case Algorithm::p2p:
        case Algorithm::direct: {
            double intra = nvlink_ ? kHwLatNvlinkRing[pi] : kHwLatPciRing[pi];
            if (nodes > 1) intra = std::max(intra, kNetOverhead[pi]);
            us = kBaseLatRing[pi] + (steps - inter_steps) * intra + inter_steps * kHwLatNetRing[pi];
            break;
        }
        case Algorithm::tree: {
            const double intra = nvlink_ ? kHwLatNvlinkTree[pi] : kHwLatPciTree[pi];
            us = kBaseLatTree[pi] + 2.0 * ((placement_.ranks_per_node - 1) * intra + log2_ceil(nodes) * kHwLatNetTree[pi]);
            break;
        }
        case Algorithm::nvls:
            // The NVLS kernel's latency, plus one NVLink synchronisation per logical step.
            us = kHwLatNvls + steps * kHwLatNvlinkRing[1];
            break;
        case Algorithm::hierarchical:
        case Algorithm::torus:
        case Algorithm::calibrated: break;  // composed by the caller, or fitted
    }
    return Seconds(us * 1e-6);
}

CollectiveEstimate PlacedGroups::estimate(CollectiveKind kind, Bytes bytes, Algorithm a, Protocol p) const {
    const Seconds never(std::numeric_limits<double>::infinity());
    CollectiveEstimate e{never, Seconds(0), a, p};
    const int n = placement_.ranks;
    const int k = placement_.nodes;
    const double S = bytes.value();
    if (n <= 1 || S <= 0) return {Seconds(0), Seconds(0), a, p};
    const bool ring_kind = kind != CollectiveKind::all_to_all && kind != CollectiveKind::send_recv;
    if ((ring_kind && !set_.rings) || (kind == CollectiveKind::all_to_all && !set_.all_to_all) ||
        (kind == CollectiveKind::send_recv && !set_.p2p)) {
        return e;
    }
    const double eff = protocol_efficiency(p, kind, k);
    const double per_rank = S / n;
    const double chunk = std::min(chunk_bytes(p), per_rank);
    // latency + pipeline fill + traffic at the bottleneck
    // Parts of the estimate: latency, and the transfer (pipeline fill included) at the bottleneck.
    Seconds lat, transfer;
    bool applies = false;
    auto ring_part = [&](double beta, double traffic, int steps, int inter_steps, double times) {
        lat += latency(Algorithm::ring, p, steps, inter_steps) * times;
        transfer += Seconds(((steps - 1) * chunk + traffic) * beta / eff) * times;
        applies = true;
    };
    auto part = [&](Seconds l, Seconds t) {
        lat += l;
        transfer += t;
        applies = true;
    };

    switch (kind) {
        case CollectiveKind::all_reduce:
            switch (a) {
                case Algorithm::ring:
                    ring_part(ring_, 2.0 * (n - 1) / n * S, 2 * (n - 1), 2 * (k - 1), 1.0);
                    break;
                case Algorithm::tree:
                    if (k > 1 && nvidia_fabric_) {
                        const int depth = 2 * (placement_.ranks_per_node - 1 + log2_ceil(k));
                        const double beta = ring_ / kTreeBandwidth / eff;
                        part(latency(Algorithm::tree, p, 0, 0), Seconds(((depth - 1) * chunk + 2.0 * S) * beta));
                    }
                    break;
                case Algorithm::hierarchical:
                    if (intra_ring_ > 0 && inter_ring_ > 0) {
                        const int g = placement_.ranks_per_node;
                        ring_part(intra_ring_, (g - 1.0) / g * S, g - 1, 0, 2.0);
                        ring_part(inter_ring_, 2.0 * (k - 1) / k * S / g, 2 * (k - 1), 2 * (k - 1), 1.0);
                    }
                    break;
                case Algorithm::nvls:
                    if (nvls_ && p == Protocol::simple) part(latency(Algorithm::nvls, p, 2 * (n - 1), 0), Seconds(S * nvls_link_));
                    break;
                case Algorithm::torus:
                    if (!torus_ring_.empty()) {
                        // Reduce-scatter along each dimension in turn on a shrinking share, then all-gather back.
                        double share = S;
                        for (std::size_t d = 0; d < torus_ring_.size(); ++d) {
                            const double e_d = torus_extents_[d];
                            part(2.0 * (placement_.hop_latency * (e_d - 1)), Seconds(2.0 * (e_d - 1) / e_d * share * torus_ring_[d] / eff));
                            share /= e_d;
                        }
                    }
                    break;
                default: break;
            }
            break;
        case CollectiveKind::all_gather:
        case CollectiveKind::reduce_scatter:
            if (a == Algorithm::ring) {
                ring_part(ring_, (n - 1.0) / n * S, n - 1, k - 1, 1.0);
            } else if (a == Algorithm::torus && !torus_ring_.empty()) {
                double share = S;
                for (std::size_t d = 0; d < torus_ring_.size(); ++d) {
                    const double e_d = torus_extents_[d];
                    part(placement_.hop_latency * (e_d - 1), Seconds((e_d - 1) / e_d * share * torus_ring_[d] / eff));
                    share /= e_d;
                }
            }
            break;
        case CollectiveKind::broadcast:
            if (a == Algorithm::ring) ring_part(ring_, S, n - 1, k - 1, 1.0);
            break;
        case CollectiveKind::all_to_all:
            if (a == Algorithm::direct) {
                part(latency(Algorithm::direct, p, 1, k > 1 ? 1 : 0), Seconds(S * all_to_all_ / eff));
            }
            break;
        case CollectiveKind::send_recv:
            if (a == Algorithm::p2p) {
                const bool crosses = topology_->node_of(set_.groups.front()[0]) != topology_->node_of(set_.groups.front()[1]);
                part(latency(Algorithm::p2p, p, 1, crosses ? 1 : 0), Seconds(S * p2p_ / eff));
            }
            break;
    }
    if (applies) {
        e.latency = lat;
        e.time = lat + transfer;
    }
    return e;
}

const LinkUsage& PlacedGroups::usage(CollectiveKind kind) const {
    switch (kind) {
        case CollectiveKind::all_to_all: return all_to_all_usage_;
        case CollectiveKind::send_recv: return p2p_usage_;
        default: return ring_usage_;
    }
}

CollectiveEstimate PlacedGroups::estimate(CollectiveKind kind, Bytes bytes) const {
    // A fitted collective of this size of group, inside a node or across nodes, replaces the model:
    // the entry of the largest min_bytes at most `bytes`, or the smallest entry below all of them.
    const bool across = placement_.nodes > 1;
    const hardware::CalibratedCollective* fitted = nullptr;
    for (const hardware::CalibratedCollective& c : topology_->cluster().collectives) {
        if (c.op != kind || c.ranks != placement_.ranks || c.across_nodes != across) continue;
        const bool covers = c.min_bytes <= bytes;
        const bool fitted_covers = fitted && fitted->min_bytes <= bytes;
        if (!fitted || (covers && (!fitted_covers || c.min_bytes > fitted->min_bytes)) ||
            (!covers && !fitted_covers && c.min_bytes < fitted->min_bytes)) {
            fitted = &c;
        }
    }
    if (fitted && placement_.ranks > 1 && bytes.value() > 0) {
        return {fitted->latency + bytes / fitted->bandwidth, fitted->latency, Algorithm::calibrated, Protocol::simple};
    }
    CollectiveEstimate best{Seconds(std::numeric_limits<double>::infinity()), Seconds(0), Algorithm::ring, Protocol::simple};
    for (Algorithm a : {Algorithm::ring, Algorithm::tree, Algorithm::hierarchical, Algorithm::nvls, Algorithm::torus,
                        Algorithm::direct, Algorithm::p2p}) {
        for (Protocol p : {Protocol::ll, Protocol::simple}) {
            const CollectiveEstimate e = estimate(kind, bytes, a, p);
            if (e.time < best.time) best = e;
        }
    }
    return best;
}

}  // namespace splitsim::cost
