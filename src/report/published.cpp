#include "splitsim/report/published.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "splitsim/calibrate/published.hpp"
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

// Schema of an iteration_time file, beyond the shared header (calibrate/published.hpp):
//   flops_convention: "narayanan-eq3" (the FLOPs of Narayanan et al. 2021, Eq. 3, recomputation
//     counted) | "model" (Korthikanti et al. 2022, Eq. 7, no recomputation);
//   memory_measure (where rows give memory_gib): what the source's memory figure is: "reserved"
//     (PyTorch's caching allocator's reserved high-water mark, torch.cuda.max_memory_reserved, the
//     largest over GPUs), "allocated" (torch.cuda.max_memory_allocated, the largest over GPUs) or
//     "allocated_last_stage" (the same, logged by the last pipeline stage);
//   rows[]: model (a file name in models/), gpus, and the published throughput as either
//     iteration_time_s or tokens_per_s_per_gpu (or neither, for a row that gives only memory);
//     optional name, tflops_per_gpu, memory_gib (the peak memory per GPU the source measured,
//     GiB), plan (plan keys over the shared plan), seq_len (the run's sequence length, where it
//     differs from the model file's), the
//     plan keys tp, pp, global_batch, micro_batch, schedule, vpp, recompute, sequence_parallel
//     directly in the row, and the model's params_b, heads, hidden, layers (checked against the
//     model file), pct_peak;
//   comparisons[] (optional): name, first, second (run names of this file): the source compares
//     the two strategies by throughput per GPU.
constexpr const char* kRowPlanKeys[] = {"tp", "pp", "global_batch", "micro_batch", "schedule", "vpp", "recompute", "sequence_parallel"};

std::string str(double v, int digits) {
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

std::string summary(const plan::Plan& p) {
    std::string s = "tp" + std::to_string(p.tp) + " pp" + std::to_string(p.pp) + " dp" + std::to_string(p.dp);
    if (p.cp > 1) s += " cp" + std::to_string(p.cp);
    s += " mb" + std::to_string(p.micro_batch);
    if (p.schedule == plan::Schedule::interleaved) s += " v" + std::to_string(p.vpp);
    if (p.sequence_parallel && p.tp > 1) s += " sp";
    if (p.zero > 0) s += " z" + std::to_string(p.zero);
    if (p.recompute != model::Recompute::none) s += std::string(" ") + std::string(plan::to_string(p.recompute));
    if (p.framework) s += std::string(" ") + std::string(plan::to_string(*p.framework));
    return s;
}

std::string cluster_file(const std::string& root, const std::string& name) { return root + "/topologies/" + name + ".json"; }

// The cluster with as many nodes as `gpus` needs, on its calibrated profile where there is one.
hardware::ClusterSpec cluster_for(const std::string& path, int gpus, const hardware::ClusterSpec* calibrated, JsonObject& at,
                                  std::string_view key) {
    hardware::ClusterSpec c = hardware::load_cluster(path);
    const int per_node = c.gpus_per_node;
    if (gpus > per_node && gpus % per_node != 0) {
        at.fail(key, std::to_string(gpus) + " GPUs do not fill whole nodes of " + std::to_string(per_node));
    }
    c.nodes = std::max(1, (gpus + per_node - 1) / per_node);
    if (calibrated) {
        c.device = calibrated->device;
        c.node.gpu_bandwidth = calibrated->node.gpu_bandwidth;
        c.collectives = calibrated->collectives;
    }
    return c;
}

sim::Prediction predict(const sim::Scenario& sc, sim::Tier tier) {
    return tier == sim::Tier::event ? sim::predict_events(sc) : sim::predict_analytical(sc);
}

using Calibrated = std::map<std::string, hardware::ClusterSpec>;  // by canonical cluster file

const hardware::ClusterSpec* calibrated_for(const Calibrated& calibrated, const std::string& path) {
    const auto it = calibrated.find(fs::weakly_canonical(path).string());
    return it == calibrated.end() ? nullptr : &it->second;
}

struct RunTimes {
    std::map<std::string, std::pair<double, double>> per_sample_gpu;  // run -> published, predicted time per sample per GPU
};

PublishedSet iteration_set(JsonObject& o, const calibrate::PublishedHeader& h, const std::string& root, sim::Tier tier,
                           const Calibrated& calibrated, std::vector<PublishedComparison>& comparisons, const std::string& rel) {
    PublishedSet set;
    set.convention = o.required<std::string>("flops_convention");
    if (set.convention != "narayanan-eq3" && set.convention != "model") {
        o.fail("flops_convention", "\"" + set.convention + "\" is not narayanan-eq3 | model");
    }
    const std::string path = cluster_file(root, h.cluster);
    const hardware::ClusterSpec* profile = calibrated_for(calibrated, path);
    set.calibrated = profile != nullptr;
    std::string memory_measure;
    if (o.has("memory_measure")) {
        memory_measure = o.required<std::string>("memory_measure");
        if (memory_measure != "reserved" && memory_measure != "allocated" && memory_measure != "allocated_last_stage") {
            o.fail("memory_measure", "\"" + memory_measure + "\" is not reserved | allocated | allocated_last_stage");
        }
    }
    RunTimes times;
    JsonArray rows = o.array("rows");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        JsonObject r = rows.object(i);
        const std::string model_name = r.required<std::string>("model");
        const std::string model_file = root + "/models/" + model_name + ".json";
        model::ModelSpec m = model::load_model(model_file);
        if (auto seq = r.maybe<int>("seq_len")) {
            if (*seq < 1 || *seq > (1 << 26)) r.fail("seq_len", "must lie in [1, 2^26]");
            m.seq_len = *seq;
        }
        const int gpus = r.required<int>("gpus", at_least(1));
        const auto time_s = r.maybe<double>("iteration_time_s");
        const auto tokens = r.maybe<double>("tokens_per_s_per_gpu");
        if (time_s && tokens) r.fail("give iteration_time_s or tokens_per_s_per_gpu, not both");
        if (time_s && !(*time_s > 0 && *time_s < 1e9)) r.fail("iteration_time_s", "must lie in (0, 1e9) s");
        if (tokens && !(*tokens > 0 && *tokens < 1e12)) r.fail("tokens_per_s_per_gpu", "must lie in (0, 1e12)");
        const double published_tflops = r.optional<double>("tflops_per_gpu", 0.0, between(0.0, 1e6));
        const double memory_gib = r.optional<double>("memory_gib", 0.0, between(0.0, 1e6));
        if (!time_s && !tokens && memory_gib <= 0) r.fail("give iteration_time_s, tokens_per_s_per_gpu or memory_gib");
        if (memory_gib > 0 && memory_measure.empty()) o.fail("memory_measure", "missing: the rows give memory_gib");
        const std::string name = r.optional<std::string>("name", m.name);
        calibrate::check_model_dimensions(r, m, model_file);
        (void)r.maybe<double>("params_b");
        (void)r.maybe<double>("pct_peak");
        nlohmann::json plan_json = h.plan;
        for (const char* key : kRowPlanKeys) {
            if (r.has(key)) plan_json[key] = r.raw(key);
        }
        if (auto overrides = r.maybe_object("plan")) {
            for (const auto& item : overrides->raw_items().items()) plan_json[item.key()] = item.value();
        }
        r.finish();

        plan::Plan p = plan::parse_plan(plan_json, o.file(), rows.pointer_to(i));
        hardware::ClusterSpec cluster = cluster_for(path, gpus, profile, r, "gpus");
        plan::validate(p, m, cluster);
        const sim::Scenario sc(m, std::move(cluster), p);
        const sim::Prediction pred = predict(sc, tier);
        PublishedPoint pt;
        pt.run = name;
        pt.plan = summary(sc.plan());
        if (time_s || tokens) {
            const double published = time_s ? *time_s : static_cast<double>(p.global_batch) * m.seq_len / (*tokens * gpus);
            // TFLOP/s per GPU under the source's convention.
            const model::Recompute counted = set.convention == "narayanan-eq3" ? model::Recompute::full : model::Recompute::none;
            const double flops = model::iteration_flops(m, p.global_batch, counted).value();
            pt.quantity = "iteration time";
            pt.unit = "s";
            pt.published = published;
            pt.predicted = pred.iteration_time.value();
            pt.published_tflops = published_tflops > 0 ? published_tflops : flops / (published * gpus) / 1e12;
            pt.predicted_tflops = flops / (pt.predicted * gpus) / 1e12;
            set.points.push_back(pt);
            const double per_sample = static_cast<double>(gpus) / p.global_batch;
            times.per_sample_gpu[name] = {published * per_sample, pt.predicted * per_sample};
        }
        if (memory_gib > 0) {
            const Bytes predicted = memory_measure == "reserved"    ? pred.memory.reserved
                                    : memory_measure == "allocated" ? pred.memory.peak
                                                                    : pred.memory.stages.back().bytes.total();
            PublishedPoint mem = pt;
            mem.quantity = "peak memory";
            mem.unit = "GiB";
            mem.published = memory_gib;
            mem.predicted = predicted.value() / (1024.0 * 1024.0 * 1024.0);
            mem.published_tflops = mem.predicted_tflops = 0;
            set.points.push_back(mem);
        }
    }
    if (auto list = o.maybe_array("comparisons")) {
        for (std::size_t i = 0; i < list->size(); ++i) {
            JsonObject c = list->object(i);
            PublishedComparison cmp;
            cmp.name = c.required<std::string>("name");
            cmp.file = rel;
            cmp.first = c.required<std::string>("first");
            cmp.second = c.required<std::string>("second");
            c.finish();
            const auto a = times.per_sample_gpu.find(cmp.first);
            const auto b = times.per_sample_gpu.find(cmp.second);
            if (a == times.per_sample_gpu.end()) c.fail("first", "no run named \"" + cmp.first + "\" in this file");
            if (b == times.per_sample_gpu.end()) c.fail("second", "no run named \"" + cmp.second + "\" in this file");
            cmp.published_ratio = a->second.first / b->second.first;
            cmp.predicted_ratio = a->second.second / b->second.second;
            comparisons.push_back(cmp);
        }
    }
    return set;
}

PublishedSet layer_set(const nlohmann::json& json, const std::string& file, const Calibrated& calibrated) {
    PublishedSet set;
    std::string path;
    const std::vector<calibrate::LayerMeasurement> layers = calibrate::read_layer_times(json, file, &path);
    const hardware::ClusterSpec* profile = calibrated_for(calibrated, path);
    set.calibrated = profile != nullptr;
    const hardware::ClusterSpec cluster = profile ? *profile : hardware::load_cluster(path);
    // Layers come as forward, backward per experiment; the table adds their sum.
    for (std::size_t i = 0; i + 1 < layers.size(); i += 2) {
        const double forward = calibrate::predict_layer(layers[i], cluster).value() * 1e3;
        const double backward = calibrate::predict_layer(layers[i + 1], cluster).value() * 1e3;
        const double published[3] = {layers[i].time.value() * 1e3, layers[i + 1].time.value() * 1e3,
                                     (layers[i].time + layers[i + 1].time).value() * 1e3};
        const double predicted[3] = {forward, backward, forward + backward};
        const char* quantities[3] = {"forward", "backward", "combined"};
        const std::string experiment = layers[i].name.substr(0, layers[i].name.rfind(", "));
        plan::Plan p = layers[i].plan;
        p.dp = 1;
        for (int q = 0; q < 3; ++q) {
            PublishedPoint pt;
            pt.run = experiment;
            pt.quantity = quantities[q];
            pt.unit = "ms";
            pt.plan = summary(p);
            pt.published = published[q];
            pt.predicted = predicted[q];
            set.points.push_back(pt);
        }
    }
    return set;
}

PublishedSet collective_set(const nlohmann::json& json, const std::string& file, const std::string& root, const Calibrated& calibrated) {
    PublishedSet set;
    bool all_calibrated = true;
    for (const calibrate::CollectiveMeasurement& c : calibrate::read_collective_times(json, file)) {
        // The curve's cluster, by name.
        const hardware::ClusterSpec* profile = nullptr;
        for (const auto& [path, spec] : calibrated) {
            if (spec.name == c.cluster) profile = &spec;
        }
        all_calibrated = all_calibrated && profile;
        const hardware::ClusterSpec cluster = profile ? *profile : hardware::load_cluster(cluster_file(root, c.cluster));
        const hardware::Topology t(cluster);
        cost::GroupSet groups;
        groups.groups = c.groups;
        const Seconds predicted = cost::PlacedGroups(t, std::move(groups)).estimate(c.op, c.bytes).time;
        const int n = static_cast<int>(c.groups.front().size());
        auto busbw = [&](Seconds s) { return c.bytes.value() / s.value() * bus_bandwidth_factor(c.op, n) / 1e9; };
        PublishedPoint pt;
        pt.run = c.cluster + " " + std::string(to_string(c.op)) + " x" + std::to_string(n);
        pt.quantity = "busbw";
        pt.unit = "GB/s";
        pt.plan = std::to_string(static_cast<long long>(c.bytes.value())) + " B";
        pt.published = busbw(c.time);
        pt.predicted = busbw(predicted);
        set.points.push_back(pt);
    }
    set.calibrated = all_calibrated;
    return set;
}

double mean_abs(const std::vector<const PublishedPoint*>& points) {
    if (points.empty()) return 0;
    double sum = 0;
    for (const PublishedPoint* p : points) sum += std::fabs(p->error());
    return sum / static_cast<double>(points.size());
}

double max_abs(const std::vector<const PublishedPoint*>& points) {
    double worst = 0;
    for (const PublishedPoint* p : points) worst = std::max(worst, std::fabs(p->error()));
    return worst;
}

std::vector<const PublishedPoint*> select(const PublishedSet& s, const std::string& quantity) {
    std::vector<const PublishedPoint*> out;
    for (const PublishedPoint& p : s.points) {
        if (quantity.empty() || p.quantity == quantity) out.push_back(&p);
    }
    return out;
}

std::vector<const PublishedPoint*> validation_points(const PublishedValidation& v, const std::string& quantity) {
    std::vector<const PublishedPoint*> out;
    for (const PublishedSet& s : v.sets) {
        if (s.role != "validation") continue;
        for (const PublishedPoint* p : select(s, quantity)) out.push_back(p);
    }
    return out;
}

}  // namespace

double PublishedSet::mean_abs_error(const std::string& quantity) const { return mean_abs(select(*this, quantity)); }
double PublishedSet::max_abs_error(const std::string& quantity) const { return max_abs(select(*this, quantity)); }
std::size_t PublishedSet::count(const std::string& quantity) const { return select(*this, quantity).size(); }

double PublishedValidation::validation_mean_abs_error(const std::string& quantity) const {
    return mean_abs(validation_points(*this, quantity));
}
double PublishedValidation::validation_max_abs_error(const std::string& quantity) const {
    return max_abs(validation_points(*this, quantity));
}
std::size_t PublishedValidation::validation_count(const std::string& quantity) const {
    return validation_points(*this, quantity).size();
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

    struct Loaded {
        std::string file;
        nlohmann::json json;
        calibrate::PublishedHeader header;
    };
    std::vector<Loaded> loaded;
    for (const fs::path& path : files) {
        Loaded l{path.string(), read_json_file(path.string()), {}};
        JsonObject o(l.json, l.file);
        l.header = calibrate::read_header(o);
        loaded.push_back(std::move(l));
    }

    // Calibration: every calibration file's measurements, fitted per cluster they were measured on,
    // through splitsim calibrate's code path.
    std::vector<calibrate::Measurements> parts;
    std::map<std::string, std::vector<std::string>> sources;  // cluster name -> files
    for (const Loaded& l : loaded) {
        if (l.header.role != calibrate::Role::calibration) continue;
        parts.push_back(calibrate::parse_measurements(l.json, l.file));
        const std::string rel = fs::relative(l.file, root).generic_string();
        for (const auto& c : parts.back().collectives) sources[c.cluster].push_back(rel);
        for (const auto& c : parts.back().layers) sources[c.cluster].push_back(rel);
    }
    Calibrated calibrated;
    if (!parts.empty()) {
        const calibrate::Measurements all = calibrate::merge(parts);
        for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(root) / "topologies")) {
            if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
            const std::string path = entry.path().string();
            const hardware::ClusterSpec cluster = hardware::load_cluster(path);
            auto names = sources.find(cluster.name);
            if (names == sources.end()) continue;
            hardware::ClusterSpec one_node = cluster;
            one_node.nodes = 1;
            const calibrate::Calibration c = calibrate::calibrate(all, one_node);
            calibrated[fs::weakly_canonical(path).string()] = c.cluster;
            std::vector<std::string> unique = names->second;
            std::sort(unique.begin(), unique.end());
            unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
            out.calibrations.push_back({fs::relative(path, root).generic_string(), cluster.device.name, unique, c.parameters});
        }
        std::sort(out.calibrations.begin(), out.calibrations.end(),
                  [](const PublishedCalibration& a, const PublishedCalibration& b) { return a.cluster < b.cluster; });
    }

    for (const Loaded& l : loaded) {
        JsonObject o(l.json, l.file);
        const calibrate::PublishedHeader h = calibrate::read_header(o);
        const std::string rel = fs::relative(l.file, root).generic_string();
        PublishedSet set;
        if (h.kind == "iteration_time") {
            set = iteration_set(o, h, root, tier, calibrated, out.comparisons, rel);
            o.finish();
        } else if (h.kind == "layer_time") {
            set = layer_set(l.json, l.file, calibrated);
        } else {
            set = collective_set(l.json, l.file, root, calibrated);
        }
        set.file = rel;
        set.title = h.title;
        set.source = h.source;
        set.kind = h.kind;
        set.role = h.role == calibrate::Role::calibration ? "calibration" : "validation";
        if (h.kind != "collective_time") set.cluster = "topologies/" + h.cluster + ".json";
        out.sets.push_back(std::move(set));
    }
    return out;
}

nlohmann::json to_json(const PublishedValidation& v) {
    nlohmann::json calibrations = nlohmann::json::array();
    for (const PublishedCalibration& c : v.calibrations) {
        nlohmann::json params = nlohmann::json::array();
        for (const auto& p : c.parameters) params.push_back({{"name", p.name}, {"before", p.before}, {"after", p.after}});
        calibrations.push_back({{"cluster", c.cluster}, {"device", c.device}, {"files", c.files}, {"parameters", params}});
    }
    nlohmann::json sets = nlohmann::json::array();
    for (const PublishedSet& s : v.sets) {
        nlohmann::json points = nlohmann::json::array();
        for (const PublishedPoint& p : s.points) {
            nlohmann::json j{{"run", p.run},       {"quantity", p.quantity},   {"unit", p.unit},           {"plan", p.plan},
                             {"published", p.published}, {"predicted", p.predicted}, {"error", p.error()}};
            if (p.quantity == "iteration time") {
                j["published_tflops_per_gpu"] = p.published_tflops;
                j["predicted_tflops_per_gpu"] = p.predicted_tflops;
            }
            points.push_back(std::move(j));
        }
        nlohmann::json j{{"file", s.file},   {"title", s.title}, {"source", s.source},         {"kind", s.kind},
                         {"role", s.role},   {"calibrated", s.calibrated}, {"points", points},
                         {"mean_abs_error", s.mean_abs_error()}, {"max_abs_error", s.max_abs_error()}};
        if (!s.cluster.empty()) j["cluster"] = s.cluster;
        if (!s.convention.empty()) j["flops_convention"] = s.convention;
        sets.push_back(std::move(j));
    }
    nlohmann::json comparisons = nlohmann::json::array();
    for (const PublishedComparison& c : v.comparisons) {
        comparisons.push_back({{"name", c.name},
                               {"file", c.file},
                               {"first", c.first},
                               {"second", c.second},
                               {"published_ratio", c.published_ratio},
                               {"predicted_ratio", c.predicted_ratio},
                               {"ranked_correctly", c.ranked_correctly()},
                               {"ratio_error", c.ratio_error()}});
    }
    nlohmann::json summary = nlohmann::json::object();
    for (const char* q : {"iteration time", "peak memory"}) {
        summary[q] = {{"points", v.validation_count(q)},
                      {"mean_abs_error", v.validation_mean_abs_error(q)},
                      {"max_abs_error", v.validation_max_abs_error(q)}};
    }
    return {{"tier", v.tier == sim::Tier::event ? "event" : "analytical"},
            {"calibrations", calibrations},
            {"sets", sets},
            {"comparisons", comparisons},
            {"validation", summary}};
}

std::string render(const PublishedValidation& v, Format format) {
    if (format == Format::json) return to_json(v).dump(2) + "\n";
    std::ostringstream out;
    out << "splitsim validate-published (" << (v.tier == sim::Tier::event ? "event" : "analytical") << " tier)\n";
    char line[512];
    for (const PublishedCalibration& c : v.calibrations) {
        out << "\nCalibrated " << c.cluster << " (" << c.device << ") on";
        for (const std::string& f : c.files) out << " " << f;
        out << "\n";
        for (const auto& p : c.parameters) {
            const bool bandwidth = p.name.find("bandwidth") != std::string::npos;
            std::snprintf(line, sizeof line, "  %-20s %10s -> %s\n", p.name.c_str(),
                          bandwidth ? (str(p.before / 1e9, 1) + " GB/s").c_str() : str(p.before, 4).c_str(),
                          bandwidth ? (str(p.after / 1e9, 1) + " GB/s").c_str() : str(p.after, 4).c_str());
            out << line;
        }
    }
    for (const PublishedSet& s : v.sets) {
        out << "\n" << s.title << "  [" << s.file << "; " << s.role << (s.calibrated ? ", calibrated profile" : "") << "]\n";
        // Column widths fit the longest run and plan of the set.
        int run_width = 10;
        int plan_width = 4;
        for (const PublishedPoint& p : s.points) {
            run_width = std::max(run_width, static_cast<int>(p.run.size()));
            plan_width = std::max(plan_width, static_cast<int>(p.plan.size()));
        }
        if (s.kind == "iteration_time") {
            std::snprintf(line, sizeof line, "  %-*s  %-*s %-14s %10s %10s %7s %9s %9s\n", run_width, "run", plan_width, "plan",
                          "quantity", "published", "predicted", "error", "TFLOP/s", "predicted");
            out << line;
            for (const PublishedPoint& p : s.points) {
                const bool time = p.quantity == "iteration time";
                std::snprintf(line, sizeof line, "  %-*s  %-*s %-14s %8s%-2s %8s%-2s %+6.1f%% %9s %9s\n", run_width, p.run.c_str(),
                              plan_width, p.plan.c_str(), p.quantity.c_str(), str(p.published, time ? 2 : 1).c_str(), p.unit.c_str(),
                              str(p.predicted, time ? 2 : 1).c_str(), p.unit.c_str(), 100 * p.error(),
                              time ? str(p.published_tflops, 1).c_str() : "", time ? str(p.predicted_tflops, 1).c_str() : "");
                out << line;
            }
            if (s.count("iteration time") > 0) out << "  TFLOP/s per GPU counted as " << (s.convention == "model" ? "model FLOPs (Korthikanti Eq. 7, no recomputation)"
                                                                               : "Narayanan Eq. 3 (recomputation counted)")
                << "\n";
        } else {
            std::snprintf(line, sizeof line, "  %-*s  %-*s %-9s %12s %12s %7s\n", run_width, s.kind == "layer_time" ? "experiment" : "curve",
                          plan_width, s.kind == "layer_time" ? "plan" : "size", "quantity", "published", "predicted", "error");
            out << line;
            for (const PublishedPoint& p : s.points) {
                std::snprintf(line, sizeof line, "  %-*s  %-*s %-9s %8s%-4s %8s%-4s %+6.1f%%\n", run_width, p.run.c_str(), plan_width,
                              p.plan.c_str(), p.quantity.c_str(), str(p.published, 2).c_str(), p.unit.c_str(),
                              str(p.predicted, 2).c_str(), p.unit.c_str(), 100 * p.error());
                out << line;
            }
        }
        for (const std::string q : {"iteration time", "peak memory", ""}) {
            if (s.count(q) == 0 || (q.empty() && s.kind == "iteration_time")) continue;
            std::snprintf(line, sizeof line, "  %s%smean absolute error %.2f%%, worst %.2f%% (%zu points)\n", q.c_str(), q.empty() ? "" : ": ",
                          100 * s.mean_abs_error(q), 100 * s.max_abs_error(q), s.count(q));
            out << line;
        }
    }
    if (!v.comparisons.empty()) {
        out << "\nHead-to-head comparisons (time per sample per GPU, first / second)\n";
        for (const PublishedComparison& c : v.comparisons) {
            std::snprintf(line, sizeof line, "  %-44s published %5.2f  predicted %5.2f  ratio error %+6.1f%%  %s\n", c.name.c_str(),
                          c.published_ratio, c.predicted_ratio, 100 * c.ratio_error(), c.ranked_correctly() ? "ranked correctly" : "RANKED WRONG");
            out << line;
        }
    }
    out << "\nValidation data (never fitted):\n";
    for (const char* q : {"iteration time", "peak memory"}) {
        if (v.validation_count(q) == 0) continue;
        std::snprintf(line, sizeof line, "  %-15s mean absolute error %.2f%%, worst %.2f%% (%zu points)\n", q, 100 * v.validation_mean_abs_error(q),
                      100 * v.validation_max_abs_error(q), v.validation_count(q));
        out << line;
    }
    return out.str();
}

}  // namespace splitsim::report
