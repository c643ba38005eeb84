#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>

#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/plan/rank_layout.hpp"
#include "support.hpp"

using namespace splitsim;

namespace {

hardware::ClusterSpec cluster(int nodes) {
    return hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", nodes);
}

plan::Plan parse(const char* text) { return plan::parse_plan(nlohmann::json::parse(text), "plan.json"); }

std::string validate_error(const char* text, const model::ModelSpec& m, int nodes) {
    plan::Plan p = parse(text);
    try {
        plan::validate(p, m, cluster(nodes));
    } catch (const InputError& e) {
        return e.what();
    }
    return "valid";
}

}  // namespace

TEST_CASE("dp is derived from the cluster, and the contract's defaults apply") {
    plan::Plan p = parse(R"({"tp": 8, "pp": 8, "micro_batch": 1, "global_batch": 1536})");
    plan::validate(p, test::gpt(96, 12288, 96), cluster(128));
    CHECK(p.dp == 16);
    CHECK(p.cp == 1);
    CHECK(p.ep == 1);
    CHECK(p.vpp == 1);
    CHECK_FALSE(p.sequence_parallel);
    CHECK(p.schedule == plan::Schedule::one_f_one_b);
    CHECK(p.zero == 0);
    CHECK(p.recompute == model::Recompute::none);
    CHECK(p.precision == Precision::bf16);
    CHECK(p.grad_precision == Precision::fp32);  // Megatron: fp32 main gradients under bf16
    CHECK(p.micro_batches() == 96);
}

TEST_CASE("impossible plans name the key at fault") {
    const auto gpt = test::gpt(96, 12288, 96);
    CHECK(validate_error(R"({"tp": 7, "pp": 1, "micro_batch": 1, "global_batch": 8})", gpt, 1) ==
          "plan.json: /tp: 7 does not divide heads (96)");
    CHECK(validate_error(R"({"tp": 8, "pp": 5, "micro_batch": 1, "global_batch": 8})", gpt, 5) ==
          "plan.json: /pp: 5 does not divide layers (96); set first_stage_layers/last_stage_layers for an uneven split");
    CHECK(validate_error(R"({"tp": 8, "pp": 4, "dp": 3, "micro_batch": 1, "global_batch": 24})", gpt, 16) ==
          "plan.json: /dp: tp x pp x dp x cp = 96 but the cluster has 128 GPUs; --nodes 12 gives it 96");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 3, "global_batch": 1000})", gpt, 4) ==
          "plan.json: /global_batch: 1000 is not a multiple of micro_batch x dp (3 x 4 = 12)");
    CHECK(validate_error(R"({"tp": 8, "pp": 2, "vpp": 2, "micro_batch": 1, "global_batch": 8})", gpt, 2) ==
          "plan.json: /vpp: vpp > 1 needs the interleaved schedule");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "cp": 2, "micro_batch": 1, "global_batch": 8})", gpt, 2) ==
          "plan.json: /cp: context parallelism needs flash_attention");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "ep": 2, "micro_batch": 1, "global_batch": 8})", gpt, 2) ==
          "plan.json: /ep: ep > 1 needs a MoE model");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8, "precision": "fp8"})", gpt, 1) ==
          "plan.json: /precision: device A100-SXM4-80GB has no fp8 peak");
    CHECK(validate_error(R"({"tp": 5, "pp": 1, "micro_batch": 1, "global_batch": 8})", test::gpt(4, 640, 10), 1) ==
          "plan.json: /tp: tp x pp x cp = 5 does not divide the cluster's 8 GPUs");
}

TEST_CASE("framework: a plan names the framework that runs it, and what that framework cannot run is refused") {
    const auto gpt = test::gpt(96, 12288, 96);
    plan::Plan p = parse(R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 64, "framework": "deepspeed"})");
    plan::validate(p, gpt, cluster(16));
    REQUIRE(p.framework == plan::Framework::deepspeed);
    CHECK(plan::to_json(p)["framework"] == "deepspeed");
    CHECK_FALSE(plan::parse_plan(nlohmann::json::parse(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8})"),
                                 "plan.json")
                    .framework.has_value());
    // DeepSpeed's PipelineEngine asserts ZeRO stage < 2; its TrainSchedule is 1F1B.
    CHECK(validate_error(R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 64, "zero": 2, "framework": "deepspeed"})",
                         gpt, 16) == "plan.json: /zero: DeepSpeed's pipeline engine runs with ZeRO stage 0 or 1 only");
    CHECK(validate_error(R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 64, "schedule": "gpipe",
                             "framework": "megatron-core"})", gpt, 16) ==
          "plan.json: /schedule: Megatron-Core has no GPipe schedule (it runs 1F1B)");
    // Context parallelism exists for Megatron-Core models only.
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "cp": 2, "micro_batch": 1, "global_batch": 8, "flash_attention": true,
                             "framework": "megatron-lm"})", gpt, 2) ==
          "plan.json: /cp: context parallelism needs Megatron-Core models (framework megatron-core)");
    // torchtitan's llama3 model cannot express a GPT-2-style model: the model key is named.
    model::ModelSpec named = gpt;
    named.origin = "gpt.json";
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8, "sequence_parallel": true,
                             "framework": "torchtitan"})", named, 1) == "gpt.json: /activation: torchtitan's llama3 model uses SwiGLU");
    model::ModelSpec llama = named;
    llama.activation = model::Activation::swiglu;
    llama.norm = model::Norm::rmsnorm;
    llama.position_embedding = model::PositionEmbedding::rotary;
    llama.linear_bias = false;
    llama.tied_embeddings = false;
    llama.dropout = false;
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8, "framework": "torchtitan"})", llama, 1) ==
          "plan.json: /sequence_parallel: torchtitan's tensor parallelism always shards norms along the sequence");
    // Megatron-LM's FSDP2 (zero 3) refuses pipelines, gradient-accumulation fusion and tied embeddings;
    // the overlapped parameter gather needs the distributed optimizer (arguments.py, core_v0.12.0).
    CHECK(validate_error(R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 64, "zero": 3, "framework": "megatron-core"})",
                         gpt, 16) == "plan.json: /zero: --use-torch-fsdp2 is not supported with pipeline parallelism");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 64, "zero": 3, "framework": "megatron-core"})",
                         gpt, 16) == "plan.json: /grad_accumulation_fusion: --use-torch-fsdp2 is not supported with gradient accumulation fusion");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 64, "zero": 3, "grad_accumulation_fusion": false,
                             "framework": "megatron-core"})", named, 16) ==
          "gpt.json: /tied_embeddings: --use-torch-fsdp2 requires --untie-embeddings-and-output-weights");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 64, "overlap_grad_reduce": true,
                             "overlap_param_gather": true, "framework": "megatron-core"})", gpt, 16) ==
          "plan.json: /overlap_param_gather: --overlap-param-gather needs the distributed optimizer (zero 1)");
    // DeepSpeed places experts from layer 1 on, every --expert-interval layers.
    model::ModelSpec moe = named;
    moe.moe = model::MoeSpec{8, 2, moe.ffn_hidden, 2};
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8, "framework": "deepspeed"})", moe, 1) ==
          "gpt.json: /moe/layer_frequency: Megatron-DeepSpeed puts experts in every --expert-interval-th layer counted from 1, not from layer 0");
    CHECK(validate_error(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8, "framework": "megatron-lm"})", moe, 1) ==
          "gpt.json: /moe: MoE layers need Megatron-Core models (framework megatron-core)");
    // A release with its own behaviour: DeepSpeed's first ZeRO-3 (framework_version 0.3).
    CHECK(parse(R"({"tp": 1, "pp": 1, "micro_batch": 1, "global_batch": 8, "zero": 3, "framework": "deepspeed",
                    "framework_version": "0.3"})").framework_version == "0.3");
    CHECK_THROWS_WITH_AS(parse(R"({"tp": 1, "pp": 1, "micro_batch": 1, "global_batch": 8, "framework": "deepspeed",
                                   "framework_version": "0.4"})"),
                         doctest::Contains("/framework_version: \"0.4\" is not a modelled release of DeepSpeed (0.19 | 0.3)"), InputError);
    CHECK_THROWS_WITH_AS(parse(R"({"tp": 1, "pp": 1, "micro_batch": 1, "global_batch": 8, "framework_version": "0.3"})"),
                         doctest::Contains("/framework_version: needs framework"), InputError);
    CHECK_THROWS_WITH_AS(parse(R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8, "framework": "megatron"})"),
                         doctest::Contains("/framework"), InputError);
}

TEST_CASE("uneven pipeline split: stated first and last stages, the rest even") {
    const auto gpt = test::gpt(30, 4096, 32);
    plan::Plan p = parse(R"({"tp": 1, "pp": 4, "micro_batch": 1, "global_batch": 8, "first_stage_layers": 6, "last_stage_layers": 8})");
    plan::validate(p, gpt, cluster(1));
    const plan::Partition part = plan::partition(p, gpt);
    CHECK(part.stages[0].layer_count() == 6);
    CHECK(part.stages[1].layer_count() == 8);
    CHECK(part.stages[2].layer_count() == 8);
    CHECK(part.stages[3].layer_count() == 8);
    CHECK(validate_error(R"({"tp": 1, "pp": 4, "micro_batch": 1, "global_batch": 8, "first_stage_layers": 5})", gpt, 1) ==
          "plan.json: /first_stage_layers: the remaining 25 layers do not split evenly over 3 stages");
}

TEST_CASE("interleaved chunks follow Megatron-LM: chunk c of stage s holds layers (c p + s) L/(p v)") {
    const auto gpt = test::gpt(16, 1024, 16);
    plan::Plan p = parse(R"({"tp": 1, "pp": 4, "vpp": 2, "schedule": "interleaved", "micro_batch": 1, "global_batch": 8})");
    plan::validate(p, gpt, cluster(1));
    const plan::Partition part = plan::partition(p, gpt);
    CHECK(part.stages[1].chunks[0] == std::vector<int>{2, 3});
    CHECK(part.stages[1].chunks[1] == std::vector<int>{10, 11});
}

TEST_CASE("interleaved uneven split: every stage's layers in vpp chunks, chunk c at c L/v plus the chunks of the stages before") {
    // 30 layers on pp 4: 6 + 8 + 8 + 8, two chunks per stage of 3, 4, 4, 4 layers; chunk 0 of all
    // stages holds layers 0-14, chunk 1 layers 15-29 (Megatron-Core get_transformer_layer_offset).
    const auto gpt = test::gpt(30, 4096, 32);
    plan::Plan p = parse(R"({"tp": 1, "pp": 4, "vpp": 2, "schedule": "interleaved", "micro_batch": 1, "global_batch": 8,
                             "first_stage_layers": 6})");
    plan::validate(p, gpt, cluster(1));
    const plan::Partition part = plan::partition(p, gpt);
    CHECK(part.stages[0].chunks[0] == std::vector<int>{0, 1, 2});
    CHECK(part.stages[0].chunks[1] == std::vector<int>{15, 16, 17});
    CHECK(part.stages[1].chunks[0] == std::vector<int>{3, 4, 5, 6});
    CHECK(part.stages[3].chunks[0] == std::vector<int>{11, 12, 13, 14});
    CHECK(part.stages[3].chunks[1] == std::vector<int>{26, 27, 28, 29});
    std::vector<int> all;
    for (const auto& st : part.stages) {
        for (const auto& chunk : st.chunks) all.insert(all.end(), chunk.begin(), chunk.end());
    }
    std::sort(all.begin(), all.end());
    CHECK(all == [] { std::vector<int> v(30); std::iota(v.begin(), v.end(), 0); return v; }());
    CHECK(validate_error(R"({"tp": 1, "pp": 4, "vpp": 2, "schedule": "interleaved", "micro_batch": 1, "global_batch": 8,
                             "first_stage_layers": 7, "last_stage_layers": 7})", gpt, 1) ==
          "plan.json: /first_stage_layers: 7 layers do not split into vpp = 2 chunks");
    CHECK(validate_error(R"({"tp": 1, "pp": 4, "vpp": 2, "schedule": "interleaved", "micro_batch": 1, "global_batch": 8,
                             "first_stage_layers": 8, "last_stage_layers": 8})", gpt, 1) ==
          "plan.json: /vpp: the 7 layers of an inner stage do not split into 2 chunks");
    CHECK(validate_error(R"({"tp": 1, "pp": 4, "vpp": 2, "schedule": "interleaved", "micro_batch": 1, "global_batch": 8,
                             "last_stage_layers": 9})", gpt, 1) ==
          "plan.json: /last_stage_layers: 9 layers do not split into vpp = 2 chunks");

    // Only the last stage stated: 8 + 8 + 8 + 6, chunks of 4, 4, 4, 3; chunk 1 starts at layer 15.
    plan::Plan last = parse(R"({"tp": 1, "pp": 4, "vpp": 2, "schedule": "interleaved", "micro_batch": 1, "global_batch": 8,
                                "last_stage_layers": 6})");
    plan::validate(last, gpt, cluster(1));
    const plan::Partition tail = plan::partition(last, gpt);
    CHECK(tail.stages[0].chunks[1] == std::vector<int>{15, 16, 17, 18});
    CHECK(tail.stages[3].chunks[0] == std::vector<int>{12, 13, 14});
    CHECK(tail.stages[3].chunks[1] == std::vector<int>{27, 28, 29});
    // Two stages, the first stated: 10 + 20 in chunks of 5 and 10.
    plan::Plan two = parse(R"({"tp": 1, "pp": 2, "vpp": 2, "schedule": "interleaved", "micro_batch": 1, "global_batch": 8,
                               "first_stage_layers": 10})");
    plan::validate(two, gpt, cluster(1));
    const plan::Partition pair = plan::partition(two, gpt);
    CHECK(pair.stages[0].chunks[1] == std::vector<int>{15, 16, 17, 18, 19});
    CHECK(pair.stages[1].chunks[0].size() == 10);
    CHECK(pair.stages[1].chunks[0].front() == 5);
}

TEST_CASE("rank layout: dimensions in the plan's order, innermost first; data splits into expert and the rest") {
    plan::Plan p;
    p.tp = 2;
    p.cp = 2;
    p.ep = 2;
    p.dp = 4;
    p.pp = 3;
    const plan::RankLayout d(p);  // tp-cp-ep-dp-pp
    CHECK(d.layout().ranks() == 48);
    CHECK(d.size(plan::Dim::data) == 2);
    CHECK(d.stride(plan::Dim::tensor) == 1);
    CHECK(d.stride(plan::Dim::context) == 2);
    CHECK(d.stride(plan::Dim::expert) == 4);
    CHECK(d.stride(plan::Dim::data) == 8);
    CHECK(d.stride(plan::Dim::pipeline) == 16);
    // The dense data group: ep x dp / ep = dp ranks, 4 apart.
    const auto dense = d.run({plan::Dim::expert, plan::Dim::data});
    REQUIRE(dense);
    CHECK((dense->size == 4 && dense->stride == 4));
    // Context with data is one run too; tensor with data is not (context lies between).
    CHECK(d.run({plan::Dim::context, plan::Dim::expert, plan::Dim::data})->size == 8);
    CHECK_FALSE(d.run({plan::Dim::tensor, plan::Dim::data}));
    // A dimension of one rank separates nothing.
    p.cp = 1;
    p.dp = 8;
    const auto joined = plan::RankLayout(p).run({plan::Dim::tensor, plan::Dim::expert});
    REQUIRE(joined);
    CHECK((joined->size == 4 && joined->stride == 1));
    // Pipeline placed between expert and data splits the dense data group.
    p.order = {plan::Dim::tensor, plan::Dim::context, plan::Dim::expert, plan::Dim::pipeline, plan::Dim::data};
    const plan::RankLayout q(p);
    CHECK(q.stride(plan::Dim::pipeline) == 4);
    CHECK(q.stride(plan::Dim::data) == 12);
    CHECK_FALSE(q.run({plan::Dim::expert, plan::Dim::data}));
}

TEST_CASE("tensor-parallel collectives: 2 all-reduces per pass without, 2 all-gathers + 2 reduce-scatters with sequence parallelism") {
    const auto gpt = test::gpt(4, 1024, 16);
    plan::Plan p = parse(R"({"tp": 4, "pp": 1, "micro_batch": 2, "global_batch": 4})");
    plan::validate(p, gpt, cluster(1));
    const plan::Partition part = plan::partition(p, gpt);
    auto count = [](const std::vector<plan::Collective>& list, CollectiveKind k) {
        int n = 0;
        for (const auto& c : list) n += c.kind == k;
        return n;
    };
    CHECK(count(part.layers->dense_comm.forward, CollectiveKind::all_reduce) == 2);
    CHECK(count(part.layers->dense_comm.backward, CollectiveKind::all_reduce) == 2);
    // Each moves b s h 16-bit elements.
    CHECK(part.layers->dense_comm.forward[0].bytes.value() == 2.0 * 2 * 2048 * 1024);

    p.sequence_parallel = true;
    const plan::Partition sp = plan::partition(p, gpt);
    CHECK(count(sp.layers->dense_comm.forward, CollectiveKind::all_gather) == 2);
    CHECK(count(sp.layers->dense_comm.forward, CollectiveKind::reduce_scatter) == 2);
    // Backward: reduce-scatter of input gradients, all-gather of output gradients, and the re-gather
    // of the saved input for the weight gradient (overlapped).
    CHECK(count(sp.layers->dense_comm.backward, CollectiveKind::reduce_scatter) == 2);
    CHECK(count(sp.layers->dense_comm.backward, CollectiveKind::all_gather) == 4);
}
