// The command line as a user meets it: exit codes, one-line errors naming file and JSON path, and
// the JSON contract of `simulate --format json`.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <tuple>
#include <vector>

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

// The cluster of the tables below that names its device, read from devices/gpu.json beside it.
const std::string kClusterByName = cluster_with(R"("gpu")");
const std::string kBenchPlan = R"({"tp": 2, "pp": 1, "dp": 2, "micro_batch": 1, "global_batch": 4, "precision": "fp32"})";
const std::string kTinyModel = R"({"name": "tiny", "layers": 2, "hidden": 64, "heads": 4, "vocab": 256, "seq_len": 64})";

// One bad input to one command: the files it reads (defaults below, replaced by name) and its
// options; "{dir}" in the options is the directory of the files.
struct ToolCase {
    const char* what;
    const char* tool;  // simulate | collective | search | bench
    std::string args;
    std::string expected;  // a substring of the one-line error: file and JSON path, or the option
    std::map<std::string, std::string> files = {};
};

// The outputs a command is asked to write; none may exist after bad input, complete or partial.
const char* const kOutputs[] = {"out.txt", "trace.json", "best.json"};

std::string command_line(const test::TempDir& dir, const std::string& tool, std::string args) {
    for (std::size_t at; (at = args.find("{dir}")) != std::string::npos;) args.replace(at, 5, dir.path(""));
    const std::string splitsim = test::executable("SPLITSIM");
    const std::string out = " --out " + dir.path("out.txt") + " ";
    if (tool == "simulate") {
        return splitsim + " simulate --model " + dir.path("model.json") + " --cluster " + dir.path("cluster.json") +
               " --plan " + dir.path("plan.json") + out + args;
    }
    if (tool == "collective") return splitsim + " collective --cluster " + dir.path("cluster.json") + out + args;
    if (tool == "search") {
        return splitsim + " search --model " + dir.path("model.json") + " --cluster " + dir.path("cluster.json") +
               " --best-plan " + dir.path("best.json") + out + args;
    }
    return test::executable("SPLITSIM_HARNESS") + " bench --model " + dir.path("model.json") + " --plan " +
           dir.path("plan.json") + out + args;
}

// Runs one case: exit code 2, one line holding `expected`, and no output file left behind.
void check_bad_input(const std::string& what, const std::string& tool, const std::map<std::string, std::string>& files,
                     const std::string& args, const std::string& expected) {
    CAPTURE(what);
    test::TempDir dir;
    std::map<std::string, std::string> all = {{"model.json", tool == "bench" ? kTinyModel : kModel},
                                              {"cluster.json", kClusterByName},
                                              {"devices/gpu.json", kDevice},
                                              {"plan.json", tool == "bench" ? kBenchPlan : kPlan}};
    for (const auto& [name, text] : files) all[name] = text;
    for (const auto& [name, text] : all) dir.write(name, text);
    const std::string command = command_line(dir, tool, args);
    CAPTURE(command);
    const auto r = run_command(command);
    CAPTURE(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(expected) != std::string::npos);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    for (const char* name : kOutputs) {
        CAPTURE(name);
        CHECK_FALSE(std::filesystem::exists(dir.path(name)));
        CHECK_FALSE(std::filesystem::exists(dir.path(std::string(name) + ".partial")));
    }
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
         "plan.json: /dp: tp x pp x dp x cp = 32 but the cluster has 16 GPUs; --nodes 4 gives it 32"},
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
        {"negative bandwidth", kModel,
         R"({"name": "c", "nodes": 1, "gpus_per_node": 16, "device": )" + kDevice + R"(, "node": {"fabric": "nvswitch", "gpu_bandwidth": "-300 GB/s", "latency": "0.6 us"}})",
         kPlan, "", "cluster.json: /node/gpu_bandwidth: bandwidth must be positive"},
        {"oversubscription with every node under one leaf", kModel, cluster_with(kDevice, R"(, "oversubscription": 4)"), kPlan, "",
         "cluster.json: /network/oversubscription: needs nodes_per_leaf"},
        {"tp that does not divide kv_heads",
         R"({"name": "m", "layers": 8, "hidden": 1536, "heads": 96, "kv_heads": 4, "vocab": 51200, "seq_len": 2048})",
         kCluster, kPlan, "", "plan.json: /tp: 8 does not divide kv_heads (4)"},
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
         "plan.json: /tp: tp x pp x cp = 32 exceeds the cluster's 16 GPUs; --nodes 4 gives it 32"},
    };
    CHECK(cases.size() >= 30);
    for (const Case& c : cases) {
        check_bad_input(c.what, "simulate", {{"model.json", c.model}, {"cluster.json", c.cluster}, {"plan.json", c.plan}},
                        c.args, c.expected);
    }
}

TEST_CASE("bad input to every command and file kind: exit code 2, file and JSON path, no output left") {
    const std::string model_with = R"({"name": "m", "layers": 8, "hidden": 1536, "heads": 96, "vocab": 51200, "seq_len": 2048)";
    const std::string graph16 = [] {
        std::string v;
        for (int i = 0; i < 16; ++i) v += (i ? "," : "") + std::string(R"({"name": "d)") + std::to_string(i) + R"(", "kind": "device"})";
        return v;
    }();
    const std::vector<ToolCase> cases = {
        // simulate: JSON syntax, duplicate keys, sizes out of range, device files, the event tier's bounds.
        {"duplicate key", "simulate", "", "plan.json: /tp: duplicate key",
         {{"plan.json", R"({"tp": 8, "pp": 2, "tp": 4, "micro_batch": 1, "global_batch": 32})"}}},
        {"duplicate key in a nested object", "simulate", "", "cluster.json: /network/latency: duplicate key",
         {{"cluster.json", cluster_with(R"("gpu")", R"(, "latency": "3 us")")}}},
        {"number beyond double", "simulate", "", "plan.json: malformed JSON: number overflow parsing '1e400'",
         {{"plan.json", R"({"tp": 1e400, "pp": 2, "micro_batch": 1, "global_batch": 32})"}}},
        {"key with a newline stays one line", "simulate", "", "plan.json: /a\\nb: unknown key",
         {{"plan.json", R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 32, "a\nb": 1})"}}},
        {"fractional degree", "simulate", "", "plan.json: /pp: expected an integer, got 2.5",
         {{"plan.json", R"({"tp": 8, "pp": 2.5, "micro_batch": 1, "global_batch": 32})"}}},
        {"hidden beyond the bound", "simulate", "", "model.json: /hidden: value 2147483647 must be between 1 and 1048576",
         {{"model.json", R"({"name": "m", "layers": 8, "hidden": 2147483647, "heads": 1, "vocab": 8, "seq_len": 8})"}}},
        {"zero layers", "simulate", "", "model.json: /layers: value 0 must be between 1 and 16384",
         {{"model.json", R"({"name": "m", "layers": 0, "hidden": 1536, "heads": 96, "vocab": 51200, "seq_len": 2048})"}}},
        {"MoE layer frequency above the layers", "simulate", "", "model.json: /moe/layer_frequency: value 9 must be between 1 and 8",
         {{"model.json", model_with + R"(, "moe": {"experts": 8, "top_k": 2, "layer_frequency": 9}})"}}},
        {"model is an array", "simulate", "", "model.json: /: expected an object, got an array", {{"model.json", "[]"}}},
        {"cluster larger than 2^20 devices", "simulate", "", "cluster.json: /nodes: 1000000 nodes x 8 GPUs per node exceed 1048576 devices",
         {{"cluster.json", R"({"name": "c", "nodes": 1000000, "gpus_per_node": 8, "device": "gpu",
             "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "0.6 us"},
             "network": {"fabric": "fat-tree", "nics_per_node": 8, "nic_bandwidth": "200 Gb/s", "latency": "2 us"}})"}}},
        {"--nodes beyond 2^20 devices", "simulate", "--nodes 200000",
         "command line: --nodes: 200000 nodes x 8 GPUs per node exceed 1048576 devices"},
        {"more NICs than GPUs", "simulate", "", "cluster.json: /network/nics_per_node: value 16 must be between 1 and 8",
         {{"cluster.json", R"({"name": "c", "nodes": 2, "gpus_per_node": 8, "device": "gpu",
             "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "0.6 us"},
             "network": {"fabric": "fat-tree", "nics_per_node": 16, "nic_bandwidth": "200 Gb/s", "latency": "2 us"}})"}}},
        {"latency of a minute", "simulate", "", "cluster.json: /node/latency: latency must be at most 1 s",
         {{"cluster.json", R"({"name": "c", "nodes": 1, "gpus_per_node": 16, "device": "gpu",
             "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "1 min"}})"}}},
        {"PCIe switches that do not divide the GPUs", "simulate", "", "cluster.json: /node/pcie_switches: 3 switches do not divide 16 GPUs per node",
         {{"cluster.json", R"({"name": "c", "nodes": 1, "gpus_per_node": 16, "device": "gpu",
             "node": {"fabric": "pcie", "gpu_bandwidth": "32 GB/s", "latency": "1 us", "pcie_switches": 3}})"}}},
        {"torus dimension beyond the chips", "simulate", "", "cluster.json: /torus/dims/0: must be between 1 and nodes x gpus_per_node (16)",
         {{"cluster.json", R"({"name": "t", "nodes": 4, "gpus_per_node": 4, "device": "gpu",
             "torus": {"dims": [2147483647, 2147483647, 4], "link_bandwidth": "45 GB/s", "latency": "1 us"}})"}}},
        {"disconnected torus-free graph", "simulate", "", "cluster.json: /graph: the topology is disconnected: device 2 cannot reach device 0",
         {{"cluster.json", R"({"name": "g", "nodes": 2, "gpus_per_node": 8, "device": "gpu", "graph": {"vertices": [)" + graph16 +
                               R"(], "links": [{"a": "d0", "b": "d1", "bandwidth": "1 GB/s", "latency": "1 us"}]}})"}}},
        {"calibrated collective listed twice from one size", "simulate", "", "cluster.json: /collectives/1/min_bytes: a collective of this op, ranks and scope from this size is listed twice",
         {{"cluster.json", R"({"name": "c", "nodes": 1, "gpus_per_node": 8, "device": "gpu",
             "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "0.6 us"},
             "collectives": [{"op": "all_reduce", "ranks": 2, "scope": "node", "min_bytes": "4 KiB", "latency": "5 us", "bandwidth": "10 GB/s"},
                             {"op": "all_reduce", "ranks": 2, "scope": "node", "min_bytes": "4096 B", "latency": "6 us", "bandwidth": "12 GB/s"}]})"}}},
        {"device name longer than a file name", "simulate", "", "cluster.json: /device: no device \"" + std::string(300, 'g') + "\"",
         {{"cluster.json", cluster_with("\"" + std::string(300, 'g') + "\"")}}},
        {"device file: zero memory bandwidth", "simulate", "", "devices/gpu.json: /memory_bandwidth: must be positive",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "0 GB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"}})"}}},
        {"device file: zero memory", "simulate", "", "devices/gpu.json: /memory: must be positive",
         {{"devices/gpu.json", R"({"name": "X", "memory": "0 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"}})"}}},
        {"device file: infinite peak", "simulate", "", "devices/gpu.json: /peak/bf16: value \"1e300 TFLOP/s\" is too large",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1e300 TFLOP/s"}})"}}},
        {"device file: malformed", "simulate", "", "devices/gpu.json: malformed JSON", {{"devices/gpu.json", R"({"name": "X",)"}}},
        {"device file: wrong type", "simulate", "", "devices/gpu.json: /compute_units: expected an integer, got a string",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": "many", "peak": {"bf16": "1 TFLOP/s"}})"}}},
        {"device file: unknown kernel key", "simulate", "", "devices/gpu.json: /kernels/gemm_eff: unknown key",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"},
             "kernels": {"gemm_eff": 0.5}})"}}},
        {"device file: zero GEMM tile", "simulate", "", "devices/gpu.json: /kernels/gemm_tile/0: must be between 1 and 65536",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"},
             "kernels": {"gemm_tile": [0, 128]}})"}}},
        {"device file: sustained above line rate", "simulate", "", "devices/gpu.json: /interconnect/effective_link_bandwidth: must be at most link_bandwidth",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"},
             "interconnect": {"links": 12, "link_bandwidth": "25 GB/s", "effective_link_bandwidth": "30 GB/s"}})"}}},
        {"device file: context memory beyond the device's", "simulate", "",
         "devices/gpu.json: /context_memory: must be between 0 and the device's memory",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"},
             "context_memory": "81 GiB"})"}}},
        {"device file: missing peak", "simulate", "", "devices/gpu.json: /peak: missing required key",
         {{"devices/gpu.json", R"({"name": "X", "memory": "80 GiB", "memory_bandwidth": "2 TB/s", "compute_units": 1})"}}},
        {"context parallelism beyond the sequence", "simulate", "", "plan.json: /cp: 1073741824 exceeds seq_len (2048)",
         {{"plan.json", R"({"tp": 8, "pp": 1, "cp": 1073741824, "micro_batch": 1, "global_batch": 32, "flash_attention": true})"}}},
        {"data parallelism of 2^31 - 1", "simulate", "", "plan.json: /dp: tp x pp x dp x cp = 34359738352 but the cluster has 16 GPUs",
         {{"plan.json", R"({"tp": 8, "pp": 2, "dp": 2147483647, "micro_batch": 1, "global_batch": 32})"}}},
        {"virtual stages beyond the layers", "simulate", "", "plan.json: /vpp: 2147483647 model chunks per stage exceed the 8 layers",
         {{"plan.json", R"({"tp": 8, "pp": 2, "vpp": 2147483647, "schedule": "interleaved", "micro_batch": 1, "global_batch": 32})"}}},
        {"uneven split beyond the layers", "simulate", "", "plan.json: /last_stage_layers: 2147483647 exceeds the 8 layers",
         {{"plan.json", R"({"tp": 8, "pp": 2, "first_stage_layers": 2, "last_stage_layers": 2147483647, "micro_batch": 1, "global_batch": 32})"}}},
        {"more micro-batch layers than the event tier plays", "simulate", "--trace {dir}trace.json",
         "plan.json: /global_batch: the event tier simulates at most 1048576 micro-batch layers",
         {{"plan.json", R"({"tp": 8, "pp": 2, "micro_batch": 1, "global_batch": 1048576})"}}},
        {"a trace needs the event tier", "simulate", "--tier analytical --trace {dir}trace.json",
         "command line: --trace: a timeline needs the event tier"},
        {"unknown tier", "simulate", "--tier exact", "--tier"},

        // collective: the cluster file and every option.
        {"collective: malformed cluster", "collective", "", "cluster.json: malformed JSON", {{"cluster.json", "{"}}},
        {"collective: unknown cluster key", "collective", "", "cluster.json: /gpus: unknown key",
         {{"cluster.json", R"({"name": "c", "nodes": 1, "gpus_per_node": 8, "gpus": 8, "device": "gpu",
             "node": {"fabric": "nvswitch", "gpu_bandwidth": "300 GB/s", "latency": "0.6 us"}})"}}},
        {"collective: device file without memory", "collective", "", "devices/gpu.json: /memory: missing required key",
         {{"devices/gpu.json", R"({"name": "X", "memory_bandwidth": "2 TB/s", "compute_units": 1, "peak": {"bf16": "1 TFLOP/s"}})"}}},
        {"collective: unknown op", "collective", "--op allsum", "command line: --op: \"allsum\" is not one of"},
        {"collective: size beyond 1 TiB", "collective", "--min 1e300G", "command line: --min: \"1e300G\" is not between 1 B and 1 TiB"},
        {"collective: size below a byte", "collective", "--min 0.5", "command line: --min: \"0.5\" is not between 1 B and 1 TiB"},
        {"collective: fractional bytes", "collective", "--max 1.5", "command line: --max: \"1.5\" is not a whole number of bytes"},
        {"collective: size without a number", "collective", "--max lots", "command line: --max: \"lots\" is not a size"},
        {"collective: max below min", "collective", "--min 1G --max 1M", "command line: --max: is smaller than --min"},
        {"collective: factor NaN", "collective", "--factor nan", "command line: --factor: must be a number between 1.01 and 1024"},
        {"collective: factor of 1", "collective", "--factor 1", "--factor"},
        {"collective: one rank", "collective", "--ranks 1", "--ranks"},
        {"collective: ranks that do not spread", "collective", "--ranks 12 --nodes 5", "command line: --ranks: 12 ranks do not spread evenly over 5 nodes"},
        {"collective: more ranks per node than GPUs", "collective", "--ranks 16 --nodes 1", "command line: --ranks: 16 ranks per node exceed the 8 devices of a node"},
        {"collective: nodes beyond 2^20 devices", "collective", "--ranks 8 --nodes 2000000", "--nodes: Value 2000000 not in range 1 to 1048576"},
        {"collective: more ranks than a torus holds", "collective", "--ranks 32", "command line: --ranks: the cluster has only 16 devices",
         {{"cluster.json", R"({"name": "t", "nodes": 4, "gpus_per_node": 4, "device": "gpu",
             "torus": {"dims": [4, 4], "link_bandwidth": "45 GB/s", "latency": "1 us"}})"}}},

        // search: the files and every option.
        {"search: duplicate model key", "search", "--global-batch 32", "model.json: /layers: duplicate key",
         {{"model.json", model_with + R"(, "layers": 4})"}}},
        {"search: a report that cannot be written leaves no best plan and no table", "search",
         "--global-batch 32 --rerank 1 --report {dir}missing/r.html", "missing/r.html: cannot write file"},
        {"simulate: a report that cannot be written leaves no trace and no table", "simulate",
         "--trace {dir}trace.json --report {dir}missing/r.html", "missing/r.html: cannot write file"},
        {"search: kv_heads that do not divide heads", "search", "--global-batch 32", "model.json: /kv_heads: 5 does not divide heads (96)",
         {{"model.json", model_with + R"(, "kv_heads": 5})"}}},
        {"search: zero global batch", "search", "--global-batch 0", "--global-batch"},
        {"search: global batch beyond 2^24", "search", "--global-batch 100000000", "--global-batch"},
        {"search: GPUs beyond the cluster", "search", "--global-batch 32 --gpus 1024", "command line: --gpus: 1024 GPUs: the cluster has 16"},
        {"search: GPUs not whole nodes", "search", "--global-batch 32 --gpus 12", "command line: --gpus: 12 is not a whole number of 8-GPU nodes"},
        {"search: GPU list with a word", "search", "--global-batch 32 --gpus 8,many", "command line: --gpus: \"8,many\" is not a GPU count"},
        {"search: zero memory", "search", "--global-batch 32 --max-memory \"0 GiB\"", "command line: --max-memory: \"0 GiB\" is not between 1 B and 1e18 B"},
        {"search: memory without a unit", "search", "--global-batch 32 --max-memory 80", "command line: --max-memory: \"80\" has no unit"},
        {"search: unknown precision", "search", "--global-batch 32 --precision fp64", "command line: --precision: \"fp64\" is not one of"},
        {"search: precision the device lacks", "search", "--global-batch 32 --precision fp8", "command line: --precision: device A100-SXM4-80GB has no fp8 peak"},
        {"search: thousands of threads", "search", "--global-batch 32 --threads 5000", "--threads"},
        {"search: unknown objective", "search", "--global-batch 32 --objective speed", "--objective"},
        {"search: no plan fits", "search", "--global-batch 32 --max-memory \"1 MiB\"",
         "candidates fits in 1.00 MiB per GPU; the least any needs is "},

        // splitsim-harness bench: the model, the plan and every option.
        {"bench: plan without dp", "bench", "", "plan.json: /dp: missing: the harness has no cluster to derive dp from",
         {{"plan.json", R"({"tp": 2, "pp": 1, "micro_batch": 1, "global_batch": 4})"}}},
        {"bench: tp that does not divide heads", "bench", "", "plan.json: /tp: 3 does not divide heads (4)",
         {{"plan.json", R"({"tp": 3, "pp": 1, "dp": 1, "micro_batch": 1, "global_batch": 4})"}}},
        {"bench: ranks beyond 2^20", "bench", "", "plan.json: /dp: tp x pp x cp x dp exceeds 1048576 ranks",
         {{"plan.json", R"({"tp": 2, "pp": 1, "dp": 2000000000, "micro_batch": 1, "global_batch": 2000000000})"}}},
        {"bench: duplicate plan key", "bench", "", "plan.json: /dp: duplicate key",
         {{"plan.json", R"({"tp": 2, "pp": 1, "dp": 2, "dp": 4, "micro_batch": 1, "global_batch": 4})"}}},
        {"bench: unknown model key", "bench", "", "model.json: /hiden: unknown key",
         {{"model.json", R"({"name": "tiny", "layers": 2, "hidden": 64, "hiden": 64, "heads": 4, "vocab": 256, "seq_len": 64})"}}},
        {"bench: malformed model", "bench", "", "model.json: malformed JSON", {{"model.json", R"({"name": "tiny" "layers": 2})"}}},
        {"bench: kernels beyond the machine's memory", "bench", "", "plan.json: /micro_batch: the kernels at this plan's shapes need about",
         {{"plan.json", R"({"tp": 1, "pp": 1, "dp": 1, "micro_batch": 1000000, "global_batch": 1000000})"}}},
        {"bench: size beyond 16 GiB", "bench", "--min-bytes \"1 PB\"", "command line: --min-bytes: \"1 PB\" is not between 1 B and 16 GiB"},
        {"bench: fractional bytes", "bench", "--max-bytes \"1.5 B\"", "command line: --max-bytes: \"1.5 B\" is not a whole number of bytes"},
        {"bench: size without a unit", "bench", "--max-bytes 1024", "command line: --max-bytes: \"1024\" has no unit"},
        {"bench: min above max", "bench", "--min-bytes \"2 MiB\" --max-bytes \"1 MiB\"",
         "command line: --min-bytes: 2097152 B exceeds the largest size, 1048576 B (--max-bytes)"},
        {"bench: timeout NaN", "bench", "--timeout nan", "command line: --timeout: must be a positive number of seconds"},
        {"bench: unknown backend", "bench", "--backend tpu", "--backend"},
        {"bench: zero repetitions", "bench", "--repetitions 0", "--repetitions"},
        {"bench: several devices on the CPU", "bench", "--devices 2", "command line: --devices: the CPU backend runs one rank per process"},
    };
    CHECK(cases.size() >= 60);
    for (const ToolCase& c : cases) check_bad_input(c.what, c.tool, c.files, c.args, c.expected);
}

TEST_CASE("a directory or an unreadable file given as input is bad input") {
    test::TempDir dir;
    dir.write("model.json", kModel);
    dir.write("cluster.json", kCluster);
    dir.write("plan.json", kPlan);
    const std::string tail = " --cluster " + dir.path("cluster.json") + " --plan " + dir.path("plan.json");
    const auto r = run_command(test::executable("SPLITSIM") + " simulate --model " + dir.path("") + tail);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(": is a directory, not a file") != std::string::npos);

    // check-measurements: 2 for what is not a JSON file, 1 for a JSON document with problems.
    const std::string checker = test::executable("CHECK_MEASUREMENTS");
    CHECK(run_command(checker + " " + dir.path("")).exit_code == 2);
    CHECK(run_command(checker + " " + dir.write("overflow.json", R"({"kernels": 1e400})")).exit_code == 2);
    CHECK(run_command(checker + " " + dir.write("duplicate.json", R"({"model": "a", "model": "b"})")).exit_code == 2);
    const auto problems = run_command(checker + " " + dir.write("problems.json", R"({"kernels": [{"kind": 7}], "collectives": []})"));
    CHECK(problems.exit_code == 1);
    CHECK(problems.output.find("/kernels/0/kind: wrong type") != std::string::npos);
    CHECK(run_command(checker + " " + dir.path("plan.json") + " --min-kernels many").exit_code == 2);
}

TEST_CASE("execute refuses a plan beyond this machine's memory before allocating it") {
    test::TempDir dir;
    const std::string plan = dir.write("plan.json", R"({"tp": 1, "pp": 1, "dp": 1, "micro_batch": 1, "global_batch": 1, "precision": "fp32"})");
    const auto r = run_command(test::executable("SPLITSIM_HARNESS") + " execute --model " + std::string(SPLITSIM_SOURCE_ROOT) +
                               "/models/gpt3-175b.json --plan " + plan + " --steps 1 --backend cpu --out " + dir.path("out.json"));
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("plan.json: /: this plan's ranks and reference on the CPU need about") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path("out.json")));
}

TEST_CASE("an output that cannot be written is bad input, and leaves nothing behind") {
    test::TempDir dir;
    dir.write("model.json", kModel);
    dir.write("cluster.json", kCluster);
    dir.write("plan.json", kPlan);
    const std::string out = dir.path("missing/out.json");
    const auto r = run_command(test::executable("SPLITSIM") + " simulate --model " + dir.path("model.json") + " --cluster " +
                               dir.path("cluster.json") + " --plan " + dir.path("plan.json") + " --tier analytical --out " + out);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("missing/out.json: cannot write file") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out + ".partial"));
}

TEST_CASE("hardware figures that take the event tier's clock beyond 73 years are bad input") {
    // 1 FLOP/s and 1 B/s: one iteration takes about 2 x 10^13 s, beyond 2^61 ns = 2.3 x 10^9 s.
    test::TempDir dir;
    dir.write("model.json", kModel);
    dir.write("cluster.json", cluster_with(R"({"name": "slow", "memory": "80 GiB", "memory_bandwidth": "1 B/s",
                                                 "compute_units": 1, "peak": {"bf16": "1 FLOP/s"}})"));
    dir.write("plan.json", kPlan);
    const std::string base = test::executable("SPLITSIM") + " simulate --model " + dir.path("model.json") + " --cluster " +
                             dir.path("cluster.json") + " --plan " + dir.path("plan.json") + " --format json";
    const auto events = run_command(base);
    CAPTURE(events.output);
    CHECK(events.exit_code == 2);
    CHECK(events.output.find("plan.json: the event tier cannot play this iteration out") != std::string::npos);
    // The analytical tier states the (absurd but finite) time.
    const auto analytical = run_command(base + " --tier analytical");
    REQUIRE(analytical.exit_code == 0);
    CHECK(nlohmann::json::parse(analytical.output).at("iteration_time_s").get<double>() > 0x1p61 * 1e-9);
    // search ranks such candidates by their analytical time.
    const auto search = run_command(test::executable("SPLITSIM") + " search --model " + dir.path("model.json") + " --cluster " +
                                    dir.path("cluster.json") + " --global-batch 32 --rerank 4 --format json");
    REQUIRE(search.exit_code == 0);
    const auto ranked = nlohmann::json::parse(search.output).at("candidates");
    REQUIRE(!ranked.empty());
    CHECK_FALSE(ranked[0].contains("event_time_s"));
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
    for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
             {" --op allsum", "command line: --op: \"allsum\" is not one of"},
             {" --ranks 12 --nodes 5", "command line: --ranks: 12 ranks do not spread evenly over 5 nodes"},
             {" --ranks 16 --nodes 1", "command line: --ranks: 16 ranks per node exceed the 8 devices of a node"},
             {" --min 1Q", "command line: --min: \"1Q\" is not a size"},
             {" --min 1G --max 1M", "command line: --max: is smaller than --min"}}) {
        const std::string& args = bad.first;  // a named copy: clang 14 cannot capture a structured binding
        CAPTURE(args);
        const auto r = run_command(base + args);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find(bad.second) != std::string::npos);
    }
}

TEST_CASE("validate-published: the published runs as JSON, and its bad options") {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    const std::string base = test::executable("SPLITSIM") + " validate-published --root " + root;
    const auto json = run_command(base + " --format json");
    REQUIRE(json.exit_code == 0);
    const auto j = nlohmann::json::parse(json.output);
    CHECK(j.at("tier") == "analytical");
    CHECK(j.at("sets").size() >= 5);
    CHECK(!j.at("calibrations").empty());
    CHECK(j.at("validation").at("iteration time").at("points").get<int>() > 0);
    for (const auto& set : j["sets"]) {
        CHECK(!set.at("points").empty());
        CHECK((set.at("role") == "calibration" || set.at("role") == "validation"));
        for (const auto& p : set["points"]) {
            // error = predicted / published - 1
            CHECK(p.at("error").get<double>() ==
                  doctest::Approx(p.at("predicted").get<double>() / p.at("published").get<double>() - 1));
        }
    }
    const auto table = run_command(base);
    REQUIRE(table.exit_code == 0);
    CHECK(table.output.find("mean absolute error") != std::string::npos);
    const auto bad_tier = run_command(base + " --tier exact");
    CHECK(bad_tier.exit_code == 2);
    const auto bad_root = run_command(test::executable("SPLITSIM") + " validate-published --root /nonexistent");
    CHECK(bad_root.exit_code == 2);
    CHECK(bad_root.output.find("/nonexistent/validate/published: not a directory") != std::string::npos);
}

TEST_CASE("identical inputs give byte-identical JSON, CSV and traces, across runs and thread counts") {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    test::TempDir dir;
    const std::string plan = dir.write("plan.json", R"({"tp": 2, "pp": 2, "vpp": 2, "schedule": "interleaved", "micro_batch": 1,
                                                        "global_batch": 64, "zero": 1, "overlap_grad_reduce": true})");
    const std::string inputs = " --model " + root + "/models/gpt-1.7b.json --cluster " + root +
                               "/topologies/dgx-a100-superpod.json --nodes 1";
    auto read = [](const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };

    // simulate: every format and the trace, twice.
    for (const char* format : {"json", "csv", "table", "md"}) {
        CAPTURE(format);
        std::string outputs[2];
        std::string traces[2];
        for (int run = 0; run < 2; ++run) {
            const std::string trace = dir.path("trace" + std::to_string(run) + ".json");
            const auto r = run_command(test::executable("SPLITSIM") + " simulate" + inputs + " --plan " + plan + " --format " +
                                       format + " --trace " + trace);
            REQUIRE(r.exit_code == 0);
            outputs[run] = r.output;
            traces[run] = read(trace);
        }
        CHECK(outputs[0].size() > 100);
        CHECK(outputs[0] == outputs[1]);
        CHECK(traces[0].size() > 1000);
        CHECK(traces[0] == traces[1]);
    }

    // search: the same ranking on one, two and three threads. Re-ranking by the event tier once
    // grew with the thread count and changed which candidates carried event times.
    const std::string search = test::executable("SPLITSIM") + " search" + inputs + " --global-batch 16 --rerank 3 --all";
    const auto csv1 = run_command(search + " --format csv --threads 1 --best-plan " + dir.path("best1.json"));
    REQUIRE(csv1.exit_code == 0);
    CHECK(std::count(csv1.output.begin(), csv1.output.end(), '\n') > 1000);
    for (int threads : {2, 3}) {
        CAPTURE(threads);
        const std::string best = dir.path("best" + std::to_string(threads) + ".json");
        const auto csv = run_command(search + " --format csv --threads " + std::to_string(threads) + " --best-plan " + best);
        REQUIRE(csv.exit_code == 0);
        CHECK(csv.output == csv1.output);
        CHECK(read(best) == read(dir.path("best1.json")));
    }
    // JSON: everything but "run" (thread count and wall times) is byte-identical.
    std::string rest[2];
    for (int threads : {1, 2}) {
        const auto r = run_command(search + " --format json --threads " + std::to_string(threads));
        REQUIRE(r.exit_code == 0);
        nlohmann::json j = nlohmann::json::parse(r.output);
        REQUIRE(j.contains("run"));
        CHECK(j["run"].at("threads").get<int>() == threads);
        for (const char* key : {"analytical_seconds", "candidates_per_second", "event_seconds"}) CHECK(j["run"].at(key).is_number());
        CHECK(j["run"].size() == 4);
        j.erase("run");
        CHECK(j.at("simulated").get<int>() >= 3);
        rest[threads - 1] = j.dump();
    }
    CHECK(rest[0].size() > 1000);
    CHECK(rest[0] == rest[1]);
}

// ---- what a new user meets: outputs, rankings, exports and messages -----------------------------

namespace {

const std::string kRoot = SPLITSIM_SOURCE_ROOT;
std::string cli() { return test::executable("SPLITSIM"); }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The words of a launch command's arguments: "--flag value \" lines, comments skipped.
std::vector<std::vector<std::string>> argument_lines(const std::string& text) {
    std::vector<std::vector<std::string>> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string word; words >> word;) {
            if (word != "\\") w.push_back(word);
        }
        if (!w.empty()) out.push_back(w);
    }
    return out;
}

// Checks command-line arguments against a framework's argument definitions
// (tests/data/framework-arguments.json): every flag defined, given a value exactly when it takes
// one and a value among its choices, every required argument present.
void check_arguments(const std::string& text, const nlohmann::json& spec) {
    const nlohmann::json& flags = spec.at("flags");
    std::map<std::string, std::string> given;
    for (const auto& words : argument_lines(text)) {
        const std::string& flag = words[0];
        CAPTURE(flag);
        REQUIRE(flags.contains(flag));
        const nlohmann::json& def = flags[flag];
        if (def.is_boolean() && !def.get<bool>()) {
            CHECK(words.size() == 1);
        } else {
            REQUIRE(words.size() == 2);
            if (def.is_array()) {
                CHECK(std::find(def.begin(), def.end(), words[1]) != def.end());
            }
        }
        CHECK(given.emplace(flag, words.size() > 1 ? words[1] : "").second);  // each flag once
    }
    for (const auto& required : spec.at("required")) {
        CAPTURE(required);
        CHECK(given.contains(required.get<std::string>()));
    }
    if (given.contains("--seq-length") && given.contains("--max-position-embeddings")) {
        CHECK(std::stoi(given["--seq-length"]) <= std::stoi(given["--max-position-embeddings"]));
    }
}

// Every key of a DeepSpeed configuration among the keys DeepSpeed reads, recursively.
void check_config_keys(const nlohmann::json& config, const nlohmann::json& keys) {
    for (const auto& item : config.items()) {
        const std::string& key = item.key();
        const nlohmann::json& value = item.value();
        CAPTURE(key);
        REQUIRE(keys.contains(key));
        if (value.is_object()) {
            REQUIRE(keys[key].is_object());
            check_config_keys(value, keys[key]);
        } else if (keys[key].is_array()) {
            CHECK(std::find(keys[key].begin(), keys[key].end(), value) != keys[key].end());
        }
    }
}

// A torchtitan TOML job configuration against job_config.py's sections, keys and choices.
void check_torchtitan(const std::string& text, const nlohmann::json& spec) {
    std::istringstream lines(text);
    std::string section;
    std::map<std::string, std::string> values;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        if (line[0] == '[') {
            section = line.substr(1, line.find(']') - 1);
            CAPTURE(section);
            CHECK(spec.at("sections").contains(section));
            continue;
        }
        const std::size_t eq = line.find(" = ");
        REQUIRE(eq != std::string::npos);
        const std::string key = line.substr(0, eq);
        std::string value = line.substr(eq + 3);
        if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
        CAPTURE(section);
        CAPTURE(key);
        REQUIRE(spec["sections"][section].contains(key));
        const nlohmann::json& def = spec["sections"][section][key];
        if (def.is_array()) CHECK(std::find(def.begin(), def.end(), value) != def.end());
        values[section + "." + key] = value;
    }
    auto listed = [&](const char* list, const std::string& value) {
        const nlohmann::json& names = spec.at(list);
        return std::find(names.begin(), names.end(), value) != names.end();
    };
    CHECK(listed("model_names", values.at("model.name")));
    CHECK(listed("llama3_flavors", values.at("model.flavor")));
    if (values.contains("model.converters")) CHECK(listed("converters", values["model.converters"].substr(2, values["model.converters"].size() - 4)));
    if (values.contains("parallelism.pipeline_parallel_schedule")) {
        CHECK(listed("pipeline_schedules", values["parallelism.pipeline_parallel_schedule"]));
    }
}

}  // namespace

TEST_CASE("export: every shipped model under every framework parses with the framework's own argument definitions") {
    const nlohmann::json spec = nlohmann::json::parse(read_file(kRoot + "/tests/data/framework-arguments.json"));
    test::TempDir dir;
    // A plan every framework runs: full recomputation, fused attention, ZeRO-1 where the framework has it.
    const std::map<std::string, std::string> plans = {
        {"megatron-lm", R"({"tp": 1, "pp": 1, "dp": 2, "micro_batch": 1, "global_batch": 4, "zero": 1, "recompute": "full",
                            "overlap_grad_reduce": true})"},
        {"megatron-core", R"({"tp": 1, "pp": 1, "dp": 2, "micro_batch": 1, "global_batch": 4, "zero": 1, "recompute": "full",
                              "flash_attention": true, "overlap_grad_reduce": true, "overlap_param_gather": true})"},
        {"deepspeed", R"({"tp": 1, "pp": 1, "dp": 2, "micro_batch": 1, "global_batch": 4, "zero": 2, "recompute": "full",
                          "flash_attention": true})"},
        {"torchtitan", R"({"tp": 1, "pp": 1, "dp": 2, "micro_batch": 1, "global_batch": 4, "zero": 3, "recompute": "full",
                           "flash_attention": true})"}};
    int exported = 0;
    for (const auto& entry : std::filesystem::directory_iterator(kRoot + "/models")) {
        if (entry.path().extension() != ".json") continue;  // models/hf/ holds Hugging Face configs
        const std::string model = entry.path().string();
        const nlohmann::json m = nlohmann::json::parse(read_file(model));
        for (const auto& plan_entry : plans) {
            const std::string& framework = plan_entry.first;
            const std::string& plan_text = plan_entry.second;
            CAPTURE(model);
            CAPTURE(framework);
            const auto r = run_command(cli() + " export --model " + model + " --plan " + dir.write("plan.json", plan_text) + " --to " + framework);
            CAPTURE(r.output);
            const bool llama3 = m.at("name").get<std::string>().rfind("Llama 3", 0) == 0;
            const bool causal = m.value("causal", true);
            // Which models each framework must take: a decoder for Megatron-Core and DeepSpeed (whose
            // experts sit in every layer here), no MoE for the legacy model, torchtitan's llama3 flavors.
            const bool expected = causal && (framework == "megatron-core" || framework == "deepspeed" ||
                                             (framework == "megatron-lm" && !m.contains("moe")) || (framework == "torchtitan" && llama3));
            if (!expected) {
                // Refused by the model key it cannot express, naming the model file.
                CHECK(r.exit_code == 2);
                CHECK(r.output.rfind("splitsim: " + model + ": /", 0) == 0);
                continue;
            }
            REQUIRE(r.exit_code == 0);
            ++exported;
            if (framework == "torchtitan") {
                check_torchtitan(r.output, spec.at("torchtitan"));
            } else if (framework == "deepspeed") {
                const std::size_t json_end = r.output.find("# Megatron-DeepSpeed");
                REQUIRE(json_end != std::string::npos);
                const std::size_t json_begin = r.output.find('{');
                check_config_keys(nlohmann::json::parse(r.output.substr(json_begin, json_end - json_begin)),
                                  spec.at("deepspeed-config").at("keys"));
                check_arguments(r.output.substr(json_end), spec.at("megatron-deepspeed"));
            } else {
                check_arguments(r.output, spec.at("megatron"));
            }
        }
    }
    CHECK(exported >= 50);

    // Richer plans: pipelines, interleaving, sequence parallelism, uneven stages, fp8.
    const std::string a100 = " --cluster " + kRoot + "/topologies/dgx-a100-superpod.json";
    const std::vector<std::tuple<std::string, std::string, std::string>> more = {
        {"megatron-core", "/models/gpt3-175b.json --plan " + kRoot + "/plans/gpt3-175b-1024gpu.json" + a100, ""},
        {"megatron-core", "/models/llama3-405b.json --plan " + kRoot + "/plans/llama3-405b-16384gpu.json --cluster " + kRoot +
                              "/topologies/dgx-h100-superpod.json --nodes 2048", ""},
        {"megatron-lm", "/models/gpt-1008b.json --plan " + kRoot + "/plans/gpt-1008b-3072gpu.json" + a100 + " --nodes 384", ""},
        {"deepspeed", "/models/gpt-1008b.json --plan " + kRoot + "/plans/gpt-1008b-3072gpu.json" + a100 + " --nodes 384", ""},
        {"torchtitan", "/models/llama3-70b.json --plan ", "titan"},
    };
    const std::string titan_plan = dir.write("titan.json", R"({"tp": 8, "pp": 4, "vpp": 2, "dp": 4, "schedule": "interleaved",
        "micro_batch": 1, "global_batch": 64, "sequence_parallel": true, "zero": 2, "recompute": "selective", "precision": "fp8"})");
    for (const auto& row : more) {
        const std::string& framework = std::get<0>(row);  // named: doctest's CAPTURE cannot take a structured binding (clang)
        const std::string& model = std::get<1>(row);
        const std::string& plan = std::get<2>(row);
        CAPTURE(framework);
        CAPTURE(model);
        const auto r = run_command(cli() + " export --model " + kRoot + model + (plan.empty() ? "" : titan_plan) + " --to " + framework);
        CAPTURE(r.output);
        REQUIRE(r.exit_code == 0);
        if (framework == "torchtitan") {
            check_torchtitan(r.output, spec.at("torchtitan"));
            CHECK(r.output.find("flavor = \"70B\"") != std::string::npos);
            CHECK(r.output.find("converters = [\"quantize.linear.float8\"]") != std::string::npos);
        } else if (framework == "deepspeed") {
            check_arguments(r.output.substr(r.output.find("# Megatron-DeepSpeed")), spec.at("megatron-deepspeed"));
        } else {
            check_arguments(r.output, spec.at("megatron"));
        }
    }
    // The Llama export carries the architecture: SwiGLU, RMSNorm, rotary positions, no biases,
    // untied embeddings, grouped-query attention, the MLP width and the positions.
    const auto llama = run_command(cli() + " export --model " + kRoot + "/models/llama2-7b.json --plan " +
                                   dir.write("ds.json", R"({"tp": 1, "pp": 1, "dp": 8, "micro_batch": 1, "global_batch": 8})") +
                                   " --to deepspeed");
    REQUIRE(llama.exit_code == 0);
    for (const char* flag : {"--swiglu", "--normalization rmsnorm", "--use-rotary-position-embeddings", "--disable-bias-linear",
                             "--untie-embeddings-and-output-weights", "--ffn-hidden-size 11008", "--num-key-value-heads 32",
                             "--max-position-embeddings 4096", "--attention-dropout 0", "# vocabulary: 32000 entries"}) {
        CAPTURE(flag);
        CHECK(llama.output.find(flag) != std::string::npos);
    }
    // torchtitan has no flavor of Llama 2 7B's sizes: the first key that differs from the closest is named.
    const auto titan = run_command(cli() + " export --model " + kRoot + "/models/llama2-7b.json --plan " + dir.path("ds.json") +
                                   " --to torchtitan");
    CHECK(titan.exit_code == 2);
    CHECK(titan.output.find("llama2-7b.json: /kv_heads: no model torchtitan v0.2.2 defines has these sizes") != std::string::npos);
}

TEST_CASE("export: the plan's framework is the default target, and a --to that differs is an error naming /framework") {
    test::TempDir dir;
    const std::string model = " --model " + kRoot + "/models/gpt3-175b.json";
    const std::string plan = dir.write("plan.json", R"({"tp": 8, "pp": 1, "dp": 2, "micro_batch": 1, "global_batch": 8,
                                                        "framework": "deepspeed"})");
    const auto implied = run_command(cli() + " export --plan " + plan + model);
    CHECK(implied.exit_code == 0);
    CHECK(implied.output.find("# ds_config.json") != std::string::npos);
    const auto differs = run_command(cli() + " export --plan " + plan + model + " --to megatron-core");
    CHECK(differs.exit_code == 2);
    CHECK(differs.output.find("plan.json: /framework: the plan is for deepspeed, but --to asks for megatron-core") != std::string::npos);
    const auto none = run_command(cli() + " export --plan " + kRoot + "/plans/gpt3-175b-1024gpu.json" + model + " --cluster " + kRoot +
                                  "/topologies/dgx-a100-superpod.json");
    CHECK(none.exit_code == 2);
    CHECK(none.output.find("--to: missing: the plan names no framework") != std::string::npos);
}

TEST_CASE("outputs: a path named twice is refused before anything is written") {
    test::TempDir dir;
    const std::string same = dir.path("same.json");
    const std::string base = cli() + " simulate --model " + kRoot + "/models/gpt-1.7b.json --cluster " + kRoot +
                             "/topologies/dgx-a100-superpod.json --nodes 1 --plan " +
                             dir.write("plan.json", R"({"tp": 8, "pp": 1, "micro_batch": 1, "global_batch": 8})");
    for (const std::string& args : {" --out " + same + " --trace " + same, " --trace " + same + " --report " + dir.path("./same.json")}) {
        CAPTURE(args);
        const auto r = run_command(base + args);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find("same.json: the path is repeated") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(same));
        CHECK_FALSE(std::filesystem::exists(same + ".partial"));
    }
}

TEST_CASE("search: --top bounds every format, --all lists every candidate, rows state their tier and placement") {
    const std::string base = cli() + " search --model " + kRoot + "/models/gpt-1.7b.json --cluster " + kRoot +
                             "/topologies/dgx-a100-superpod.json --nodes 2 --global-batch 32 --rerank 6";
    const auto json = run_command(base + " --top 3 --format json");
    REQUIRE(json.exit_code == 0);
    const auto j = nlohmann::json::parse(json.output);
    CHECK(j.at("candidates").size() == 3);
    CHECK(j.at("listed") == 3);
    CHECK(j.at("fit").get<int>() > 100);
    const auto csv = run_command(base + " --top 3 --format csv");
    REQUIRE(csv.exit_code == 0);
    CHECK(std::count(csv.output.begin(), csv.output.end(), '\n') == 4);
    CHECK(csv.output.rfind("rank,tier,gpus,", 0) == 0);
    CHECK(csv.output.find(",order,") != std::string::npos);
    CHECK(csv.output.find(",gpu_seconds_per_token,") != std::string::npos);

    // --all: one ranking by one estimate per tier. The re-simulated candidates come first, in
    // order of their event-tier time; the rest follow in order of their analytical time.
    const auto all = run_command(base + " --all --format json");
    REQUIRE(all.exit_code == 0);
    const auto a = nlohmann::json::parse(all.output);
    REQUIRE(a.at("candidates").size() == a.at("fit").get<std::size_t>());
    bool analytical_seen = false;
    double previous = 0;
    std::size_t events = 0;
    for (const auto& c : a["candidates"]) {
        const bool event = c.at("tier") == "event";
        CHECK(event == c.contains("event_time_s"));
        if (!event && !analytical_seen) {
            analytical_seen = true;
            previous = 0;
        }
        CHECK_FALSE((event && analytical_seen));
        const double t = c.at("iteration_time_s").get<double>();
        CHECK(t == (event ? c["event_time_s"].get<double>() : c["analytical_time_s"].get<double>()));
        CHECK(t >= previous);
        previous = t;
        events += event ? 1 : 0;
    }
    CHECK(events == a.at("simulated").get<std::size_t>());
    CHECK(events >= 6);

    // The table states each row's tier; --objective cost adds GPU-seconds per token.
    const auto table = run_command(base + " --top 8 --objective cost");
    REQUIRE(table.exit_code == 0);
    CHECK(table.output.find("GPU-s/token") != std::string::npos);
    CHECK(table.output.find(" event ") != std::string::npos);
}

TEST_CASE("search --framework: only plans the framework runs, written into --best-plan, exported and simulated as found") {
    test::TempDir dir;
    const std::string inputs = " --model " + kRoot + "/models/gpt-1.7b.json --cluster " + kRoot + "/topologies/dgx-a100-superpod.json --nodes 2";
    for (const char* framework : {"megatron-lm", "megatron-core", "deepspeed"}) {
        CAPTURE(framework);
        const std::string best = dir.path(std::string(framework) + ".json");
        const auto r = run_command(cli() + " search" + inputs + " --global-batch 32 --rerank 2 --all --format json --framework " +
                                   framework + " --best-plan " + best);
        REQUIRE(r.exit_code == 0);
        const auto j = nlohmann::json::parse(r.output);
        REQUIRE(!j.at("candidates").empty());
        for (const auto& c : j["candidates"]) {
            const auto& p = c.at("plan");
            CHECK(p.at("framework") == framework);
            // What the frameworks refuse: ZeRO-2 under DeepSpeed's pipeline, GPipe and ZeRO-2 in Megatron.
            if (std::string(framework) == "deepspeed") CHECK_FALSE((p["pp"] > 1 && p["zero"] >= 2));
            if (std::string(framework) != "deepspeed") {
                CHECK(p["schedule"] != "gpipe");
                CHECK(p["zero"] != 2);
            }
        }
        CHECK(nlohmann::json::parse(read_file(best)).at("framework") == framework);
        CHECK(run_command(cli() + " export --model " + kRoot + "/models/gpt-1.7b.json --plan " + best).exit_code == 0);
        CHECK(run_command(cli() + " simulate" + inputs + " --plan " + best + " --tier analytical").exit_code == 0);
    }
    // A model the framework cannot express: its key is named.
    const auto titan = run_command(cli() + " search" + inputs + " --global-batch 32 --framework torchtitan");
    CHECK(titan.exit_code == 2);
    CHECK(titan.output.find("gpt-1.7b.json: /activation: torchtitan's llama3 model uses SwiGLU") != std::string::npos);
    // Without --framework the space is larger: it holds what no framework runs.
    const auto any = run_command(cli() + " search" + inputs + " --global-batch 32 --rerank 0 --top 0 --format json");
    const auto megatron = run_command(cli() + " search" + inputs + " --global-batch 32 --rerank 0 --top 0 --format json --framework megatron-core");
    CHECK(nlohmann::json::parse(any.output).at("enumerated").get<int>() > nlohmann::json::parse(megatron.output).at("enumerated").get<int>());
}

TEST_CASE("a plan made for a larger cluster: the error names the --nodes that fits") {
    const auto r = run_command(cli() + " simulate --model " + kRoot + "/models/gpt-1008b.json --cluster " + kRoot +
                               "/topologies/dgx-a100-superpod.json --plan " + kRoot + "/plans/gpt-1008b-3072gpu.json");
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("gpt-1008b-3072gpu.json: /dp: tp x pp x dp x cp = 3072 but the cluster has 1024 GPUs; --nodes 384 gives it 3072") !=
          std::string::npos);
    // A best plan found for 16 of the cluster's GPUs.
    test::TempDir dir;
    const std::string inputs = " --model " + kRoot + "/models/gpt-1.7b.json --cluster " + kRoot + "/topologies/dgx-a100-superpod.json";
    REQUIRE(run_command(cli() + " search" + inputs + " --global-batch 16 --gpus 16 --rerank 0 --top 0 --best-plan " +
                        dir.path("best.json")).exit_code == 0);
    const auto best = run_command(cli() + " simulate" + inputs + " --plan " + dir.path("best.json"));
    CHECK(best.exit_code == 2);
    CHECK(best.output.find("; --nodes 2 gives it 16") != std::string::npos);
    CHECK(run_command(cli() + " simulate" + inputs + " --plan " + dir.path("best.json") + " --nodes 2").exit_code == 0);
}

TEST_CASE("calibrate: measurements must come from the kind of device the cluster has") {
    test::TempDir dir;
    const std::string cpu_bench = kRoot + "/fuzz/corpus/measurements/bench-cpu-tiny.json";
    const auto gpu = run_command(cli() + " calibrate --measurements " + cpu_bench + " --cluster " + kRoot +
                                 "/topologies/dgx-a100-superpod.json --out " + dir.path("out.json"));
    CHECK(gpu.exit_code == 2);
    CHECK(gpu.output.find("bench-cpu-tiny.json: /harness/backend: measured by the cpu backend on a cpu, but the cluster's device "
                          "A100-SXM4-80GB is a gpu") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path("out.json")));
    const auto cpu = run_command(cli() + " calibrate --measurements " + cpu_bench + " --cluster " + kRoot +
                                 "/topologies/localhost-cpu.json --out " + dir.path("out.json"));
    CHECK(cpu.exit_code == 0);
}

TEST_CASE("data is found next to the executable, whatever the working directory") {
    test::TempDir dir;
    const auto published = run_command("cd " + dir.path("") + " && " + cli() + " validate-published --format json");
    REQUIRE(published.exit_code == 0);
    CHECK(!nlohmann::json::parse(published.output).at("sets").empty());
    CHECK(published.output == run_command(cli() + " validate-published --format json --root " + kRoot).output);

    // execute on one rank, outside the repository: the prediction is made on the CPU cluster
    // found next to the executable.
    const std::string plan = dir.write("plan.json", R"({"tp": 1, "pp": 1, "dp": 1, "micro_batch": 1, "global_batch": 2, "precision": "fp32"})");
    const auto run = run_command("cd " + dir.path("") + " && " + test::executable("SPLITSIM_HARNESS") + " execute --model " + kRoot +
                                 "/models/gpt-tiny.json --plan " + plan + " --steps 1 --backend cpu --out " + dir.path("execution.json"));
    CAPTURE(run.output);
    REQUIRE(run.exit_code == 0);
    const auto e = nlohmann::json::parse(read_file(dir.path("execution.json")));
    CHECK(e.at("prediction").is_object());
    CHECK(e["prediction"].at("cluster").get<std::string>().find("localhost-cpu") != std::string::npos);
}

TEST_CASE("collective: more ranks than the cluster has need --nodes, as for simulate") {
    const std::string base = cli() + " collective --cluster " + kRoot + "/topologies/dgx-a100-superpod.json --min 1M --max 1M";
    const auto beyond = run_command(base + " --ranks 2048");
    CHECK(beyond.exit_code == 2);
    CHECK(beyond.output.find("command line: --ranks: 2048 ranks need 256 nodes of 8 but the cluster has 128; --nodes 256 gives it 2048 GPUs") !=
          std::string::npos);
    CHECK(run_command(base + " --ranks 2048 --nodes 256").exit_code == 0);
}

TEST_CASE("a user's mistakes are named, with what would be right") {
    test::TempDir dir;
    const std::string model = kRoot + "/models/gpt3-175b.json", cluster = kRoot + "/topologies/dgx-a100-superpod.json";
    struct Mistake {
        const char* what;
        std::string command;
        std::string expected;
    };
    const std::vector<Mistake> mistakes = {
        {"a misspelt option", cli() + " simulate --modle " + model + " --cluster " + cluster + " --plan " + kRoot + "/plans/gpt3-175b-1024gpu.json",
         "command line: --modle: splitsim simulate has no such option; did you mean --model?"},
        {"a compare file given to simulate", cli() + " simulate --model " + model + " --cluster " + cluster + " --plan " + kRoot + "/plans/gpt3-175b-compare.json",
         "gpt3-175b-compare.json: this is a list of plans, not a plan file; give it to splitsim compare as --plans"},
        {"an unknown plan key in place of a required one", cli() + " simulate --model " + model + " --cluster " + cluster + " --plan " +
             dir.write("plan.json", R"({"tp": 8, "pipeline_parallel": 8, "micro_batch": 1, "global_batch": 1536})"),
         "plan.json: /pipeline_parallel: unknown key; did you mean \"pp\"?"},
        {"a misspelt plan key", cli() + " simulate --model " + model + " --cluster " + cluster + " --plan " +
             dir.write("typo.json", R"({"tp": 8, "pp": 8, "micro_batch": 1, "global_batch": 1536, "recompte": "full"})"),
         "typo.json: /recompte: unknown key; did you mean \"recompute\"?"},
        {"a model file given as --cluster", cli() + " simulate --model " + model + " --cluster " + model + " --plan " + kRoot + "/plans/gpt3-175b-1024gpu.json",
         "gpt3-175b.json: this is a model file, not a cluster file; give it as --model"},
        {"an execution record given to calibrate", cli() + " calibrate --measurements " +
             dir.write("execution.json", R"({"harness": {"command": "execute", "backend": "cpu"}, "steps": [], "plan": {}})") +
             " --cluster " + kRoot + "/topologies/localhost-cpu.json --out " + dir.path("out.json"),
         "execution.json: this is an execution record (splitsim-harness execute), not measurements (splitsim-harness bench); read it with check-execution"},
        {"no plan fits the memory asked for", cli() + " search --model " + kRoot + "/models/gpt-1.7b.json --cluster " + cluster +
             " --nodes 1 --global-batch 8 --max-memory 1MiB",
         "command line: --max-memory: none of the "},
    };
    for (const Mistake& m : mistakes) {
        CAPTURE(m.what);
        const auto r = run_command(m.command);
        CAPTURE(r.output);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find(m.expected) != std::string::npos);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    }
    // The checkers answer --help with their usage.
    for (const char* checker : {"CHECK_EXECUTION", "CHECK_MEASUREMENTS"}) {
        CAPTURE(checker);
        const auto help = run_command(test::executable(checker) + " --help");
        CHECK(help.exit_code == 0);
        CHECK(help.output.rfind("usage: ", 0) == 0);
    }
    // --help defines the report's terms.
    const auto help = run_command(cli() + " simulate --help");
    CHECK(help.exit_code == 0);
    CHECK(help.output.find("bubble_fraction   pipeline bubble / ideal") != std::string::npos);
}

TEST_CASE("planning commands: JSON output, exit 2 for bad factors and targets, exit 3 for a target out of reach") {
    const std::string tiny = " --model " + kRoot + "/models/gpt-tiny.json --cluster " + kRoot +
                             "/topologies/dgx-a100-superpod.json --nodes 1 --global-batch 64 --rerank 2 --threads 1";
    // estimate: the JSON carries the best plan's totals and both baselines.
    const auto estimate = run_command(cli() + " estimate" + tiny + " --tokens 1e9 --price-per-gpu-hour 3 --format json");
    REQUIRE(estimate.exit_code == 0);
    const auto e = nlohmann::json::parse(estimate.output);
    CHECK(e.at("best").at("usd").get<double>() == doctest::Approx(3 * e["best"].at("gpu_hours").get<double>()));
    CHECK(e["best"].at("kwh").get<double>() == doctest::Approx(0.4 * e["best"]["gpu_hours"].get<double>()));  // A100 TDP
    CHECK(e.at("rates").at("power_origin") == "TDP of A100-SXM4-80GB");
    REQUIRE(e.at("baselines").size() == 2);
    CHECK(e["baselines"][0].at("kind") == "smallest_group");
    CHECK(e["baselines"][1].at("kind") == "data_parallel");
    const auto power = run_command(cli() + " estimate" + tiny + " --tokens 1e9 --power-per-device \"1 kW\" --no-baselines --format json");
    REQUIRE(power.exit_code == 0);
    const auto p = nlohmann::json::parse(power.output);
    CHECK(p["best"]["kwh"].get<double>() == doctest::Approx(p["best"]["gpu_hours"].get<double>()));
    CHECK(p.at("baselines").empty());

    // sensitivity: out-of-range or non-whole factors are input errors naming --factors.
    for (const char* factors : {"0", "-2", "1000", "0.5,x", "0.3"}) {
        CAPTURE(factors);
        const auto bad = run_command(cli() + " sensitivity" + tiny + " --knobs flops,global_batch --factors " + factors);
        CHECK(bad.exit_code == 2);
        CHECK(bad.output.find("--factors") != std::string::npos);
    }
    const auto knob = run_command(cli() + " sensitivity" + tiny + " --knobs warp_speed");
    CHECK(knob.exit_code == 2);
    CHECK(knob.output.find("--knobs: \"warp_speed\" is not one of flops") != std::string::npos);
    const auto sens = run_command(cli() + " sensitivity" + tiny + " --knobs flops --factors 0.5,2 --format json");
    REQUIRE(sens.exit_code == 0);
    const auto s = nlohmann::json::parse(sens.output);
    REQUIRE(s.at("knobs").size() == 1);
    CHECK(s["knobs"][0].at("points").size() == 3);
    CHECK(s["knobs"][0].at("elasticity").get<double>() < 0);

    // requirements: a target no plan reaches is an answer (exit 3), not an error.
    const auto far = run_command(cli() + " requirements" + tiny + " --iteration-time 1e-6");
    CHECK(far.exit_code == 3);
    CHECK(far.output.find("no plan on at most 8 GPUs reaches 0.000 s") != std::string::npos);
    const auto far_json = run_command(cli() + " requirements" + tiny + " --tokens-per-s 1e15 --format json");
    CHECK(far_json.exit_code == 3);
    CHECK(nlohmann::json::parse(far_json.output).at("reachable") == false);
    const auto no_target = run_command(cli() + " requirements" + tiny);
    CHECK(no_target.exit_code == 2);
    const auto negative = run_command(cli() + " requirements" + tiny + " --days -1 --tokens 1e9");
    CHECK(negative.exit_code == 2);
    const auto near = run_command(cli() + " requirements" + tiny + " --iteration-time 100 --format json");
    REQUIRE(near.exit_code == 0);
    const auto r = nlohmann::json::parse(near.output);
    CHECK(r.at("reachable") == true);
    CHECK(r.at("fewest_gpus") == 1);
}
