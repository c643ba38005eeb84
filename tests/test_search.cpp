#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/report/export.hpp"
#include "splitsim/search/search.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"
#include "support.hpp"

using namespace splitsim;

namespace {

hardware::ClusterSpec a100(int nodes) {
    return hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", nodes);
}

bool same_plan(const plan::Plan& a, const plan::Plan& b) { return plan::to_json(a) == plan::to_json(b); }

}  // namespace

TEST_CASE("every enumerated candidate is a valid plan") {
    struct Case {
        const char* model;
        int nodes;
        int batch;
    };
    for (const Case& c : {Case{"gpt-1.7b", 4, 512}, Case{"llama2-7b", 2, 64}, Case{"mixtral-8x7b", 2, 32}}) {
        CAPTURE(c.model);
        const auto m = model::load_model(test::source_root() + "/models/" + c.model + ".json");
        const auto cluster = a100(c.nodes);
        const auto plans = search::enumerate(m, cluster, cluster.device_count(), c.batch, Precision::bf16);
        CHECK(plans.size() > 100);
        bool expert_parallel = false;
        for (plan::Plan p : plans) {
            expert_parallel = expert_parallel || p.ep > 1;
            REQUIRE_NOTHROW(plan::validate(p, m, cluster));
        }
        CHECK(expert_parallel == m.moe.has_value());
    }
}

TEST_CASE("pipeline depths that do not divide the layers get an uneven first and last stage, interleaved too") {
    // Llama 3 405B has 126 layers; its published plan runs 16 stages as 7 + 14 x 8 + 7
    // (arXiv 2407.21783, Sec. 3.3), which the search must reach.
    const auto m = model::load_model(test::source_root() + "/models/llama3-405b.json");
    const auto cluster = hardware::load_cluster(test::source_root() + "/topologies/dgx-h100-superpod.json", 16);
    const auto plans = search::enumerate(m, cluster, cluster.device_count(), 128, Precision::bf16);
    bool published = false;
    for (plan::Plan p : plans) {
        CAPTURE(plan::to_json(p).dump());
        const bool uneven = p.first_stage_layers > 0;
        CHECK(uneven == (m.layers % p.pp != 0));
        if (uneven) {
            // Inner stages take ceil(126 / pp) layers; the first and last split the rest.
            const int inner = (m.layers + p.pp - 1) / p.pp;
            CHECK(p.first_stage_layers + p.last_stage_layers + (p.pp - 2) * inner == m.layers);
            CHECK(p.first_stage_layers <= p.last_stage_layers);
            CHECK(p.last_stage_layers <= inner);
            // Interleaved, every stage's layers split into the vpp chunks.
            CHECK(p.first_stage_layers % p.vpp == 0);
            CHECK(p.last_stage_layers % p.vpp == 0);
            CHECK(inner % p.vpp == 0);
        }
        published = published || (p.tp == 8 && p.pp == 16 && p.first_stage_layers == 7 && p.last_stage_layers == 7);
        REQUIRE_NOTHROW(plan::validate(p, m, cluster));
    }
    CHECK(published);

    // 44 layers on 8 stages: 4 + 6 x 6 + 4, which also splits into 2 chunks per stage.
    const auto even_chunks = test::gpt(44, 1024, 16);
    const auto node = hardware::load_cluster(test::source_root() + "/topologies/dgx-h100-superpod.json", 1);
    bool interleaved_uneven = false;
    for (const plan::Plan& p : search::enumerate(even_chunks, node, node.device_count(), 64, Precision::bf16)) {
        if (p.pp != 8 || p.vpp == 1) continue;
        CHECK((p.first_stage_layers == 4 && p.last_stage_layers == 4 && p.vpp == 2));
        interleaved_uneven = true;
    }
    CHECK(interleaved_uneven);
}

TEST_CASE("the search's best plan is at least as fast as the weak-scaling table's configuration") {
    // Narayanan et al. 2021, Table 1 (validate/published/megatron-2021-weak-scaling.json): the rows
    // without pipeline parallelism (32-128 GPUs), run as the paper ran them (fp16, full
    // recomputation; micro-batch 1 assumed). The 256-GPU row is left out: its search alone takes
    // minutes under the sanitizers.
    std::ifstream in(test::source_root() + "/validate/published/megatron-2021-weak-scaling.json");
    const auto table = nlohmann::json::parse(in);
    for (std::size_t row : {0u, 1u, 2u}) {
        const auto& r = table["rows"][row];
        const auto m = model::load_model(test::source_root() + "/models/" + r["model"].get<std::string>() + ".json");
        const auto cluster = a100(r["gpus"].get<int>() / 8);
        plan::Plan published;
        published.origin = "table";
        published.tp = r["tp"].get<int>();
        published.pp = r["pp"].get<int>();
        published.micro_batch = 1;
        published.global_batch = r["global_batch"].get<int>();
        published.recompute = model::Recompute::full;
        published.precision = Precision::fp16;
        published.grad_precision = Precision::fp16;
        plan::validate(published, m, cluster);
        const sim::Scenario sc(m, cluster, published);
        const Seconds table_time = sim::predict_analytical(sc).iteration_time;

        search::Options o;
        o.global_batch = published.global_batch;
        o.precision = Precision::fp16;
        o.rerank = 0;  // compare the analytical tier with itself
        o.threads = 2;
        const search::Result result = search::run(m, cluster, o);
        REQUIRE(!result.ranked.empty());
        CAPTURE(row);
        CHECK(result.ranked.front().analytical_time <= table_time);
    }
}

TEST_CASE("search results are identical with 1 and 2 threads") {
    const auto m = model::load_model(test::source_root() + "/models/gpt-1.7b.json");
    const auto cluster = a100(4);
    search::Options o;
    o.global_batch = 256;
    o.rerank = 6;
    o.threads = 1;
    const auto one = search::run(m, cluster, o);
    o.threads = 2;
    const auto two = search::run(m, cluster, o);
    REQUIRE(one.ranked.size() == two.ranked.size());
    for (std::size_t i = 0; i < one.ranked.size(); ++i) {
        CHECK(same_plan(one.ranked[i].plan, two.ranked[i].plan));
        CHECK(one.ranked[i].time() == two.ranked[i].time());
        CHECK(one.ranked[i].peak_memory == two.ranked[i].peak_memory);
    }
    CHECK(one.pareto == two.pareto);
    CHECK(one.simulated == two.simulated);
    // A re-simulated candidate reports the MFU and tokens/s of its event time, as simulate does.
    int checked = 0;
    for (const search::Candidate& c : one.ranked) {
        if (!c.event_time || checked == 1) continue;
        plan::Plan p = c.plan;
        plan::validate(p, m, cluster);
        const sim::Prediction r = sim::predict_events(sim::Scenario(m, cluster, p));
        CHECK(c.mfu == doctest::Approx(r.mfu).epsilon(1e-9));
        CHECK(c.tokens_per_s == doctest::Approx(r.tokens_per_s).epsilon(1e-9));
        ++checked;
    }
    CHECK(checked == 1);
}

TEST_CASE("the Pareto front holds no dominated plan and dominates every other plan") {
    const auto m = model::load_model(test::source_root() + "/models/gpt-1.7b.json");
    search::Options o;
    o.global_batch = 128;
    o.gpus = {16, 32};
    o.rerank = 4;
    o.threads = 2;
    const auto r = search::run(m, a100(4), o);
    auto no_worse = [](const search::Candidate& a, const search::Candidate& b) {
        return a.time() <= b.time() && a.peak_memory <= b.peak_memory && a.plan.gpus() <= b.plan.gpus();
    };
    auto dominates = [&](const search::Candidate& a, const search::Candidate& b) {
        return no_worse(a, b) && (a.time() < b.time() || a.peak_memory < b.peak_memory || a.plan.gpus() < b.plan.gpus());
    };
    std::vector<bool> on(r.ranked.size(), false);
    for (std::size_t i : r.pareto) on[i] = true;
    bool sixteen = false;
    for (std::size_t i : r.pareto) sixteen = sixteen || r.ranked[i].plan.gpus() == 16;
    CHECK(sixteen);
    // Off the front: some front plan is no worse in all three (equal points keep one on the front).
    // On the front: no plan at all is strictly better.
    for (std::size_t i = 0; i < r.ranked.size(); i += 7) {
        if (on[i]) continue;
        bool covered = false;
        for (std::size_t j : r.pareto) covered = covered || no_worse(r.ranked[j], r.ranked[i]);
        CHECK(covered);
    }
    for (std::size_t i : r.pareto) {
        bool dominated = false;
        for (const auto& c : r.ranked) dominated = dominated || dominates(c, r.ranked[i]);
        CHECK_FALSE(dominated);
    }
}

TEST_CASE("export: the launch arguments realise the plan, and what a framework cannot run is an error") {
    const auto m = model::load_model(test::source_root() + "/models/gpt3-175b.json");
    plan::Plan p = plan::load_plan(test::source_root() + "/plans/gpt3-175b-1024gpu.json");
    plan::validate(p, m, a100(128));
    const std::string megatron = report::export_plan(p, m, plan::Framework::megatron_core);
    for (const char* flag : {"--tensor-model-parallel-size 8", "--pipeline-model-parallel-size 8",
                             "--num-layers-per-virtual-pipeline-stage 4", "--sequence-parallel",
                             "--recompute-granularity selective", "--use-distributed-optimizer", "--micro-batch-size 1",
                             "--global-batch-size 1536", "--bf16"}) {
        CAPTURE(flag);
        CHECK(megatron.find(flag) != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(report::export_plan(p, m, plan::Framework::deepspeed), doctest::Contains("/schedule: DeepSpeed"),
                         InputError);
    p.zero = 3;
    p.schedule = plan::Schedule::one_f_one_b;
    p.vpp = 1;
    // torchtitan's llama3 cannot be a GPT-3 (GeLU, LayerNorm, learned positions, biases) ...
    CHECK_THROWS_WITH_AS(report::export_plan(p, m, plan::Framework::torchtitan), doctest::Contains("gpt3-175b.json: /activation"),
                         InputError);
    // ... but is Llama 3 70B, torchtitan's flavor "70B".
    const auto llama = model::load_model(test::source_root() + "/models/llama3-70b.json");
    const std::string titan = report::export_plan(p, llama, plan::Framework::torchtitan);
    CHECK(titan.find("flavor = \"70B\"") != std::string::npos);
    CHECK(titan.find("data_parallel_shard_degree = 16") != std::string::npos);
    CHECK(titan.find("tensor_parallel_degree = 8") != std::string::npos);
    CHECK(titan.find("pipeline_parallel_schedule = \"1F1B\"") != std::string::npos);
    CHECK(titan.find("mode = \"selective\"") != std::string::npos);
    p.zero = 1;
    p.pp = 1;
    p.dp = 128;
    p.recompute = model::Recompute::full;
    const std::string text = report::export_plan(p, m, plan::Framework::deepspeed);
    const std::size_t open = text.find('{'), close = text.find("# Megatron-DeepSpeed");
    REQUIRE(close != std::string::npos);
    const nlohmann::json ds = nlohmann::json::parse(text.substr(open, close - open));
    CHECK(ds["zero_optimization"]["stage"] == 1);
    CHECK(ds["gradient_accumulation_steps"] == 1536 / 128);
    CHECK(ds["train_micro_batch_size_per_gpu"] == 1);

    // An uneven split: Megatron-Core counts the interleaved chunks per rank; DeepSpeed and
    // torchtitan split the layers themselves.
    plan::Plan uneven = plan::load_plan(test::source_root() + "/plans/gpt3-175b-1024gpu.json");
    uneven.pp = 16;
    uneven.dp = 8;
    uneven.vpp = 2;
    uneven.first_stage_layers = 4;
    uneven.last_stage_layers = 8;
    plan::validate(uneven, m, a100(128));
    const std::string megatron_uneven = report::export_plan(uneven, m, plan::Framework::megatron_core);
    for (const char* flag : {"--num-virtual-stages-per-pipeline-rank 2", "--decoder-first-pipeline-num-layers 4",
                             "--decoder-last-pipeline-num-layers 8"}) {
        CAPTURE(flag);
        CHECK(megatron_uneven.find(flag) != std::string::npos);
    }
    CHECK(megatron_uneven.find("--num-layers-per-virtual-pipeline-stage") == std::string::npos);
    // Megatron-Core divides by the stages between the first and the last: none on two stages.
    plan::Plan two_stages = uneven;
    two_stages.pp = 2;
    two_stages.dp = 64;
    two_stages.first_stage_layers = 48;
    two_stages.last_stage_layers = 48;
    plan::validate(two_stages, m, a100(128));
    CHECK_THROWS_WITH_AS(report::export_plan(two_stages, m, plan::Framework::megatron_core), doctest::Contains("/vpp: Megatron-Core"),
                         InputError);
    uneven.schedule = plan::Schedule::one_f_one_b;
    uneven.vpp = 1;
    uneven.zero = 3;
    CHECK_THROWS_WITH_AS(report::export_plan(uneven, llama, plan::Framework::torchtitan),
                         doctest::Contains("/first_stage_layers: torchtitan"), InputError);
    uneven.zero = 1;
    uneven.recompute = model::Recompute::full;
    CHECK_THROWS_WITH_AS(report::export_plan(uneven, m, plan::Framework::deepspeed), doctest::Contains("/first_stage_layers: DeepSpeed"),
                         InputError);
}

TEST_CASE("export: tensor-parallel communication overlap as each framework names it") {
    const auto m = model::load_model(test::source_root() + "/models/llama3-70b.json");
    plan::Plan p = plan::parse_plan(nlohmann::json::parse(R"({"tp": 8, "pp": 1, "dp": 16, "micro_batch": 1, "global_batch": 16,
        "sequence_parallel": true, "tp_comm_overlap": true, "flash_attention": true})"), "plan.json");
    plan::validate(p, m, a100(16));
    // Megatron-Core with Transformer Engine's userbuffers: --tp-comm-overlap.
    CHECK(report::export_plan(p, m, plan::Framework::megatron_core).find("--tp-comm-overlap") != std::string::npos);
    // The legacy model has no Transformer Engine: refused by name.
    CHECK_THROWS_WITH_AS(report::export_plan(p, m, plan::Framework::megatron_lm), doctest::Contains("/tp_comm_overlap"), InputError);
    // torchtitan: asynchronous tensor parallelism, a torch.compile pass.
    p.zero = 3;
    const std::string titan = report::export_plan(p, m, plan::Framework::torchtitan);
    CHECK(titan.find("enable_async_tensor_parallel = true") != std::string::npos);
    CHECK(titan.find("[compile]\nenable = true") != std::string::npos);
}
