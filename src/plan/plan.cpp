#include "splitsim/plan/plan.hpp"

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "splitsim/common/data_directory.hpp"
#include "splitsim/common/json_reader.hpp"

namespace splitsim::plan {
namespace {

constexpr std::pair<std::string_view, Precision> kPrecisions[] = {
    {"bf16", Precision::bf16}, {"fp16", Precision::fp16}, {"fp8", Precision::fp8},
    {"fp32", Precision::fp32}, {"tf32", Precision::tf32}};

std::string str(std::int64_t v) { return std::to_string(v); }

// What would make a cluster hold `gpus` devices: the --nodes that gives it that many, where the
// node count can change (not a torus or an explicit graph) and the count is whole nodes.
std::string nodes_hint(const hardware::ClusterSpec& cluster, std::int64_t gpus) {
    if (cluster.torus || cluster.graph) return " (a torus or an explicit graph has a fixed size)";
    if (gpus % cluster.gpus_per_node != 0) {
        return " (" + str(gpus) + " is not a whole number of " + str(cluster.gpus_per_node) + "-GPU nodes)";
    }
    return "; --nodes " + str(gpus / cluster.gpus_per_node) + " gives it " + str(gpus);
}

}  // namespace

std::string_view to_string(Dim d) {
    switch (d) {
        case Dim::tensor: return "tensor";
        case Dim::context: return "context";
        case Dim::expert: return "expert";
        case Dim::data: return "data";
        case Dim::pipeline: return "pipeline";
    }
    return "?";
}

std::string_view to_string(Schedule s) {
    switch (s) {
        case Schedule::gpipe: return "gpipe";
        case Schedule::one_f_one_b: return "1f1b";
        case Schedule::interleaved: return "interleaved";
        case Schedule::zb_h1: return "zb-h1";
    }
    return "?";
}

std::string_view to_string(Recompute r) {
    switch (r) {
        case Recompute::none: return "none";
        case Recompute::selective: return "selective";
        case Recompute::full: return "full";
    }
    return "?";
}

Plan parse_plan(const nlohmann::json& json, const std::string& file, const std::string& pointer) {
    JsonObject o(json, file, pointer);
    Plan p;
    p.origin = file;
    p.pointer = pointer;
    p.name = o.optional<std::string>("name", "");
    if (o.has("framework")) {
        p.framework = o.choice<Framework>("framework", {{"megatron-lm", Framework::megatron_lm},
                                                        {"megatron-core", Framework::megatron_core},
                                                        {"deepspeed", Framework::deepspeed},
                                                        {"torchtitan", Framework::torchtitan}});
    }
    if (o.has("framework_version")) {
        if (!p.framework) o.fail("framework_version", "needs framework");
        p.framework_version = o.required<std::string>("framework_version");
        const auto known = framework_versions(*p.framework);
        if (std::find(known.begin(), known.end(), p.framework_version) == known.end()) {
            std::string list;
            for (std::string_view v : known) list += (list.empty() ? "" : " | ") + std::string(v);
            o.fail("framework_version", "\"" + p.framework_version + "\" is not a modelled release of " +
                                            std::string(display_name(*p.framework)) +
                                            (known.empty() ? " (splitsim models one behaviour for all its releases)" : " (" + list + ")"));
        }
    }
    p.tp = o.required<int>("tp", at_least(1));
    p.pp = o.required<int>("pp", at_least(1));
    p.dp = o.optional<int>("dp", 0, at_least(1));
    p.cp = o.optional<int>("cp", 1, at_least(1));
    p.ep = o.optional<int>("ep", 1, at_least(1));
    p.vpp = o.optional<int>("vpp", 1, at_least(1));
    p.sequence_parallel = o.optional<bool>("sequence_parallel", false);
    p.micro_batch = o.required<int>("micro_batch", at_least(1));
    p.global_batch = o.required<int>("global_batch", at_least(1));
    p.schedule = o.choice<Schedule>("schedule",
                                    {{"1f1b", Schedule::one_f_one_b}, {"gpipe", Schedule::gpipe},
                                     {"interleaved", Schedule::interleaved}, {"zb-h1", Schedule::zb_h1}},
                                    Schedule::one_f_one_b);
    p.zero = o.optional<int>("zero", 0, between(0, 3));
    p.recompute = o.choice<Recompute>(
        "recompute", {{"none", Recompute::none}, {"selective", Recompute::selective}, {"full", Recompute::full}},
        Recompute::none);
    p.precision = o.choice<Precision>("precision", ChoiceSpan<Precision>(kPrecisions), Precision::bf16);
    // Megatron-LM accumulates and reduces gradients in fp32 under bf16 (arguments.py forces
    // --accumulate-allreduce-grads-in-fp32 for bf16) and in the parameter format under fp16.
    p.grad_precision = o.choice<Precision>("grad_precision", ChoiceSpan<Precision>(kPrecisions),
                                           p.precision == Precision::fp16 ? Precision::fp16 : Precision::fp32);
    p.flash_attention = o.optional<bool>("flash_attention", false);
    p.overlap_grad_reduce = o.optional<bool>("overlap_grad_reduce", false);
    p.overlap_param_gather = o.optional<bool>("overlap_param_gather", false);
    p.async_tp_allreduce = o.optional<bool>("async_tp_allreduce", true);
    p.tp_comm_overlap = o.optional<bool>("tp_comm_overlap", false);
    p.grad_accumulation_fusion = o.optional<bool>("grad_accumulation_fusion", true);
    p.scatter_gather_p2p = o.optional<bool>("scatter_gather_p2p", false);
    p.first_stage_layers = o.optional<int>("first_stage_layers", 0, at_least(1));
    p.last_stage_layers = o.optional<int>("last_stage_layers", 0, at_least(1));
    if (auto order = o.maybe_array("order")) {
        if (order->size() != static_cast<std::size_t>(kDimCount)) order->fail("lists each of tp, cp, ep, dp, pp once");
        std::array<bool, kDimCount> seen{};
        for (std::size_t i = 0; i < order->size(); ++i) {
            const std::string name = order->get<std::string>(i);
            const std::pair<std::string_view, Dim> names[] = {
                {"tp", Dim::tensor}, {"cp", Dim::context}, {"ep", Dim::expert}, {"dp", Dim::data}, {"pp", Dim::pipeline}};
            const auto* it = std::find_if(std::begin(names), std::end(names), [&](const auto& n) { return n.first == name; });
            if (it == std::end(names)) order->fail(i, "\"" + name + "\" is not one of tp | cp | ep | dp | pp");
            if (seen[static_cast<std::size_t>(it->second)]) order->fail(i, "\"" + name + "\" appears twice");
            seen[static_cast<std::size_t>(it->second)] = true;
            p.order[i] = it->second;
        }
    }
    o.finish();
    return p;
}

Plan load_plan(const std::string& named) {
    const std::string path = resolve_input_file(named);
    const nlohmann::json json = read_json_file(path);
    expect_file_kind(json, path, FileKind::plan);
    return parse_plan(json, path);
}

std::vector<Plan> load_plans(const std::string& named) {
    const std::string path = resolve_input_file(named);
    const nlohmann::json json = read_json_file(path);
    if (!json.is_array() && !(json.is_object() && json.contains("plans"))) expect_file_kind(json, path, FileKind::plan_list);
    std::vector<Plan> out;
    auto read_array = [&](const JsonArray& list) {
        if (list.size() == 0) list.fail("lists no plans");
        for (std::size_t i = 0; i < list.size(); ++i) out.push_back(parse_plan(list.raw(i), path, list.pointer_to(i)));
    };
    if (json.is_array()) {
        read_array(JsonArray(json, path, ""));
    } else {
        JsonObject o(json, path);
        read_array(o.array("plans"));
        o.finish();
    }
    return out;
}

void validate(Plan& p, const model::ModelSpec& m, const hardware::ClusterSpec& cluster) {
    auto fail = [&](std::string_view key, const std::string& detail) {
        throw InputError(p.origin, p.pointer + "/" + std::string(key), detail);
    };
    const int gpus = cluster.device_count();

    // Tensor parallelism splits heads, key/value heads and the MLP width (Megatron-LM).
    if (m.heads % p.tp != 0) fail("tp", str(p.tp) + " does not divide heads (" + str(m.heads) + ")");
    if (m.kv_heads % p.tp != 0) fail("tp", str(p.tp) + " does not divide kv_heads (" + str(m.kv_heads) + ")");
    if (m.ffn_hidden % p.tp != 0) fail("tp", str(p.tp) + " does not divide ffn_hidden (" + str(m.ffn_hidden) + ")");
    if (m.moe && m.moe->expert_ffn_hidden % p.tp != 0) {
        fail("tp", str(p.tp) + " does not divide expert_ffn_hidden (" + str(m.moe->expert_ffn_hidden) + ")");
    }

    // Pipeline stages: even split, or a stated first/last stage with the rest even.
    if (p.pp > m.layers) fail("pp", str(p.pp) + " stages exceed the " + str(m.layers) + " layers");
    if (p.vpp > m.layers) fail("vpp", str(p.vpp) + " model chunks per stage exceed the " + str(m.layers) + " layers");
    if (p.first_stage_layers > m.layers) {
        fail("first_stage_layers", str(p.first_stage_layers) + " exceeds the " + str(m.layers) + " layers");
    }
    if (p.last_stage_layers > m.layers) {
        fail("last_stage_layers", str(p.last_stage_layers) + " exceeds the " + str(m.layers) + " layers");
    }
    if (p.first_stage_layers || p.last_stage_layers) {
        if (p.pp < 2) fail("first_stage_layers", "an uneven split needs pp >= 2");
        const int first = p.first_stage_layers;
        const int last = p.last_stage_layers;
        const int inner_stages = p.pp - (first ? 1 : 0) - (last ? 1 : 0);
        const int rest = m.layers - first - last;
        if (rest < 0 || (inner_stages == 0 && rest != 0) || (inner_stages > 0 && (rest <= 0 || rest % inner_stages != 0))) {
            fail(first ? "first_stage_layers" : "last_stage_layers",
                 "the remaining " + str(rest) + " layers do not split evenly over " + str(inner_stages) + " stages");
        }
        // Interleaved, every stage's layers split into vpp equal model chunks (Megatron-Core).
        if (p.vpp > 1) {
            if (first % p.vpp != 0) fail("first_stage_layers", str(first) + " layers do not split into vpp = " + str(p.vpp) + " chunks");
            if (last % p.vpp != 0) fail("last_stage_layers", str(last) + " layers do not split into vpp = " + str(p.vpp) + " chunks");
            if (inner_stages > 0 && (rest / inner_stages) % p.vpp != 0) {
                fail("vpp", "the " + str(rest / inner_stages) + " layers of an inner stage do not split into " + str(p.vpp) + " chunks");
            }
        }
    } else if (m.layers % (p.pp * p.vpp) != 0) {
        if (p.vpp > 1) {
            fail("vpp", "pp x vpp = " + str(p.pp * p.vpp) + " does not divide layers (" + str(m.layers) + ")");
        }
        fail("pp", str(p.pp) + " does not divide layers (" + str(m.layers) +
                       "); set first_stage_layers/last_stage_layers for an uneven split");
    }
    if (p.vpp > 1 && p.schedule != Schedule::interleaved) fail("vpp", "vpp > 1 needs the interleaved schedule");
    if (p.schedule == Schedule::interleaved && p.vpp < 2) fail("schedule", "interleaved needs vpp >= 2");
    if (p.schedule == Schedule::interleaved && p.pp < 2) fail("schedule", "interleaved needs pp >= 2");

    // Context parallelism: Megatron-Core splits the sequence into 2 cp chunks for causal load
    // balance and runs it only with fused attention (Transformer Engine).
    if (p.cp > 1) {
        if (p.cp > m.seq_len) fail("cp", str(p.cp) + " exceeds seq_len (" + str(m.seq_len) + ")");
        if (m.seq_len % (2 * p.cp) != 0) {
            fail("cp", "2 x cp = " + str(2 * p.cp) + " does not divide seq_len (" + str(m.seq_len) + ")");
        }
        if (!p.flash_attention) fail("cp", "context parallelism needs flash_attention");
    }

    // Expert parallelism spreads experts over data-parallel ranks.
    if (p.ep > 1 && !m.moe) fail("ep", "ep > 1 needs a MoE model");
    if (m.moe && m.moe->experts % p.ep != 0) {
        fail("ep", str(p.ep) + " does not divide experts (" + str(m.moe->experts) + ")");
    }

    // Data parallelism fills the cluster. Each degree is at most 2^31 and the cluster at most 2^20
    // devices, so the products below are formed in 64 bits and compared as soon as they may exceed it.
    const std::int64_t model_parallel = std::int64_t{p.tp} * p.pp * p.cp;
    if (model_parallel > gpus) {
        fail("tp", "tp x pp x cp = " + str(model_parallel) + " exceeds the cluster's " + str(gpus) + " GPUs" +
                       nodes_hint(cluster, p.dp ? model_parallel * p.dp : model_parallel));
    }
    if (p.dp == 0) {
        if (gpus % model_parallel != 0) {
            fail("tp", "tp x pp x cp = " + str(model_parallel) + " does not divide the cluster's " + str(gpus) + " GPUs");
        }
        p.dp = static_cast<int>(gpus / model_parallel);
    } else if (model_parallel * p.dp != gpus) {
        fail("dp", "tp x pp x dp x cp = " + str(model_parallel * p.dp) + " but the cluster has " + str(gpus) + " GPUs" +
                       nodes_hint(cluster, model_parallel * p.dp));
    }
    if (p.ep > 1 && p.dp % p.ep != 0) fail("ep", str(p.ep) + " does not divide dp (" + str(p.dp) + ")");

    // Batch: whole micro-batches on every data-parallel rank.
    const std::int64_t per_step = std::int64_t{p.micro_batch} * p.dp;
    if (p.global_batch % per_step != 0) {
        fail("global_batch", str(p.global_batch) + " is not a multiple of micro_batch x dp (" + str(p.micro_batch) +
                                 " x " + str(p.dp) + " = " + str(per_step) + ")");
    }
    // Megatron-LM's interleaved schedule needs whole rounds of pp micro-batches.
    if (p.schedule == Schedule::interleaved && p.micro_batches() % p.pp != 0) {
        fail("global_batch", "the interleaved schedule needs micro-batches (" + str(p.micro_batches()) +
                                 ") to be a multiple of pp (" + str(p.pp) + ")");
    }

    // The device must compute in the plan's number formats.
    if (!cluster.device.peak_for(p.precision)) {
        fail("precision", "device " + cluster.device.name + " has no " + std::string(splitsim::to_string(p.precision)) +
                              " peak");
    }
    if (p.grad_precision == Precision::fp8 || p.grad_precision == Precision::tf32) {
        fail("grad_precision", "gradients are kept in fp32, bf16 or fp16");
    }
    if (p.tp_comm_overlap && (p.tp < 2 || !p.sequence_parallel)) {
        fail("tp_comm_overlap", "overlaps the all-gathers and reduce-scatters of sequence parallelism: it needs tp >= 2 and sequence_parallel");
    }
    if (p.framework) require_runs_on(p, m, *p.framework);
}

nlohmann::json to_json(const Plan& p) {
    nlohmann::json j = {
        {"tp", p.tp},
        {"pp", p.pp},
        {"dp", p.dp},
        {"cp", p.cp},
        {"ep", p.ep},
        {"vpp", p.vpp},
        {"sequence_parallel", p.sequence_parallel},
        {"micro_batch", p.micro_batch},
        {"global_batch", p.global_batch},
        {"schedule", to_string(p.schedule)},
        {"zero", p.zero},
        {"recompute", to_string(p.recompute)},
        {"precision", splitsim::to_string(p.precision)},
        {"grad_precision", splitsim::to_string(p.grad_precision)},
        {"flash_attention", p.flash_attention},
        {"overlap_grad_reduce", p.overlap_grad_reduce},
        {"overlap_param_gather", p.overlap_param_gather},
        {"async_tp_allreduce", p.async_tp_allreduce},
        {"tp_comm_overlap", p.tp_comm_overlap},
        {"grad_accumulation_fusion", p.grad_accumulation_fusion},
        {"scatter_gather_p2p", p.scatter_gather_p2p},
    };
    static constexpr const char* kShort[] = {"tp", "cp", "ep", "dp", "pp"};
    nlohmann::json order = nlohmann::json::array();
    for (Dim d : p.order) order.push_back(kShort[static_cast<int>(d)]);
    j["order"] = order;
    if (p.first_stage_layers) j["first_stage_layers"] = p.first_stage_layers;
    if (!p.name.empty()) j["name"] = p.name;
    if (p.framework) j["framework"] = to_string(*p.framework);
    if (!p.framework_version.empty()) j["framework_version"] = p.framework_version;
    if (p.last_stage_layers) j["last_stage_layers"] = p.last_stage_layers;
    return j;
}

}  // namespace splitsim::plan
