#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/cost/collective.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/hardware/topology.hpp"
#include "support.hpp"

using namespace splitsim;
using cost::Algorithm;
using cost::Protocol;
using test::rel;

namespace {

const char* kDevice = R"({"name": "G", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 100,
                          "peak": {"bf16": "300 TFLOP/s"}})";

hardware::ClusterSpec cluster(const std::string& body) {
    const std::string text = R"({"name": "t", "device": )" + std::string(kDevice) + ", " + body + "}";
    return hardware::parse_cluster(nlohmann::json::parse(text), "t.json", ".");
}

std::vector<int> first(int n) {
    std::vector<int> g;
    for (int i = 0; i < n; ++i) g.push_back(i);
    return g;
}

cost::PlacedGroups place(const hardware::Topology& t, std::vector<std::vector<int>> groups) {
    cost::GroupSet s;
    s.groups = std::move(groups);
    return cost::PlacedGroups(t, std::move(s));
}

const double GiB8 = 8.0 * 1024 * 1024 * 1024;

// The transfer part of a collective of 8 GiB: the time it takes beyond one of 4 GiB, doubled. Latency
// and pipeline fill (one 2 MiB chunk per step at either size) cancel.
double bandwidth_time(const cost::PlacedGroups& g, CollectiveKind k, Algorithm a) {
    return 2.0 * (g.estimate(k, Bytes(GiB8), a, Protocol::simple).time.value() -
                  g.estimate(k, Bytes(GiB8 / 2), a, Protocol::simple).time.value());
}

hardware::ClusterSpec load(const char* name, int nodes) {
    return hardware::load_cluster(test::source_root() + "/topologies/" + name, nodes);
}

double busbw(const cost::PlacedGroups& g, CollectiveKind k, double bytes) {
    const double t = g.estimate(k, Bytes(bytes)).time.value();
    return bytes / t * bus_bandwidth_factor(k, g.ranks()) / 1e9;
}

}  // namespace

TEST_CASE("ring: 2(n-1)/n S / B for all-reduce, (n-1)/n S / B for all-gather and reduce-scatter") {
    const hardware::Topology t(cluster(R"("nodes": 1, "gpus_per_node": 8,
        "node": {"fabric": "nvswitch", "gpu_bandwidth": "100 GB/s", "latency": "0 us"})"));
    const auto g = place(t, {first(8)});
    const double B = 100e9, n = 8;
    CHECK(rel(bandwidth_time(g, CollectiveKind::all_reduce, Algorithm::ring), 2 * (n - 1) / n * GiB8 / B) < 1e-9);
    CHECK(rel(bandwidth_time(g, CollectiveKind::all_gather, Algorithm::ring), (n - 1) / n * GiB8 / B) < 1e-9);
    CHECK(rel(bandwidth_time(g, CollectiveKind::reduce_scatter, Algorithm::ring), (n - 1) / n * GiB8 / B) < 1e-9);
    // Latency at one byte: NCCL's Simple ring, 8.4 us + 2(n-1) x 3.4 us over NVLink (tuning.cc).
    const auto tiny = g.estimate(CollectiveKind::all_reduce, Bytes(1), Algorithm::ring, Protocol::simple);
    CHECK(rel(tiny.time.value(), (8.4 + 14 * 3.4) * 1e-6) < 1e-3);
    // ... and LL: 6.6 us + 2(n-1) x 0.6 us, at a quarter of the bandwidth.
    const auto ll = g.estimate(CollectiveKind::all_reduce, Bytes(1), Algorithm::ring, Protocol::ll);
    CHECK(rel(ll.time.value(), (6.6 + 14 * 0.6) * 1e-6) < 1e-3);
    CHECK(g.estimate(CollectiveKind::all_reduce, Bytes(8)).protocol == Protocol::ll);
    CHECK(g.estimate(CollectiveKind::all_reduce, Bytes(1 << 30)).protocol == Protocol::simple);
}

TEST_CASE("tree and hierarchical all-reduce across nodes") {
    // 4 nodes of 4 GPUs: NVLink 100 GB/s per GPU, 4 NICs of 200 Gb/s (25 GB/s) per node.
    const hardware::Topology t(cluster(R"("nodes": 4, "gpus_per_node": 4,
        "node": {"fabric": "nvswitch", "gpu_bandwidth": "100 GB/s", "latency": "0 us"},
        "network": {"fabric": "fat-tree", "nics_per_node": 4, "nic_bandwidth": "200 Gb/s", "latency": "0 us"})"));
    const auto g = place(t, {first(16)});
    const double S = GiB8, intra = 100e9, nic = 25e9, k = 4, gpn = 4;
    // The ring leaves each node through 4 NICs (one channel per rail): node bandwidth 4 x 25 GB/s.
    CHECK(rel(bandwidth_time(g, CollectiveKind::all_reduce, Algorithm::ring), 2 * 15.0 / 16 * S / (gpn * nic)) < 1e-9);
    // Tree: twice the buffer at 92% of the ring's bus bandwidth (NCCL tuning.cc, busBw * .92).
    CHECK(rel(bandwidth_time(g, CollectiveKind::all_reduce, Algorithm::tree), 2 * S / (0.92 * gpn * nic)) < 1e-9);
    // Hierarchical: reduce-scatter and all-gather inside nodes, all-reduce of S/g between nodes on
    // each GPU's own NIC: 2 (g-1)/g S / B_intra + 2 (k-1)/k (S/g) / B_nic.
    const double hier = 2 * (gpn - 1) / gpn * S / intra + 2 * (k - 1) / k * (S / gpn) / nic;
    CHECK(rel(bandwidth_time(g, CollectiveKind::all_reduce, Algorithm::hierarchical), hier) < 1e-9);
    // Tree latency: 8.4 us + 2 ((g - 1) 4.0 us + log2(k) 14 us) for Simple (tuning.cc).
    const auto tiny = g.estimate(CollectiveKind::all_reduce, Bytes(1), Algorithm::tree, Protocol::simple);
    CHECK(rel(tiny.time.value(), (8.4 + 2 * (3 * 4.0 + 2 * 14.0)) * 1e-6) < 1e-3);
}

TEST_CASE("torus: one bidirectional ring per dimension on a shrinking share") {
    const hardware::Topology t(cluster(R"("nodes": 4, "gpus_per_node": 4,
        "torus": {"dims": [4, 4], "link_bandwidth": "50 GB/s", "latency": "1 us"})"));
    const auto g = place(t, {first(16)});
    const double S = GiB8, B = 50e9;
    // Each dimension's ring runs both ways, so each direction carries half: 2 (e-1)/e S_d / (2B),
    // S_1 = S, S_2 = S/4.
    const double torus = 2 * 0.75 * S / (2 * B) + 2 * 0.75 * (S / 4) / (2 * B);
    CHECK(rel(bandwidth_time(g, CollectiveKind::all_reduce, Algorithm::torus), torus) < 1e-9);
    CHECK(g.estimate(CollectiveKind::all_reduce, Bytes(S)).algorithm == Algorithm::torus);
}

TEST_CASE("all-to-all and send/recv load the links they cross") {
    const hardware::Topology t(cluster(R"("nodes": 2, "gpus_per_node": 4,
        "node": {"fabric": "nvswitch", "gpu_bandwidth": "100 GB/s", "latency": "0 us"},
        "network": {"fabric": "fat-tree", "nics_per_node": 4, "nic_bandwidth": "200 Gb/s", "latency": "0 us"})"));
    // All-to-all over 8 ranks: each GPU sends 4/8 of its buffer to the other node through its NIC.
    const auto a2a = place(t, {first(8)});
    CHECK(rel(bandwidth_time(a2a, CollectiveKind::all_to_all, Algorithm::direct), GiB8 * 4 / 8 / 25e9) < 1e-9);
    // Send/recv between nodes: the NIC's 25 GB/s.
    const auto p2p = place(t, {{0, 4}});
    CHECK(rel(bandwidth_time(p2p, CollectiveKind::send_recv, Algorithm::p2p), GiB8 / 25e9) < 1e-9);
}

TEST_CASE("predicted all-reduce busbw within 10% of nccl-tests on one 8-GPU node, 16 MB to 8 GB") {
    // Azure/AI-benchmarking-guide results, copied into validate/published/nccl-busbw.json: the
    // model as NCCL's tuning describes it, before any calibration.
    std::ifstream in(test::source_root() + "/validate/published/nccl-busbw.json");
    const auto curves = nlohmann::json::parse(in)["curves"];
    REQUIRE(curves.size() == 2);
    for (const auto& curve : curves) {
        const std::string file = curve["cluster"].get<std::string>() + ".json";
        const hardware::Topology t(load(file.c_str(), 1));
        const auto g = place(t, {first(8)});
        for (const auto& point : curve["busbw_GBps"]) {
            const double bytes = point[0].get<double>();
            if (bytes < 16.0 * (1 << 20)) continue;  // small messages: latency-bound, checked below
            const double published = point[1].get<double>();
            const double predicted = busbw(g, CollectiveKind::all_reduce, bytes);
            std::cout << file << " " << bytes << " B: predicted " << predicted << " GB/s, nccl-tests " << published << "\n";
            CHECK(std::fabs(predicted / published - 1) <= 0.10);
        }
    }
}

TEST_CASE("the maintainers' statements: multi-node A100 ~192 GB/s, H100 ring ~370 vs NVLS ~480") {
    {
        // DGX A100 nodes with 8 HDR NICs: ~192 GB/s all-reduce busbw across nodes.
        const hardware::Topology t(load("dgx-a100-superpod.json", 4));
        const auto g = place(t, {first(32)});
        CHECK(std::fabs(busbw(g, CollectiveKind::all_reduce, GiB8) / 192 - 1) <= 0.10);
    }
    {
        const hardware::Topology t(load("dgx-h100-superpod.json", 1));
        const auto g = place(t, {first(8)});
        const double ring = GiB8 / g.estimate(CollectiveKind::all_reduce, Bytes(GiB8), Algorithm::ring, Protocol::simple).time.value() *
                            1.75 / 1e9;
        CHECK(ring >= 365 * 0.95);
        CHECK(ring <= 370 * 1.05);
        CHECK(std::fabs(busbw(g, CollectiveKind::all_reduce, GiB8) / 480 - 1) <= 0.10);
        CHECK(g.estimate(CollectiveKind::all_reduce, Bytes(GiB8)).algorithm == Algorithm::nvls);
    }
    {
        // Small messages: 2 A100 at 32 bytes ~10 us; multi-node ~30-50 us.
        const hardware::Topology one(load("dgx-a100-superpod.json", 1));
        const double two = place(one, {{0, 1}}).estimate(CollectiveKind::all_reduce, Bytes(32)).time.value() * 1e6;
        CHECK(two >= 5);
        CHECK(two <= 15);
        for (int nodes : {4, 8}) {
            const hardware::Topology t(load("dgx-a100-superpod.json", nodes));
            const double us = place(t, {first(8 * nodes)}).estimate(CollectiveKind::all_reduce, Bytes(32)).time.value() * 1e6;
            CAPTURE(nodes);
            CHECK(us >= 30);
            CHECK(us <= 50);
        }
    }
}

TEST_CASE("oversubscription slows the data-parallel reduction by what the bottleneck predicts") {
    // 16 nodes, one node per leaf: every ring hop between nodes crosses the spine. Eight
    // data-parallel groups (one per local GPU) each send one ring's traffic out of every leaf,
    // so the leaf uplink carries 8 units against 8 NICs x 25 GB/s / oversubscription.
    auto spec = [](int oversubscription) {
        return cluster(R"("nodes": 16, "gpus_per_node": 8,
            "node": {"fabric": "nvswitch", "gpu_bandwidth": "240 GB/s", "latency": "0 us"},
            "network": {"fabric": "fat-tree", "nics_per_node": 8, "nic_bandwidth": "200 Gb/s", "latency": "2 us",
                        "nodes_per_leaf": 1, "oversubscription": )" + std::to_string(oversubscription) + "}");
    };
    auto dp_groups = [] {
        std::vector<std::vector<int>> groups;
        for (int local = 0; local < 8; ++local) {
            std::vector<int> g;
            for (int node = 0; node < 16; ++node) g.push_back(node * 8 + local);
            groups.push_back(g);
        }
        return groups;
    };
    const hardware::Topology full(spec(1)), over(spec(4));
    const auto a = place(full, dp_groups());
    const auto b = place(over, dp_groups());
    // Seconds per byte: max(NIC 1/25 GB/s, uplink 8 / (200 GB/s / oversubscription)).
    const double beta_full = std::max(1 / 25e9, 8 / 200e9), beta_over = std::max(1 / 25e9, 8 / 50e9);
    const double ratio = bandwidth_time(b, CollectiveKind::all_reduce, Algorithm::ring) /
                         bandwidth_time(a, CollectiveKind::all_reduce, Algorithm::ring);
    CHECK(rel(ratio, beta_over / beta_full) < 0.01);
    CHECK(b.placement().sharing_groups == 8);
}

TEST_CASE("PCIe node: crossing CPU sockets is slower than staying under one PCIe switch") {
    const hardware::Topology t(cluster(R"("nodes": 1, "gpus_per_node": 8,
        "node": {"fabric": "pcie", "gpu_bandwidth": "25 GB/s", "latency": "1 us", "pcie_switches": 4, "sockets": 2,
                 "socket_link": "10 GB/s"})"));
    const auto same_switch = place(t, {{0, 1}});
    const auto across = place(t, {{0, 7}});
    CHECK(bandwidth_time(across, CollectiveKind::send_recv, Algorithm::p2p) >
          2 * bandwidth_time(same_switch, CollectiveKind::send_recv, Algorithm::p2p));
}

TEST_CASE("explicit graphs: routes follow the links; a disconnected graph is an error") {
    const hardware::Topology t(cluster(R"("nodes": 1, "gpus_per_node": 3,
        "graph": {"vertices": [{"name": "a", "kind": "device"}, {"name": "b", "kind": "device"}, {"name": "c", "kind": "device"},
                               {"name": "s", "kind": "switch"}],
                  "links": [{"a": "a", "b": "s", "bandwidth": "10 GB/s", "latency": "1 us"},
                            {"a": "b", "b": "s", "bandwidth": "20 GB/s", "latency": "1 us"},
                            {"a": "c", "b": "b", "bandwidth": "5 GB/s", "latency": "1 us"}]})"));
    CHECK(t.route_bandwidth(0, 2).value() == 5e9);
    CHECK(rel(t.route_latency(0, 2).value(), 3e-6) < 1e-12);
    CHECK_THROWS_WITH_AS(hardware::Topology(cluster(R"("nodes": 1, "gpus_per_node": 2,
        "graph": {"vertices": [{"name": "a", "kind": "device"}, {"name": "b", "kind": "device"}], "links": []})")),
                         "t.json: /graph: the topology is disconnected: device 1 cannot reach device 0", InputError);
}

TEST_CASE("every shipped cluster file builds its topology and costs a collective") {
    for (const char* name : {"dgx-a100-superpod", "dgx-h100-superpod", "hgx-b200", "gb200-nvl72", "pcie-a100x8", "tpu-v4-pod",
                             "tpu-v5p-slice", "example-graph", "localhost-cpu"}) {
        CAPTURE(name);
        const auto spec = hardware::load_cluster(test::source_root() + "/topologies/" + name + ".json");
        const hardware::Topology t(spec);
        CHECK(t.devices() == spec.device_count());
        const auto g = place(t, {first(std::min(8, t.devices()))});
        const double busbw_GBps = busbw(g, CollectiveKind::all_reduce, 1 << 28);
        CHECK(busbw_GBps > 0);
        CHECK(busbw_GBps < 2000);
    }
    // An NVL72 rack keeps a 64-GPU group inside one NVLink domain: NVLink bandwidth, not the NICs'.
    const hardware::Topology nvl(hardware::load_cluster(test::source_root() + "/topologies/gb200-nvl72.json"));
    CHECK(busbw(place(nvl, {first(64)}), CollectiveKind::all_reduce, 1 << 30) > 400);
}

TEST_CASE("calibrated collectives: the piece whose size range holds the message, the smallest below all") {
    const hardware::Topology t(cluster(R"("nodes": 1, "gpus_per_node": 4,
        "node": {"fabric": "nvswitch", "gpu_bandwidth": "100 GB/s", "latency": "1 us"},
        "collectives": [{"op": "all_reduce", "ranks": 2, "scope": "node", "min_bytes": "64 KiB", "latency": "20 us", "bandwidth": "10 GB/s"},
                        {"op": "all_reduce", "ranks": 2, "scope": "node", "min_bytes": "1 KiB", "latency": "2 us", "bandwidth": "1 GB/s"},
                        {"op": "all_reduce", "ranks": 2, "scope": "node", "min_bytes": "1 MiB", "latency": "50 us", "bandwidth": "20 GB/s"}])"));
    const auto pair = place(t, {first(2)});
    auto time = [&](double bytes) { return pair.estimate(CollectiveKind::all_reduce, Bytes(bytes)).time.value(); };
    CHECK(rel(time(512), 2e-6 + 512 / 1e9) < 1e-12);               // below every piece: the smallest
    CHECK(rel(time(4096), 2e-6 + 4096 / 1e9) < 1e-12);
    CHECK(rel(time(65536), 20e-6 + 65536 / 10e9) < 1e-12);         // a piece starts at its min_bytes
    CHECK(rel(time(1 << 20), 50e-6 + (1 << 20) / 20e9) < 1e-12);
    CHECK(pair.estimate(CollectiveKind::all_reduce, Bytes(4096)).algorithm == Algorithm::calibrated);
    // Other ops and group sizes keep NCCL's model.
    CHECK(pair.estimate(CollectiveKind::all_gather, Bytes(4096)).algorithm != Algorithm::calibrated);
    CHECK(place(t, {first(4)}).estimate(CollectiveKind::all_reduce, Bytes(4096)).algorithm != Algorithm::calibrated);
}
