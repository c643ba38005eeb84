#include "splitsim/calibrate/published.hpp"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "splitsim/common/collective.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::calibrate {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDescriptive[] = {"hardware", "peak_tflops_per_gpu", "precision", "seq_len", "vocab",
                                        "flops_per_iteration", "notes", "statements"};

std::string model_path(const std::string& root, const std::string& name) { return root + "/models/" + name + ".json"; }
std::string cluster_path(const std::string& root, const std::string& name) { return root + "/topologies/" + name + ".json"; }

}  // namespace

PublishedHeader read_header(JsonObject& o) {
    PublishedHeader h;
    h.title = o.required<std::string>("title");
    h.source = o.required<std::string>("source");
    h.kind = o.required<std::string>("kind");
    h.role = o.choice<Role>("role", {{"calibration", Role::calibration}, {"validation", Role::validation}});
    const bool run = h.kind == "iteration_time" || h.kind == "layer_time";
    if (run) {
        h.cluster = o.required<std::string>("cluster");
        h.plan = o.raw("plan");
        if (!h.plan.is_object()) o.fail("plan", "expected an object of plan keys");
    } else if (h.kind != "collective_time") {
        o.fail("kind", "\"" + h.kind + "\" is not iteration_time | layer_time | collective_time");
    }
    JsonArray assumptions = o.array("assumptions");
    for (std::size_t i = 0; i < assumptions.size(); ++i) (void)assumptions.get<std::string>(i);
    for (const char* key : kDescriptive) {
        if (o.has(key)) (void)o.raw(key);
    }
    return h;
}

void check_model_dimensions(JsonObject& o, const model::ModelSpec& m, const std::string& model_file) {
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

std::string published_root(const std::string& data_file) {
    const fs::path dir = fs::absolute(fs::path(data_file)).parent_path();
    const fs::path root = dir.parent_path().parent_path();
    if (dir.filename() != "published" || dir.parent_path().filename() != "validate" || !fs::is_directory(root / "models")) {
        throw InputError(data_file, "", "a published data file lies in validate/published/ of the repository (models and clusters are named relative to it)");
    }
    return root.string();
}

std::vector<LayerMeasurement> read_layer_times(const nlohmann::json& json, const std::string& file, std::string* cluster_file) {
    const std::string root = published_root(file);
    JsonObject o(json, file);
    const PublishedHeader h = read_header(o);
    if (h.kind != "layer_time") o.fail("kind", "\"" + h.kind + "\": expected layer_time");
    const std::string model_name = o.required<std::string>("model_file");
    const std::string model_file = model_path(root, model_name);
    const model::ModelSpec m = model::load_model(model_file);
    JsonObject dims = o.object("model");
    check_model_dimensions(dims, m, model_file);
    const int micro_batch = dims.required<int>("micro_batch", at_least(1));
    const int tp = dims.required<int>("tp", at_least(1));
    dims.finish();
    std::vector<LayerMeasurement> out;
    const std::string cluster = cluster_path(root, h.cluster);
    const std::string cluster_name = hardware::load_cluster(cluster).name;
    JsonArray times = o.array("times_ms");
    for (std::size_t i = 0; i < times.size(); ++i) {
        JsonObject e = times.object(i);
        const std::string experiment = e.required<std::string>("experiment");
        const double forward = e.required<double>("forward", between(1e-9, 1e9));
        const double backward = e.required<double>("backward", between(1e-9, 1e9));
        const double combined = e.required<double>("combined", between(1e-9, 1e9));
        if (std::abs(forward + backward - combined) > 0.051 * std::max(1.0, combined / 10)) {
            e.fail("combined", "is not forward + backward");
        }
        nlohmann::json plan_json = h.plan;
        JsonObject overrides = e.object("plan");
        for (const auto& item : overrides.raw_items().items()) plan_json[item.key()] = item.value();
        e.finish();
        plan::Plan p = plan::parse_plan(plan_json, file, times.pointer_to(i) + "/plan");
        if (p.tp != tp || p.micro_batch != micro_batch) {
            e.fail("plan", "tp and micro_batch must be those of /model (" + std::to_string(tp) + ", " + std::to_string(micro_batch) + ")");
        }
        for (const bool backward_pass : {false, true}) {
            LayerMeasurement l;
            l.name = experiment + (backward_pass ? ", backward" : ", forward");
            l.model = m;
            l.plan = p;
            l.backward = backward_pass;
            l.time = Seconds((backward_pass ? backward : forward) * 1e-3);
            l.cluster = cluster_name;
            out.push_back(std::move(l));
        }
    }
    o.finish();
    if (cluster_file) *cluster_file = cluster;
    return out;
}

std::vector<CollectiveMeasurement> read_collective_times(const nlohmann::json& json, const std::string& file) {
    const std::string root = published_root(file);
    JsonObject o(json, file);
    const PublishedHeader h = read_header(o);
    if (h.kind != "collective_time") o.fail("kind", "\"" + h.kind + "\": expected collective_time");
    std::vector<CollectiveMeasurement> out;
    JsonArray curves = o.array("curves");
    for (std::size_t i = 0; i < curves.size(); ++i) {
        JsonObject c = curves.object(i);
        const std::string cluster = c.required<std::string>("cluster");
        (void)c.required<std::string>("device");
        const CollectiveKind op = c.choice<CollectiveKind>("op", {{"all_reduce", CollectiveKind::all_reduce},
                                                                  {"all_gather", CollectiveKind::all_gather},
                                                                  {"reduce_scatter", CollectiveKind::reduce_scatter},
                                                                  {"all_to_all", CollectiveKind::all_to_all},
                                                                  {"broadcast", CollectiveKind::broadcast},
                                                                  {"send_recv", CollectiveKind::send_recv}});
        const int ranks = c.required<int>("ranks", between(2, 1 << 20));
        JsonArray points = c.array("busbw_GBps");
        const std::string measured_on = hardware::load_cluster(cluster_path(root, cluster)).name;
        for (std::size_t j = 0; j < points.size(); ++j) {
            JsonArray pt(points.raw(j), file, points.pointer_to(j));
            if (pt.size() != 2) pt.fail("expected [size in bytes, bus bandwidth in GB/s]");
            const double bytes = pt.get<double>(0);
            const double busbw = pt.get<double>(1);
            if (!(bytes >= 1 && bytes <= 1e15)) pt.fail(0, "size must lie in [1, 1e15] bytes");
            if (!(busbw > 0 && busbw <= 1e6)) pt.fail(1, "bus bandwidth must lie in (0, 1e6] GB/s");
            CollectiveMeasurement m;
            m.cluster = measured_on;
            m.op = op;
            m.group = "published";
            m.bytes = Bytes(bytes);
            // nccl-tests: busbw = algbw x factor, algbw = S / t.
            m.time = Seconds(bytes * bus_bandwidth_factor(op, ranks) / (busbw * 1e9));
            std::vector<int> members(static_cast<std::size_t>(ranks));
            for (int r = 0; r < ranks; ++r) members[static_cast<std::size_t>(r)] = r;
            m.groups.push_back(std::move(members));
            out.push_back(std::move(m));
        }
        c.finish();
    }
    o.finish();
    return out;
}

Seconds predict_layer(const LayerMeasurement& layer, const hardware::ClusterSpec& cluster) {
    plan::Plan p = layer.plan;
    hardware::ClusterSpec sized = cluster;
    const int model_parallel = p.tp * p.pp * p.cp;
    sized.nodes = std::max(1, (model_parallel + sized.gpus_per_node - 1) / sized.gpus_per_node);
    // One layer's time does not depend on data parallelism: fill the cluster with whatever dp it takes.
    p.dp = sized.device_count() / model_parallel;
    p.global_batch = p.micro_batch * p.dp;
    if (sized.device_count() % model_parallel != 0) {
        throw InputError(p.origin, p.pointer + "/tp", "tp x pp x cp = " + std::to_string(model_parallel) +
                                                          " does not fill whole nodes of " + std::to_string(sized.gpus_per_node));
    }
    plan::validate(p, layer.model, sized);
    const sim::Scenario sc(layer.model, std::move(sized), p);
    const sim::BlockCost dense = sim::block_costs(sc).dense;
    return layer.backward ? dense.backward + dense.backward_comm : dense.forward + dense.forward_comm;
}

}  // namespace splitsim::calibrate
