// The small models and clusters that fuzzed plans are checked and simulated against: a dense
// GQA/SwiGLU model and a MoE model, on two nodes of four NVSwitch GPUs (fat tree) and on one
// PCIe node of eight GPUs under two sockets.
#pragma once

#include <vector>

#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "support.hpp"

namespace splitsim::fuzz {

inline const std::vector<model::ModelSpec>& models() {
    static const std::vector<model::ModelSpec> m = {
        model::parse_model(nlohmann::json::parse(R"({"name": "dense", "layers": 8, "hidden": 256, "heads": 8,
            "kv_heads": 4, "vocab": 1024, "seq_len": 256, "ffn_hidden": 512, "activation": "swiglu", "norm": "rmsnorm",
            "position_embedding": "rotary", "linear_bias": false, "dropout": false})"), "dense.json"),
        model::parse_model(nlohmann::json::parse(R"({"name": "moe", "layers": 4, "hidden": 128, "heads": 4,
            "vocab": 512, "seq_len": 128, "tied_embeddings": true,
            "moe": {"experts": 4, "top_k": 2, "layer_frequency": 2}})"), "moe.json"),
    };
    return m;
}

inline const std::vector<hardware::ClusterSpec>& clusters() {
    static const std::string device = R"({"name": "gpu", "memory": "16 GiB", "memory_bandwidth": "1 TB/s",
        "compute_units": 64, "peak": {"bf16": "100 TFLOP/s", "fp16": "100 TFLOP/s", "fp32": "20 TFLOP/s"},
        "interconnect": {"links": 4, "link_bandwidth": "25 GB/s", "in_switch_reduction_efficiency": 0.8}})";
    static const std::vector<hardware::ClusterSpec> c = {
        hardware::parse_cluster(nlohmann::json::parse(R"({"name": "fat-tree", "nodes": 2, "gpus_per_node": 4,
            "device": )" + device + R"(, "node": {"fabric": "nvswitch", "latency": "0.5 us", "in_switch_reduction": true},
            "network": {"fabric": "fat-tree", "nics_per_node": 2, "nic_bandwidth": "100 Gb/s", "latency": "2 us"}})"),
            "fat-tree.json", ""),
        hardware::parse_cluster(nlohmann::json::parse(R"({"name": "pcie", "nodes": 1, "gpus_per_node": 8,
            "device": )" + device + R"(, "node": {"fabric": "pcie", "gpu_bandwidth": "16 GB/s", "latency": "1 us",
            "pcie_switches": 4, "sockets": 2, "socket_link": "40 GB/s"}})"), "pcie.json", ""),
    };
    return c;
}

}  // namespace splitsim::fuzz
