// The command line as a user meets it: exit codes, one-line errors naming file and JSON path, and
// the JSON contract of `simulate --format json`.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"

using namespace splitsim;
using test::run_command;

namespace {

const std::string kModel = R"({"name": "gpt", "layers": 8, "hidden": 1536, "heads": 96, "vocab": 51200, "seq_len": 2048,
                               "tied_embeddings": true})";
const std::string kPlan = R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 32})";
const std::string kDevice = R"({"name": "A100-SXM4-80GB", "memory": "80 GiB", "memory_bandwidth": "2039 GB/s",
                                "compute_units": 108, "peak": {"bf16": "312 TFLOP/s"}})";
std::string cluster_with(const std::string& device, const std::string& extra = "") {
    return R"({"name": "c", "nodes": 2, "gpus_per_node": 8, "device": )" + device +
           R"(, "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "0.6 us"},
              "network": {"fabric": "fat-tree", "nics_per_node": 8, "nic_bandwidth": "200 Gb/s", "latency": "2 us")" +
           extra + "}}";
}
const std::string kCluster = cluster_with(kDevice);

struct Case {
    const char* what;
    std::string model = kModel;
    std::string cluster = kCluster;
    std::string plan = kPlan;
    std::string args;
    std::string expected;  // a substring of the one-line error
};

std::string simulate(const test::TempDir& dir, const std::string& args) {
    return test::executable("SPLITSIM") + " simulate --model " + dir.path("model.json") + " --cluster " +
           dir.path("cluster.json") + " --plan " + dir.path("plan.json") + " " + args;
}

}  // namespace

TEST_CASE("bad input: exit code 2 and one line naming the file and the JSON path") {
    const std::vector<Case> cases = {
        {"tp does not divide heads", kModel, kCluster, R"({"tp": 7, "pp": 1, "micro_batch": 1, "global_batch": 8})", "",
         "plan.json: /tp: 7 does not divide heads (96)"},
        {"unknown plan key", kModel, kCluster, R"({"tp": 8, "pp": 2, "tpp": 1, "micro_batch": 1, "global_batch": 32})", "",
         "plan.json: /tpp: unknown key"},
        {"wrong type", kModel, kCluster, R"({"tp": "8", "pp": 2, "micro_batch": 1, "global_batch": 32})", "",
         "plan.json: /tp: expected an integer, got a string"},
        {"missing field", kModel, kCluster, R"({"tp": 8, "pp": 2, "global_batch": 32})", "",
         "plan.json: /micro_batch: missing required key"},
        {"unknown schedule", kModel, kCluster, R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 32, "schedule": "2f2b"})",
         "", "plan.json: /schedule: \"2f2b\" is not one of"},
        {"zero out of range", kModel, kCluster, R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 32, "zero": 4})", "",
         "plan.json: /zero: value 4 must be between 0 and 3"},
        {"unknown recompute", kModel, kCluster,
         R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 32, "recompute": "partial"})", "",
         "plan.json: /recompute: \"partial\" is not one of"},
        {"batch not divisible", kModel, kCluster, R"({"tp": 8, "pp": 2, "micro_batch": 3, "global_batch": 32})", "",
         "plan.json: /global_batch: 32 is not a multiple of micro_batch x dp (3 x 1 = 3)"},
        {"GPU count mismatch", kModel, kCluster, R"({"tp": 8, "pp": 2, "dp": 2, "micro_batch": 1, "global_batch": 32})", "",
         "plan.json: /dp: tp x pp x dp x cp = 32 but the cluster has 16 GPUs"},
        {"malformed plan", kModel, kCluster, R"({"tp": 8,, })", "", "plan.json: malformed JSON"},
        {"plan not an object", kModel, kCluster, "[1, 2]", "", "plan.json: /: expected an object, got an array"},
        {"fp8 on a device without fp8", kModel, kCluster,
         R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 32, "precision": "fp8"})", "",
         "plan.json: /precision: device A100-SXM4-80GB has no fp8 peak"},
        {"context parallel without fused attention", kModel, kCluster,
         R"({"tp": 8, "pp": 1, "cp": 2, "micro_batch": 1, "global_batch": 32})", "",
         "plan.json: /cp: context parallelism needs flash_attention"},
        {"pp does not divide layers", kModel, kCluster, R"({"tp": 4, "pp": 3, "micro_batch": 1, "global_batch": 32})",
         "", "plan.json: /pp: 3 does not divide layers (8)"},
        {"model missing hidden", R"({"name": "m", "layers": 8, "heads": 96, "vocab": 51200, "seq_len": 2048})", kCluster,
         kPlan, "", "model.json: /hidden: missing required key"},
        {"heads do not divide hidden", R"({"name": "m", "layers": 8, "hidden": 1000, "heads": 96, "vocab": 51200, "seq_len": 2048})",
         kCluster, kPlan, "", "model.json: /heads: 96 does not divide hidden (1000)"},
        {"kv_heads above heads",
         R"({"name": "m", "layers": 8, "hidden": 1536, "heads": 96, "kv_heads": 128, "vocab": 51200, "seq_len": 2048})",
         kCluster, kPlan, "", "model.json: /kv_heads: value 128 must be between 1 and 96"},
        {"unknown activation",
         R"({"name": "m", "layers": 8, "hidden": 1536, "heads": 96, "vocab": 51200, "seq_len": 2048, "activation": "relu"})",
         kCluster, kPlan, "", "model.json: /activation: \"relu\" is not one of gelu | swiglu"},
        {"top_k above experts",
         R"({"name": "m", "layers": 8, "hidden": 1536, "heads": 96, "vocab": 51200, "seq_len": 2048, "moe": {"experts": 4, "top_k": 5}})",
         kCluster, kPlan, "", "model.json: /moe/top_k: value 5 must be between 1 and 4"},
        {"unknown MoE key",
         R"({"name": "m", "layers": 8, "hidden": 1536, "heads": 96, "vocab": 51200, "seq_len": 2048, "moe": {"experts": 4, "top_k": 2, "capacity": 1}})",
         kCluster, kPlan, "", "model.json: /moe/capacity: unknown key"},
        {"unknown device name", kModel, cluster_with(R"("no-such-gpu")"), kPlan, "", "cluster.json: /device: no device \"no-such-gpu\""},
        {"zero nodes", kModel,
         R"({"name": "c", "nodes": 0, "gpus_per_node": 8, "device": )" + kDevice + R"(, "node": {"fabric": "nvswitch", "latency": "1 us", "gpu_bandwidth": "1 GB/s"}})",
         kPlan, "", "cluster.json: /nodes: value 0 must be at least 1"},
        {"zero bandwidth", kModel,
         R"({"name": "c", "nodes": 2, "gpus_per_node": 8, "device": )" + kDevice +
             R"(, "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "0.6 us"},
                "network": {"fabric": "fat-tree", "nics_per_node": 8, "nic_bandwidth": "0 Gb/s", "latency": "2 us"}})",
         kPlan, "", "cluster.json: /network/nic_bandwidth: bandwidth must be positive"},
        {"latency without unit", kModel,
         R"({"name": "c", "nodes": 1, "gpus_per_node": 16, "device": )" + kDevice + R"(, "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": 2}})",
         kPlan, "", "cluster.json: /node/latency: expected a string with a unit, got an integer"},
        {"bad unit in inline device", kModel,
         cluster_with(R"({"name": "X", "memory": "80 parsecs", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"}})"),
         kPlan, "", "cluster.json: /device/memory: unknown unit \"parsecs\""},
        {"device without peaks", kModel,
         cluster_with(R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {}})"), kPlan, "",
         "cluster.json: /device/peak: names no precision"},
        {"several nodes without a network", kModel,
         R"({"name": "c", "nodes": 2, "gpus_per_node": 8, "device": )" + kDevice + R"(, "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "0.6 us"}})",
         kPlan, "", "cluster.json: /network: missing: a cluster of several nodes needs one"},
        {"torus that does not hold the chips", kModel,
         R"({"name": "t", "nodes": 4, "gpus_per_node": 4, "device": )" + kDevice + R"(, "torus": {"dims": [4, 2], "link_bandwidth": "45 GB/s", "latency": "1 us"}})",
         kPlan, "", "cluster.json: /torus/dims: holds 8 chips but nodes x gpus_per_node is 16"},
        {"link to an unknown vertex", kModel,
         R"({"name": "g", "nodes": 1, "gpus_per_node": 2, "device": )" + kDevice +
             R"(, "graph": {"vertices": [{"name": "a", "kind": "device"}, {"name": "b", "kind": "device"}],
                            "links": [{"a": "a", "b": "z", "bandwidth": "1 GB/s", "latency": "1 us"}]}})",
         kPlan, "", "cluster.json: /graph/links/0/b: unknown vertex \"z\""},
        {"disconnected graph", kModel,
         R"({"name": "g", "nodes": 2, "gpus_per_node": 8, "device": )" + kDevice +
             R"(, "graph": {"vertices": [)" + [] {
                 std::string v;
                 for (int i = 0; i < 16; ++i) v += (i ? "," : "") + std::string(R"({"name": "d)") + std::to_string(i) + R"(", "kind": "device"})";
                 return v;
             }() + R"(], "links": [{"a": "d0", "b": "d1", "bandwidth": "1 GB/s", "latency": "1 us"}]}})",
         kPlan, "", "cluster.json: /graph: the topology is disconnected: device 2 cannot reach device 0"},
        {"unknown placement order", kModel, kCluster,
         R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 32, "order": ["tp", "cp", "ep", "dp", "xp"]})", "",
         "plan.json: /order/4: \"xp\" is not one of tp | cp | ep | dp | pp"},
        {"unknown format", kModel, kCluster, kPlan, "--format xml", "--format"},
        {"zero nodes on the command line", kModel, kCluster, kPlan, "--nodes 0", "--nodes"},
        {"more GPUs than the cluster has", kModel, kCluster, R"({"tp": 8, "pp": 4, "micro_batch": 1, "global_batch": 32})", "",
         "plan.json: /tp: tp x pp x cp = 32 exceeds the cluster's 16 GPUs"},
    };
    CHECK(cases.size() >= 30);
    for (const Case& c : cases) {
        const std::string what = c.what;
        CAPTURE(what);
        test::TempDir dir;
        dir.write("model.json", c.model);
        dir.write("cluster.json", c.cluster);
        dir.write("plan.json", c.plan);
        const auto r = run_command(simulate(dir, c.args));
        CAPTURE(r.output);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find(c.expected) != std::string::npos);
        // One line, no partial output.
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    }
}

TEST_CASE("a missing file is named") {
    test::TempDir dir;
    const auto r = run_command(test::executable("SPLITSIM") + " simulate --model " + dir.path("none.json") +
                               " --cluster x.json --plan y.json");
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("none.json: cannot open file") != std::string::npos);
}

TEST_CASE("simulate --format json carries the contract's keys, and is byte-identical across runs") {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    const std::string cmd = test::executable("SPLITSIM") + " simulate --model " + root + "/models/gpt3-175b.json --cluster " +
                            root + "/topologies/dgx-a100-superpod.json --plan " + root + "/plans/gpt3-175b-1024gpu.json --format json";
    const auto first = run_command(cmd);
    REQUIRE(first.exit_code == 0);
    const auto j = nlohmann::json::parse(first.output);
    for (const char* key : {"iteration_time_s", "tokens_per_s", "model_tflops_per_gpu", "mfu", "hfu", "bubble_fraction"}) {
        CAPTURE(key);
        CHECK(j.at(key).is_number());
        CHECK(j.at(key).get<double>() > 0);
    }
    CHECK(j.at("memory").at("peak_bytes").is_number_integer());
    CHECK(j.at("memory").at("fits").is_boolean());
    REQUIRE(j.at("memory").at("stages").size() == 8);
    for (const auto& s : j["memory"]["stages"]) {
        for (const char* key : {"stage", "weights", "gradients", "optimizer", "activations", "other", "total"}) {
            CHECK(s.at(key).is_number_integer());
        }
        CHECK(s["total"].get<std::int64_t>() == s["weights"].get<std::int64_t>() + s["gradients"].get<std::int64_t>() +
                                                     s["optimizer"].get<std::int64_t>() + s["activations"].get<std::int64_t>() +
                                                     s["other"].get<std::int64_t>());
    }
    for (const char* dim : {"tensor", "context", "expert", "data", "pipeline"}) CHECK(j.at("communication").at(dim).is_number());
    CHECK(run_command(cmd).output == first.output);

    for (const char* format : {"table", "csv", "md"}) {
        CAPTURE(format);
        const auto r = run_command(test::executable("SPLITSIM") + " simulate --model " + root + "/models/gpt3-175b.json --cluster " +
                                   root + "/topologies/dgx-a100-superpod.json --plan " + root +
                                   "/plans/gpt3-175b-1024gpu.json --format " + format);
        CHECK(r.exit_code == 0);
        CHECK(r.output.size() > 100);
    }
}

TEST_CASE("collective: an nccl-tests-style sweep, and its bad options") {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    const std::string base = test::executable("SPLITSIM") + " collective --cluster " + root + "/topologies/dgx-h100-superpod.json";
    const auto table = run_command(base + " --op allreduce --ranks 8 --min 1K --max 1G --factor 4");
    REQUIRE(table.exit_code == 0);
    CHECK(table.output.find("busbw (GB/s)") != std::string::npos);
    CHECK(table.output.find("nvls/Simple") != std::string::npos);
    const auto json = run_command(base + " --op allgather --ranks 16 --nodes 2 --min 1M --max 64M --format json");
    REQUIRE(json.exit_code == 0);
    const auto j = nlohmann::json::parse(json.output);
    CHECK(j.at("rows").size() == 7);
    for (const auto& row : j["rows"]) {
        CHECK(row.at("busbw_GBps").get<double>() > 0);
        CHECK(row.at("algorithm").get<std::string>() == "ring");
    }
    // busbw = algbw (n - 1)/n for all-gather (nccl-tests PERFORMANCE.md).
    CHECK(j["rows"][0]["busbw_GBps"].get<double>() == doctest::Approx(j["rows"][0]["algbw_GBps"].get<double>() * 15 / 16));
    for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
             {" --op allsum", "command line: --op: \"allsum\" is not one of"},
             {" --ranks 12 --nodes 5", "command line: --ranks: 12 ranks do not spread evenly over 5 nodes"},
             {" --ranks 16 --nodes 1", "command line: --ranks: 16 ranks per node exceed the 8 devices of a node"},
             {" --min 1Q", "command line: --min: \"1Q\" is not a size"},
             {" --min 1G --max 1M", "command line: --max: is smaller than --min"}}) {
        CAPTURE(args);
        const auto r = run_command(base + args);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find(message) != std::string::npos);
    }
}
