// The validation harness's planning and bookkeeping: which kernels at which shapes, which
// collective groups, the data pattern of collectives, the statistics and the data checks.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "splitsim/hardware/cluster.hpp"
#include "splitsim/kernels/check_pattern.hpp"
#include "splitsim/kernels/comm.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/validate/cases.hpp"
#include "splitsim/validate/check.hpp"
#include "splitsim/validate/stats.hpp"
#include "support.hpp"

using namespace splitsim;
using namespace splitsim::validate;

namespace {

model::ModelSpec tiny() { return model::load_model(test::source_root() + "/models/gpt-tiny.json"); }
plan::Plan tiny_plan() { return plan::load_plan(test::source_root() + "/plans/tiny-tp2-dp2.json"); }

const KernelCase& find(const std::vector<KernelCase>& cases, const std::string& op) {
    const auto it = std::find_if(cases.begin(), cases.end(), [&](const KernelCase& c) { return c.op == op; });
    REQUIRE(it != cases.end());
    return *it;
}

}  // namespace

TEST_CASE("kernel cases are the plan's shard shapes: gpt-tiny under tp 2, micro-batch 2") {
    const model::ModelSpec m = tiny();
    const plan::Plan p = tiny_plan();
    const double one[] = {1.0};
    const auto cases = kernel_cases(m, p, one);
    // Every GEMM of the expanded shard appears with its shape.
    const model::LayerGraph g = model::expand(m, plan::shard_of(p));
    for (const auto* ops : {&g.dense, &g.head}) {
        for (const model::Op& op : *ops) {
            if (op.kind != model::OpKind::gemm && op.kind != model::OpKind::attention_gemm) continue;
            const KernelCase& c = find(cases, std::string(op.name));
            CAPTURE(op.name);
            CHECK(c.gemm.m == op.gemm.m);
            CHECK(c.gemm.n == op.gemm.n);
            CHECK(c.gemm.k == op.gemm.k);
            CHECK(c.gemm.batch == op.gemm.batch);
        }
    }
    // tokens = micro_batch x seq = 2 x 128; QKV is column-parallel: n = 3 h / tp = 192.
    const KernelCase& qkv = find(cases, "qkv");
    CHECK(qkv.gemm.m == 256);
    CHECK(qkv.gemm.n == 192);
    CHECK(qkv.gemm.k == 128);
    CHECK(qkv.kind == "gemm");
    // Scores: (b heads / tp) = 4 blocks of 128 x 128, scaled by 1/sqrt(head_dim = 32), causal.
    const KernelCase& sm = find(cases, "attn_softmax");
    CHECK(sm.softmax.batch == 4);
    CHECK(sm.softmax.queries == 128);
    CHECK(sm.softmax.keys == 128);
    CHECK(sm.softmax.scale == doctest::Approx(1 / std::sqrt(32.0)));
    CHECK(sm.softmax.causal);
    CHECK(find(cases, "attn_norm").rows.rows == 256);
    CHECK(find(cases, "gelu").elements == 256 * 512 / 2);
    CHECK(find(cases, "cross_entropy").rows.cols == 256);  // vocab / tp
    CHECK_FALSE(find(cases, "attn_context").b_transposed);  // V is read as keys x head_dim
    // AdamW over one layer's parameters on this rank.
    CHECK(find(cases, "adam").elements == std::llround(model::totals(g.dense).parameters));
    // Ops without a kernel are left out.
    CHECK(std::none_of(cases.begin(), cases.end(), [](const KernelCase& c) { return c.kind == "dropout" || c.kind == "embedding"; }));
}

TEST_CASE("the sweep halves and doubles the tokens") {
    const double scales[] = {0.5, 1.0, 2.0};
    const auto cases = kernel_cases(tiny(), tiny_plan(), scales);
    std::map<double, std::int64_t> qkv_m;
    for (const KernelCase& c : cases) {
        if (c.op == "qkv") qkv_m[c.scale] = c.gemm.m;
    }
    CHECK(qkv_m == std::map<double, std::int64_t>{{0.5, 128}, {1.0, 256}, {2.0, 512}});
}

TEST_CASE("GEMM passes: forward, input gradient and weight gradient products") {
    CHECK(passes_of(Kernel::gemm).size() == 3);
    CHECK(passes_of(Kernel::softmax) == std::vector<Pass>{Pass::forward, Pass::backward});
    CHECK(passes_of(Kernel::adam) == std::vector<Pass>{Pass::step});
    KernelCase c;
    c.gemm = {256, 192, 128, 1, false, true, false};
    const auto bi = gemm_product(c, Pass::backward_input);   // dX[256, 128] = dY[256, 192] W[192, 128]
    CHECK((bi.m == 256 && bi.n == 128 && bi.k == 192 && !bi.trans_a && !bi.trans_b));
    const auto bw = gemm_product(c, Pass::backward_weight);  // dW[192, 128] = dY^T X
    CHECK((bw.m == 192 && bw.n == 128 && bw.k == 256 && bw.trans_a && !bw.trans_b));
}

TEST_CASE("collective groups: tensor groups are consecutive, data groups tp apart") {
    std::vector<std::string> skipped;
    const auto groups = group_cases(tiny_plan(), 4, &skipped);
    REQUIRE(groups.size() == 3);
    CHECK(groups[0].name == "tensor");
    CHECK((groups[0].layout.size == 2 && groups[0].layout.stride == 1));
    CHECK(groups[1].name == "data");
    CHECK((groups[1].layout.size == 2 && groups[1].layout.stride == 2));
    CHECK(groups[2].name == "world");
    CHECK(skipped.empty());
    // Ranks 0 1 | 2 3 form the tensor groups; 0 2 | 1 3 the data groups.
    const kernels::GroupLayout data = groups[1].layout;
    CHECK(data.group_of(0) == data.group_of(2));
    CHECK(data.group_of(1) == data.group_of(3));
    CHECK(data.group_of(0) != data.group_of(1));
    for (int r = 0; r < 4; ++r) CHECK(data.rank_at(data.group_of(r), data.position_of(r)) == r);

    // A pipeline plan: tensor pairs, then pipeline pairs 2 apart (dp = 1); placed pipeline-first,
    // the data groups move out instead.
    plan::Plan pp = tiny_plan();
    pp.dp = 1;
    pp.pp = 2;
    const auto piped = group_cases(pp, 4, nullptr);
    REQUIRE(piped.size() == 3);
    CHECK(piped[1].name == "pipeline");
    CHECK((piped[1].layout.size == 2 && piped[1].layout.stride == 2));
    plan::Plan both = tiny_plan();
    both.tp = 1;
    both.pp = 2;
    both.order = {plan::Dim::tensor, plan::Dim::context, plan::Dim::expert, plan::Dim::pipeline, plan::Dim::data};
    const auto ordered = group_cases(both, 4, nullptr);
    REQUIRE(ordered.size() == 3);
    CHECK((ordered[0].name == "data" && ordered[0].layout.stride == 2));
    CHECK((ordered[1].name == "pipeline" && ordered[1].layout.stride == 1));

    // Expert parallelism inside the data dimension: the data group is the dense one, expert ranks
    // included. Placed tensor, expert, pipeline, data, the pipeline ranks lie ep apart and the
    // dense data group is the two expert ranks.
    plan::Plan moe = tiny_plan();
    moe.tp = 1;
    moe.pp = 2;
    moe.ep = 2;
    moe.order = {plan::Dim::tensor, plan::Dim::context, plan::Dim::expert, plan::Dim::pipeline, plan::Dim::data};
    const auto experts = group_cases(moe, 4, nullptr);
    REQUIRE(experts.size() == 3);
    CHECK((experts[0].name == "data" && experts[0].layout.size == 2 && experts[0].layout.stride == 1));
    CHECK((experts[1].name == "pipeline" && experts[1].layout.size == 2 && experts[1].layout.stride == 2));
    // Context parallelism: the data group gradients are reduced over spans the context ranks too
    // (dp x cp); the context groups lie tp apart. Expert groups are measured on their own where
    // they differ from the data group.
    plan::Plan ring = tiny_plan();
    ring.tp = 1;
    ring.cp = 2;
    const auto context = group_cases(ring, 4, nullptr);
    REQUIRE(context.size() == 2);
    CHECK((context[0].name == "data" && context[0].layout.size == 4 && context[0].layout.stride == 1));
    CHECK((context[1].name == "context" && context[1].layout.size == 2 && context[1].layout.stride == 1));
    // With dp = 4 the pipeline dimension splits the dense data group: not one strided run.
    moe.dp = 4;
    skipped.clear();
    const auto split = group_cases(moe, 8, &skipped);
    CHECK(std::none_of(split.begin(), split.end(), [](const GroupCase& g) { return g.name == "data"; }));
    REQUIRE(skipped.size() == 1);
    CHECK(skipped[0].find("data groups are not one strided run") == 0);
    CHECK(std::any_of(split.begin(), split.end(),
                      [](const GroupCase& g) { return g.name == "expert" && g.layout.size == 2 && g.layout.stride == 1; }));

    // On two ranks the data groups (2 ranks, 2 apart) do not fit; the world equals a tensor group.
    skipped.clear();
    const auto two = group_cases(tiny_plan(), 2, &skipped);
    REQUIRE(two.size() == 1);
    CHECK(two[0].name == "tensor");
    CHECK(skipped.size() == 1);
}

TEST_CASE("collective sizes are the powers of two between the bounds") {
    CHECK(size_sweep(1024, 4096) == std::vector<std::int64_t>{1024, 2048, 4096});
    CHECK(size_sweep(1000, 5000) == std::vector<std::int64_t>{1024, 2048, 4096});
}

TEST_CASE("the expected data of every collective is what MPI and NCCL define") {
    // Simulate each collective on the host from the send pattern and compare.
    for (int n : {2, 3, 4}) {
        const std::size_t S = 12 * static_cast<std::size_t>(n);  // nccl-tests' size in elements
        for (CollectiveKind kind : kAllCollectives) {
            const std::size_t in_n = kernels::send_elements(kind, S, n);
            const std::size_t out_n = kernels::recv_elements(kind, S, n);
            const std::size_t chunk = S / static_cast<std::size_t>(n);
            auto send = [&](int rank, std::size_t i) {
                REQUIRE(i < in_n);
                return kernels::pattern_value(rank, i);
            };
            for (int p = 0; p < n; ++p) {
                for (std::size_t i = 0; i < out_n; ++i) {
                    float want = 0;
                    switch (kind) {
                        case CollectiveKind::all_reduce:
                            for (int j = 0; j < n; ++j) want += send(j, i);
                            break;
                        case CollectiveKind::all_gather: want = send(static_cast<int>(i / chunk), i % chunk); break;
                        case CollectiveKind::reduce_scatter:
                            for (int j = 0; j < n; ++j) want += send(j, static_cast<std::size_t>(p) * chunk + i);
                            break;
                        case CollectiveKind::all_to_all:
                            want = send(static_cast<int>(i / chunk), static_cast<std::size_t>(p) * chunk + i % chunk);
                            break;
                        case CollectiveKind::broadcast: want = send(0, i); break;
                        case CollectiveKind::send_recv: want = send((p + n - 1) % n, i); break;
                    }
                    CAPTURE(to_string(kind));
                    CAPTURE(n);
                    CHECK(kernels::expected_value(kind, n, p, out_n, i) == want);
                }
            }
        }
    }
}

TEST_CASE("summaries use linear interpolation between order statistics") {
    const Summary s = summarize({10, 1, 9, 2, 8, 3, 7, 4, 6, 5});
    CHECK(s.min == 1);
    CHECK(s.max == 10);
    CHECK(s.median == doctest::Approx(5.5));
    CHECK(s.p10 == doctest::Approx(1.9));  // position 0.1 x 9 = 0.9 between 1 and 2
    CHECK(s.p90 == doctest::Approx(9.1));
    const Summary one = summarize({3});
    CHECK((one.min == 3 && one.p10 == 3 && one.median == 3 && one.p90 == 3 && one.max == 3));
}

TEST_CASE("data checks: relative and norm-wise bounds, NaN fails, GEMM entries by dot products") {
    CHECK(compare({1.0, 2.0}, {1.0, 2.0}, 1e-6, "x").passed);
    CHECK_FALSE(compare({1.0, 2.1}, {1.0, 2.0}, 1e-3, "x").passed);
    CHECK_FALSE(compare({std::nan("")}, {1.0}, 1e-3, "x").passed);
    // A tiny value next to large ones is judged against 2% of the largest (norm-wise).
    CHECK(compare({1e-9, 100.0}, {0.0, 100.0}, 1e-6, "x").passed);

    const kernels::GemmShape s{2, 2, 3, 1, false, false, false};
    const std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, 0, 0, 1, 1, 1};  // C = [[4, 5], [10, 11]]
    const auto at = [](const std::vector<float>& v) { return [&v](std::int64_t i) { return double{v.at(static_cast<std::size_t>(i))}; }; };
    const std::vector<GemmEntry> all = {{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}};
    const std::vector<float> right = {4, 5, 10, 11}, wrong = {4, 5, 10, 12};
    CHECK(check_gemm(s, kernels::DType::fp32, at(a), at(b), all, right).passed);
    const Check bad = check_gemm(s, kernels::DType::fp32, at(a), at(b), all, wrong);
    CHECK_FALSE(bad.passed);
    CHECK(bad.detail.find("C[0][1][1]") != std::string::npos);
    // Only the entries asked for are checked: the last one alone, right or wrong.
    const std::vector<GemmEntry> last = {{0, 1, 1}};
    CHECK(check_gemm(s, kernels::DType::fp32, at(a), at(b), last, std::vector<float>{11}).passed);
    CHECK_FALSE(check_gemm(s, kernels::DType::fp32, at(a), at(b), last, std::vector<float>{12}).passed);
    CHECK_FALSE(check_gemm(s, kernels::DType::fp32, at(a), at(b), all, std::vector<float>{4}).passed);  // too few values
}

TEST_CASE("the CPU machine's cluster loads, and runs the tiny plan with two ranks on each core") {
    const hardware::ClusterSpec machine = hardware::load_cluster(test::source_root() + "/topologies/localhost-cpu.json");
    CHECK(machine.device_count() == 2);
    CHECK(machine.ranks_per_device == 1);
    CHECK(machine.device.peak_for(Precision::fp32).has_value());
    std::string how;
    const hardware::ClusterSpec c = hardware::fit_to_ranks(machine, 4, &how);
    CHECK(c.device_count() == 4);
    CHECK(c.ranks_per_device == 2);
    CHECK(how == "4 ranks on its 2 devices, 2 time-sharing each");
    plan::Plan p = tiny_plan();
    plan::validate(p, tiny(), c);
    CHECK(p.gpus() == 4);
    // Cut to fewer ranks; a rank count that is not a multiple of the devices is left alone.
    CHECK(hardware::fit_to_ranks(machine, 1).device_count() == 1);
    CHECK(hardware::fit_to_ranks(machine, 3).device_count() == 2);

    // The key: gpus_per_node counts ranks, a whole number of them on each device.
    const auto parse = [](const std::string& text) {
        return hardware::parse_cluster(nlohmann::json::parse(text), "c.json", test::source_root() + "/topologies/devices");
    };
    CHECK(parse(R"({"name": "mps", "device": "h100-sxm", "nodes": 1, "gpus_per_node": 16, "ranks_per_device": 2,
                    "node": {"fabric": "nvswitch", "gpu_bandwidth": "450 GB/s", "latency": "2 us"}})")
              .ranks_per_device == 2);
    CHECK_THROWS_WITH(parse(R"({"name": "mps", "device": "h100-sxm", "nodes": 1, "gpus_per_node": 8, "ranks_per_device": 3,
                                "node": {"fabric": "nvswitch", "gpu_bandwidth": "450 GB/s", "latency": "2 us"}})"),
                      "c.json: /ranks_per_device: 3 does not divide gpus_per_node (8), which counts ranks");
}
