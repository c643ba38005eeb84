#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "splitsim/hardware/cluster.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/scenario.hpp"
#include "support.hpp"

using namespace splitsim;
using test::rel;

namespace {

// A cluster whose links are so fast that communication costs nothing measurable.
hardware::ClusterSpec free_network(int nodes) {
    const auto j = nlohmann::json::parse(R"({
        "name": "free", "nodes": 1, "gpus_per_node": 8,
        "device": {"name": "X", "memory": "1 TiB", "memory_bandwidth": "2000 GB/s", "compute_units": 100,
                   "peak": {"bf16": "300 TFLOP/s"}},
        "node": {"fabric": "nvswitch", "gpu_bandwidth": "1e12 TB/s", "latency": "0 us"},
        "network": {"fabric": "fat-tree", "nics_per_node": 8, "nic_bandwidth": "1e12 TB/s", "latency": "0 us"}})");
    return hardware::parse_cluster(j, "free.json", ".", nodes);
}

// Many heavy layers and a one-token vocabulary: the embedding and head are negligible, so all stages are
// (almost exactly) uniform.
model::ModelSpec uniform_model() {
    model::ModelSpec m = test::gpt(32, 8192, 64, 2048, 1);
    m.dropout = false;
    return m;
}

sim::Prediction run(plan::Plan p, const model::ModelSpec& m, hardware::ClusterSpec c) {
    plan::validate(p, m, c);
    const sim::Scenario sc(m, std::move(c), std::move(p));
    return sim::predict_analytical(sc);
}

plan::Plan pipeline_plan(int pp, int micro_batches, plan::Schedule schedule, int vpp) {
    plan::Plan p;
    p.origin = "test";
    p.tp = 1;
    p.pp = pp;
    p.dp = 8 / pp;
    p.micro_batch = 1;
    p.global_batch = micro_batches * p.dp;
    p.schedule = schedule;
    p.vpp = vpp;
    return p;
}

}  // namespace

TEST_CASE("bubble fraction is (p - 1)/m for 1F1B and (p - 1)/(v m) interleaved, with free communication") {
    const auto m = uniform_model();
    for (int pp : {2, 4, 8}) {
        for (int mb : {8, 16, 32}) {
            CAPTURE(pp);
            CAPTURE(mb);
            const auto r = run(pipeline_plan(pp, mb, plan::Schedule::one_f_one_b, 1), m, free_network(1));
            // Narayanan et al. 2021, Sec. 2.2.1: bubble fraction (p - 1)/m.
            CHECK(rel(r.bubble_fraction, (pp - 1.0) / mb) < 0.005);
            const auto g = run(pipeline_plan(pp, mb, plan::Schedule::gpipe, 1), m, free_network(1));
            CHECK(rel(g.bubble_fraction, (pp - 1.0) / mb) < 0.005);
            // Interleaved with v = 2 chunks: (1/v)(p - 1)/m (ibid., Sec. 2.2.2).
            const auto i = run(pipeline_plan(pp, mb, plan::Schedule::interleaved, 2), m, free_network(1));
            CHECK(rel(i.bubble_fraction, (pp - 1.0) / (2.0 * mb)) < 0.005);
        }
    }
}

TEST_CASE("ZB-H1 shrinks the bubble from (p-1)(F+B+W) to (p-1)(F+B-W)") {
    const auto m = uniform_model();
    const auto onef = run(pipeline_plan(4, 16, plan::Schedule::one_f_one_b, 1), m, free_network(1));
    const auto zb = run(pipeline_plan(4, 16, plan::Schedule::zb_h1, 1), m, free_network(1));
    const auto& s = onef.stages[1];
    const double t = s.per_micro_batch().value(), w = s.weight_grad.value();
    // Qi et al. 2023 (arXiv 2401.10241), Sec. 3.1: relative to 1F1B's bubble the ZB-H1 bubble is (t - 2w)/t.
    CHECK(rel(zb.bubble.value() / onef.bubble.value(), (t - 2 * w) / t) < 0.005);
}

TEST_CASE("MFU, HFU and throughput follow their definitions") {
    const auto m = test::gpt(24, 2304, 24);
    plan::Plan p;
    p.origin = "test";
    p.tp = 2;
    p.pp = 2;
    p.micro_batch = 2;
    p.global_batch = 64;
    p.recompute = model::Recompute::full;
    auto c = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", 2);
    plan::validate(p, m, c);
    const sim::Scenario sc(m, std::move(c), p);
    const auto r = sim::predict_analytical(sc);
    const double T = r.iteration_time.value(), gpus = 16, peak = 312e12;
    // MFU = model FLOPs / (time x GPUs x peak)  (Korthikanti et al. 2022, Sec. 5)
    CHECK(rel(r.mfu, model::iteration_flops(m, 64, model::Recompute::none).value() / (T * gpus * peak)) < 1e-12);
    CHECK(rel(r.hfu, model::iteration_flops(m, 64, model::Recompute::full).value() / (T * gpus * peak)) < 1e-12);
    CHECK(rel(r.tokens_per_s, 64 * 2048 / T) < 1e-12);
    CHECK(r.hfu > r.mfu);
    // The breakdown adds up to the iteration time.
    double sum = r.compute.value() + r.bubble.value() + r.optimizer.value();
    for (const auto& t : r.exposed_comm) sum += t.value();
    CHECK(rel(sum, T) < 1e-9);
}

TEST_CASE("overlapping the gradient reduction with the backward pass saves time") {
    const auto m = test::gpt(24, 2304, 24);
    plan::Plan p;
    p.origin = "test";
    p.tp = 1;
    p.pp = 1;
    p.micro_batch = 4;
    p.global_batch = 128;
    auto c = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", 4);
    const auto plain = run(p, m, c);
    p.overlap_grad_reduce = true;
    const auto overlapped = run(p, m, c);
    CHECK(overlapped.iteration_time < plain.iteration_time);
    CHECK(overlapped.exposed_comm[static_cast<int>(plan::Dim::data)] < plain.exposed_comm[static_cast<int>(plan::Dim::data)]);
}

TEST_CASE("the same plan on a fat tree oversubscribed 4:1 reduces gradients 4x slower, as its bottleneck predicts") {
    // 16 nodes, one per leaf: the data-parallel rings (one GPU per node) cross the spine at every hop,
    // and eight of them share each leaf's uplink of 8 x 25 GB/s / oversubscription.
    auto spec = [](int oversubscription) {
        const auto j = nlohmann::json::parse(R"({"name": "ft", "nodes": 16, "gpus_per_node": 8,
            "device": {"name": "A100", "memory": "80 GiB", "memory_bandwidth": "2039 GB/s", "compute_units": 108,
                       "peak": {"bf16": "312 TFLOP/s"}},
            "node": {"fabric": "nvswitch", "gpu_bandwidth": "240 GB/s", "latency": "0.6 us"},
            "network": {"fabric": "fat-tree", "nics_per_node": 8, "nic_bandwidth": "200 Gb/s", "latency": "2.7 us",
                        "nodes_per_leaf": 1, "oversubscription": )" + std::to_string(oversubscription) + "}}");
        return hardware::parse_cluster(j, "ft.json", ".");
    };
    const auto m = test::gpt(24, 2304, 24);
    plan::Plan p;
    p.origin = "test";
    p.tp = 8;
    p.pp = 1;
    p.micro_batch = 1;
    p.global_batch = 16;
    const auto full = run(p, m, spec(1));
    const auto over = run(p, m, spec(4));
    const auto data = static_cast<std::size_t>(plan::Dim::data);
    // Bottleneck per byte: max(NIC 1/25 GB/s, uplink 8/(200/4 GB/s)) = 4x max(1/25, 8/200).
    CHECK(over.exposed_comm[data].value() / full.exposed_comm[data].value() == doctest::Approx(4.0).epsilon(0.02));
}

TEST_CASE("placement: tensor ranks innermost, then data, then pipeline (Megatron-LM's order), or as the plan orders") {
    const model::ModelSpec m = test::gpt(8, 1024, 16);
    plan::Plan p;
    p.origin = "test";
    p.tp = 2;
    p.pp = 2;
    p.dp = 2;
    p.micro_batch = 1;
    p.global_batch = 8;
    auto groups = [](const plan::Plan& plan, sim::GroupKind kind) { return sim::place_groups(plan)[static_cast<std::size_t>(kind)].groups; };
    using Groups = std::vector<std::vector<int>>;
    CHECK(groups(p, sim::GroupKind::tensor) == Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}});
    CHECK(groups(p, sim::GroupKind::dense_data) == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
    CHECK(groups(p, sim::GroupKind::pipeline) == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
    p.order = {plan::Dim::tensor, plan::Dim::context, plan::Dim::expert, plan::Dim::pipeline, plan::Dim::data};
    CHECK(groups(p, sim::GroupKind::tensor) == Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}});
    CHECK(groups(p, sim::GroupKind::pipeline) == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
    CHECK(groups(p, sim::GroupKind::dense_data) == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});

    // Expert layers as Megatron-Core lays them out: a second generator without context
    // parallelism, so under cp 2 the expert ranks lie tp apart (not tp x cp) and expert data
    // parallelism takes the context ranks in (dp x cp / ep).
    plan::Plan moe;
    moe.origin = "test";
    moe.tp = 2;
    moe.cp = 2;
    moe.dp = 2;
    moe.ep = 2;
    moe.pp = 1;
    CHECK(groups(moe, sim::GroupKind::context) == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
    CHECK(groups(moe, sim::GroupKind::dense_data) == Groups{{0, 2, 4, 6}, {1, 3, 5, 7}});
    CHECK(groups(moe, sim::GroupKind::expert) == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
    CHECK(groups(moe, sim::GroupKind::expert_data) == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
    moe.cp = 1;
    moe.dp = 4;
    CHECK(groups(moe, sim::GroupKind::expert) == Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}});
    CHECK(groups(moe, sim::GroupKind::expert_data) == Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}});
}

TEST_CASE("placement: each group knows its nodes, bottleneck link, sharing and hop latency") {
    // Two DGX A100 nodes (NVSwitch at 12 x 20 GB/s per GPU, eight 200 Gb/s rails): tp 8 inside a
    // node, dp 2 across the two, one rail per data-parallel group.
    const model::ModelSpec m = test::gpt(8, 1024, 16);
    hardware::ClusterSpec c = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", 2);
    plan::Plan p;
    p.origin = "test";
    p.tp = 8;
    p.pp = 1;
    p.dp = 2;
    p.micro_batch = 1;
    p.global_batch = 2;
    plan::validate(p, m, c);
    const sim::Scenario sc(m, std::move(c), std::move(p));
    const cost::GroupPlacement& tensor = sc.groups(sim::GroupKind::tensor).placement();
    CHECK(tensor.ranks == 8);
    CHECK(tensor.nodes == 1);
    CHECK(tensor.ranks_per_node == 8);
    CHECK(tensor.bottleneck.value() == doctest::Approx(240e9));  // NCCL's 20 GB/s x 12 NVLinks
    const cost::GroupPlacement& data = sc.groups(sim::GroupKind::dense_data).placement();
    CHECK(data.ranks == 2);
    CHECK(data.nodes == 2);
    CHECK(data.ranks_per_node == 1);
    CHECK(data.bottleneck.value() == doctest::Approx(25e9));  // one 200 Gb/s NIC
    CHECK(data.sharing_groups == 1);                          // a rail of its own
    CHECK(data.hop_latency > tensor.hop_latency);
}
