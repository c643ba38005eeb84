#include "splitsim/report/published.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/common/json_reader.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::report {
namespace {

namespace fs = std::filesystem;

// Schema of a run file (validate/published/*.json with a "kind"):
//   title, source (strings); kind: "iteration_time" | "layer_time"; cluster: a file name in
//   topologies/; plan: plan keys shared by every run; assumptions: the settings the source does not
//   state, in words. Descriptive keys the reader does not use: hardware, peak_tflops_per_gpu,
//   precision, seq_len, vocab, flops_per_iteration, notes.
//   iteration_time: flops_convention: "narayanan-eq3" (the FLOPs of Narayanan et al. 2021, Eq. 3,
//     recomputation counted) | "model" (Korthikanti et al. 2022, Eq. 7, no recomputation); rows[]:
//     model (a file name in models/), gpus, tp, pp, global_batch, iteration_time_s; optional name,
//     tflops_per_gpu, the plan keys micro_batch, schedule, vpp, recompute, sequence_parallel, and the
//     model's params_b, heads, hidden, layers (checked against the model file), pct_peak.
//   layer_time: model_file; model: {heads, hidden, seq_len, vocab, micro_batch, tp} (checked against
//     the model file and the plan); times_ms[]: experiment, forward, backward, combined, plan (keys
//     over the shared plan).
constexpr const char* kDescriptive[] = {"hardware", "peak_tflops_per_gpu", "precision", "seq_len", "vocab", "flops_per_iteration", "notes"};
constexpr const char* kRowPlanKeys[] = {"tp", "pp", "global_batch", "micro_batch", "schedule", "vpp", "recompute", "sequence_parallel"};

std::string str(double v, int digits) {
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

std::string summary(const plan::Plan& p) {
    std::string s = "tp" + std::to_string(p.tp) + " pp" + std::to_string(p.pp) + " dp" + std::to_string(p.dp) + " mb" +
                    std::to_string(p.micro_batch);
    if (p.schedule == plan::Schedule::interleaved) s += " v" + std::to_string(p.vpp);
    if (p.sequence_parallel && p.tp > 1) s += " sp";
    if (p.recompute != model::Recompute::none) s += std::string(" ") + std::string(plan::to_string(p.recompute));
    return s;
}

// The cluster with as many nodes as `gpus` needs.
hardware::ClusterSpec cluster_for(const std::string& path, int gpus, JsonObject& at, std::string_view key) {
    const hardware::ClusterSpec base = hardware::load_cluster(path);
    const int per_node = base.gpus_per_node;
    const int nodes = std::max(1, (gpus + per_node - 1) / per_node);
    if (gpus > per_node && gpus % per_node != 0) {
        at.fail(key, std::to_string(gpus) + " GPUs do not fill whole nodes of " + std::to_string(per_node));
    }
    return hardware::load_cluster(path, nodes);
}

void check_model(JsonObject& o, const model::ModelSpec& m, const std::string& model_file) {
    auto check = [&](std::string_view key, int expected) {
        if (auto v = o.maybe<int>(key); v && *v != expected) {
            o.fail(key, std::to_string(*v) + " but " + model_file + " has " + std::to_string(expected));
        }
    };
    check("heads", m.heads);
    check("hidden", m.hidden);
    check("layers", m.layers);
    check("seq_len", m.seq_len);
    check("vocab", m.vocab);
}

struct FileHeader {
    std::string title;
    std::string source;
    std::string kind;
    std::string cluster;
    nlohmann::json plan;
};

FileHeader read_header(JsonObject& o) {
    FileHeader h;
    h.title = o.required<std::string>("title");
    h.source = o.required<std::string>("source");
    h.kind = o.required<std::string>("kind");
    h.cluster = o.required<std::string>("cluster");
    h.plan = o.raw("plan");
    if (!h.plan.is_object()) o.fail("plan", "expected an object of plan keys");
    JsonArray assumptions = o.array("assumptions");
    for (std::size_t i = 0; i < assumptions.size(); ++i) (void)assumptions.get<std::string>(i);
    return h;
}

sim::Prediction predict(const sim::Scenario& sc, sim::Tier tier) {
    return tier == sim::Tier::event ? sim::predict_events(sc) : sim::predict_analytical(sc);
}

PublishedSet iteration_set(JsonObject& o, const FileHeader& h, const std::string& root, sim::Tier tier) {
    PublishedSet set;
    set.unit = "s";
    set.convention = o.required<std::string>("flops_convention");
    if (set.convention != "narayanan-eq3" && set.convention != "model") {
        o.fail("flops_convention", "\"" + set.convention + "\" is not narayanan-eq3 | model");
    }
    const std::string cluster_path = root + "/topologies/" + h.cluster + ".json";
    JsonArray rows = o.array("rows");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        JsonObject r = rows.object(i);
        const std::string model_name = r.required<std::string>("model");
        const std::string model_file = root + "/models/" + model_name + ".json";
        const model::ModelSpec m = model::load_model(model_file);
        const int gpus = r.required<int>("gpus", at_least(1));
        const double published = r.required<double>("iteration_time_s", between(1e-9, 1e9));
        const double published_tflops = r.optional<double>("tflops_per_gpu", 0.0, between(0.0, 1e6));
        const std::string name = r.optional<std::string>("name", m.name);
        check_model(r, m, model_file);
        (void)r.maybe<double>("params_b");
        (void)r.maybe<double>("pct_peak");
        nlohmann::json plan_json = h.plan;
        for (const char* key : kRowPlanKeys) {
            if (r.has(key)) plan_json[key] = r.raw(key);
        }
        r.finish();

        plan::Plan p = plan::parse_plan(plan_json, o.file(), rows.pointer_to(i));
        hardware::ClusterSpec cluster = cluster_for(cluster_path, gpus, r, "gpus");
        plan::validate(p, m, cluster);
        const sim::Scenario sc(m, std::move(cluster), p);
        const sim::Prediction pred = predict(sc, tier);

        // TFLOP/s per GPU under the source's convention.
        const model::Recompute counted = set.convention == "narayanan-eq3" ? model::Recompute::full : model::Recompute::none;
        const double flops = model::iteration_flops(m, p.global_batch, counted).value();
        PublishedPoint pt;
        pt.run = name;
        pt.quantity = "iteration time";
        pt.plan = summary(sc.plan());
        pt.published = published;
        pt.predicted = pred.iteration_time.value();
        pt.published_tflops = published_tflops > 0 ? published_tflops : flops / (published * gpus) / 1e12;
        pt.predicted_tflops = flops / (pt.predicted * gpus) / 1e12;
        set.points.push_back(pt);
    }
    return set;
}

PublishedSet layer_set(JsonObject& o, const FileHeader& h, const std::string& root) {
    PublishedSet set;
    set.unit = "ms";
    const std::string model_name = o.required<std::string>("model_file");
    const std::string model_file = root + "/models/" + model_name + ".json";
    const model::ModelSpec m = model::load_model(model_file);
    JsonObject dims = o.object("model");
    check_model(dims, m, model_file);
    const int micro_batch = dims.required<int>("micro_batch", at_least(1));
    const int tp = dims.required<int>("tp", at_least(1));
    dims.finish();
    const std::string cluster_path = root + "/topologies/" + h.cluster + ".json";
    JsonArray times = o.array("times_ms");
    for (std::size_t i = 0; i < times.size(); ++i) {
        JsonObject e = times.object(i);
        const std::string experiment = e.required<std::string>("experiment");
        const double published[3] = {e.required<double>("forward", between(1e-9, 1e9)), e.required<double>("backward", between(1e-9, 1e9)),
                                     e.required<double>("combined", between(1e-9, 1e9))};
        nlohmann::json plan_json = h.plan;
        JsonObject overrides = e.object("plan");
        for (const auto& item : overrides.raw_items().items()) plan_json[item.key()] = item.value();
        e.finish();

        plan::Plan p = plan::parse_plan(plan_json, o.file(), times.pointer_to(i) + "/plan");
        if (p.tp != tp || p.micro_batch != micro_batch) {
            e.fail("plan", "tp and micro_batch must be those of /model (" + std::to_string(tp) + ", " + std::to_string(micro_batch) + ")");
        }
        hardware::ClusterSpec cluster = cluster_for(cluster_path, p.tp * p.pp, e, "plan");
        plan::validate(p, m, cluster);
        const sim::Scenario sc(m, std::move(cluster), p);
        // One layer as Megatron times it: its kernels plus the communication its passes expose.
        const sim::BlockCosts blocks = sim::block_costs(sc);
        const sim::BlockCost& layer = blocks.dense;
        const double forward = (layer.forward + layer.forward_comm).value() * 1e3;
        const double backward = (layer.backward + layer.backward_comm).value() * 1e3;
        const double predicted[3] = {forward, backward, forward + backward};
        const char* quantities[3] = {"forward", "backward", "combined"};
        for (int q = 0; q < 3; ++q) {
            PublishedPoint pt;
            pt.run = experiment;
            pt.quantity = quantities[q];
            pt.plan = summary(sc.plan());
            pt.published = published[q];
            pt.predicted = predicted[q];
            set.points.push_back(pt);
        }
    }
    return set;
}

}  // namespace

double PublishedSet::mean_abs_error() const {
    if (points.empty()) return 0;
    double sum = 0;
    for (const PublishedPoint& p : points) sum += std::fabs(p.error());
    return sum / static_cast<double>(points.size());
}

double PublishedSet::max_abs_error() const {
    double worst = 0;
    for (const PublishedPoint& p : points) worst = std::max(worst, std::fabs(p.error()));
    return worst;
}

PublishedValidation validate_published(const std::string& root, sim::Tier tier) {
    PublishedValidation out;
    out.tier = tier;
    const fs::path dir = fs::path(root) / "validate" / "published";
    if (!fs::is_directory(dir)) throw InputError(dir.string(), "", "not a directory (--root names the repository root)");
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& path : files) {
        const std::string file = path.string();
        const nlohmann::json json = read_json_file(file);
        if (!json.is_object() || !json.contains("kind")) continue;  // reference data that is not a run (nccl-busbw.json)
        JsonObject o(json, file);
        const FileHeader h = read_header(o);
        for (const char* key : kDescriptive) {
            if (o.has(key)) (void)o.raw(key);
        }
        PublishedSet set;
        if (h.kind == "iteration_time") {
            set = iteration_set(o, h, root, tier);
        } else if (h.kind == "layer_time") {
            set = layer_set(o, h, root);
        } else {
            o.fail("kind", "\"" + h.kind + "\" is not iteration_time | layer_time");
        }
        o.finish();
        set.file = fs::relative(path, root).generic_string();
        set.title = h.title;
        set.source = h.source;
        set.kind = h.kind;
        out.sets.push_back(std::move(set));
    }
    return out;
}

nlohmann::json to_json(const PublishedValidation& v) {
    nlohmann::json sets = nlohmann::json::array();
    for (const PublishedSet& s : v.sets) {
        nlohmann::json points = nlohmann::json::array();
        for (const PublishedPoint& p : s.points) {
            nlohmann::json j{{"run", p.run},           {"quantity", p.quantity},   {"plan", p.plan},
                             {"published", p.published}, {"predicted", p.predicted}, {"error", p.error()}};
            if (s.kind == "iteration_time") {
                j["published_tflops_per_gpu"] = p.published_tflops;
                j["predicted_tflops_per_gpu"] = p.predicted_tflops;
            }
            points.push_back(std::move(j));
        }
        nlohmann::json j{{"file", s.file},   {"title", s.title},   {"source", s.source},
                         {"kind", s.kind},   {"unit", s.unit},     {"points", points},
                         {"mean_abs_error", s.mean_abs_error()},   {"max_abs_error", s.max_abs_error()}};
        if (!s.convention.empty()) j["flops_convention"] = s.convention;
        sets.push_back(std::move(j));
    }
    return {{"tier", v.tier == sim::Tier::event ? "event" : "analytical"}, {"sets", sets}};
}

std::string render(const PublishedValidation& v, Format format) {
    if (format == Format::json) return to_json(v).dump(2) + "\n";
    std::ostringstream out;
    out << "splitsim validate-published (" << (v.tier == sim::Tier::event ? "event" : "analytical") << " tier)\n";
    char line[512];
    for (const PublishedSet& s : v.sets) {
        out << "\n" << s.title << "  [" << s.file << "]\n";
        // Column widths fit the longest run and plan of the set.
        int run_width = 10;
        int plan_width = 4;
        for (const PublishedPoint& p : s.points) {
            run_width = std::max(run_width, static_cast<int>(p.run.size()));
            plan_width = std::max(plan_width, static_cast<int>(p.plan.size()));
        }
        if (s.kind == "iteration_time") {
            std::snprintf(line, sizeof line, "  %-*s  %-*s %10s %10s %7s %9s %9s\n", run_width, "run", plan_width, "plan",
                          "published", "predicted", "error", "TFLOP/s", "predicted");
            out << line;
            for (const PublishedPoint& p : s.points) {
                std::snprintf(line, sizeof line, "  %-*s  %-*s %9ss %9ss %+6.1f%% %9s %9s\n", run_width, p.run.c_str(), plan_width,
                              p.plan.c_str(), str(p.published, 2).c_str(), str(p.predicted, 2).c_str(), 100 * p.error(),
                              str(p.published_tflops, 1).c_str(), str(p.predicted_tflops, 1).c_str());
                out << line;
            }
            out << "  TFLOP/s per GPU counted as " << (s.convention == "model" ? "model FLOPs (Korthikanti Eq. 7, no recomputation)"
                                                                               : "Narayanan Eq. 3 (recomputation counted)")
                << "\n";
        } else {
            std::snprintf(line, sizeof line, "  %-*s  %-*s %-9s %10s %10s %7s\n", run_width, "experiment", plan_width, "plan", "pass",
                          "published", "predicted", "error");
            out << line;
            for (const PublishedPoint& p : s.points) {
                std::snprintf(line, sizeof line, "  %-*s  %-*s %-9s %8sms %8sms %+6.1f%%\n", run_width, p.run.c_str(), plan_width,
                              p.plan.c_str(), p.quantity.c_str(), str(p.published, 1).c_str(), str(p.predicted, 2).c_str(),
                              100 * p.error());
                out << line;
            }
        }
        std::snprintf(line, sizeof line, "  mean absolute error %.2f%%, worst %.2f%% (%zu points)\n", 100 * s.mean_abs_error(),
                      100 * s.max_abs_error(), s.points.size());
        out << line;
    }
    return out.str();
}

}  // namespace splitsim::report
