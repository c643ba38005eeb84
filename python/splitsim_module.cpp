// The Python module `splitsim`: simulate, compare, search, collective, calibrate and export as the
// command line runs them, each returning the command's JSON as a dict. Models, clusters and plans
// are file names (a model also "hf:PATH") or dicts with the files' keys. Bad input raises
// splitsim.InputError (a ValueError) with .file, .pointer and .detail. The long calls run without
// the GIL; search's progress callback takes it back for each call.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "splitsim/calibrate/calibrate.hpp"
#include "splitsim/common/data_directory.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/common/json_reader.hpp"
#include "splitsim/common/version.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/import/hf_config.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/report/collective.hpp"
#include "splitsim/report/compare.hpp"
#include "splitsim/report/export.hpp"
#include "splitsim/report/search.hpp"
#include "splitsim/report/simulation.hpp"
#include "splitsim/search/search.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace py = pybind11;
using namespace splitsim;

namespace {

// Python values <-> JSON, through Python's json module (the files' own format).
nlohmann::json to_json(const py::handle& value, const std::string& what) {
    const std::string text = py::module_::import("json").attr("dumps")(value).cast<std::string>();
    return parse_json_text(text, what);
}

py::object to_python(const nlohmann::json& value) { return py::module_::import("json").attr("loads")(value.dump()); }

bool is_dict(const py::handle& h) { return py::isinstance<py::dict>(h); }

// A model: a file name (models/*.json, or "hf:PATH" for a Hugging Face config.json) or a dict of
// either kind (a dict with "model_type" is a Hugging Face config).
model::ModelSpec read_model(const py::object& value) {
    if (!is_dict(value)) return model::load_model(value.cast<std::string>());
    const nlohmann::json j = to_json(value, "model");
    if (j.contains("model_type")) return model::parse_hf_config(j, "model");
    return model::parse_model(j, "model");
}

// A cluster: a file name or a dict; a dict's device named by file is read from the shipped
// topologies/devices/.
hardware::ClusterSpec read_cluster(const py::object& value, std::optional<int> nodes) {
    if (!is_dict(value)) return hardware::load_cluster(value.cast<std::string>(), nodes);
    const auto data = find_data_directory("topologies/devices");
    const std::string devices = data ? (*data / "topologies" / "devices").string() : "topologies/devices";
    return hardware::parse_cluster(to_json(value, "cluster"), "cluster", devices, nodes);
}

plan::Plan read_plan(const py::object& value) {
    if (!is_dict(value)) return plan::load_plan(value.cast<std::string>());
    return plan::parse_plan(to_json(value, "plan"), "plan");
}

// A list of plans: a file name (compare's --plans) or a Python list of plan dicts or file names.
std::vector<plan::Plan> read_plans(const py::object& value) {
    if (py::isinstance<py::str>(value)) return plan::load_plans(value.cast<std::string>());
    std::vector<plan::Plan> out;
    std::size_t i = 0;
    for (const py::handle item : value) {
        if (is_dict(item)) {
            out.push_back(plan::parse_plan(to_json(item, "plans"), "plans", "/" + std::to_string(i)));
        } else {
            out.push_back(plan::load_plan(item.cast<std::string>()));
        }
        ++i;
    }
    if (out.empty()) throw InputError("plans", "", "lists no plans");
    return out;
}

sim::Prediction predict(const sim::Scenario& scenario, const std::string& tier) {
    if (tier == "analytical") return sim::predict_analytical(scenario);
    if (tier == "event") return sim::predict_events(scenario);
    throw InputError("arguments", "tier", "\"" + tier + "\" is not one of event | analytical");
}

py::dict run_simulate(const py::object& model_in, const py::object& cluster_in, const py::object& plan_in, std::optional<int> nodes,
                  const std::string& tier) {
    model::ModelSpec model = read_model(model_in);
    hardware::ClusterSpec cluster = read_cluster(cluster_in, nodes);
    plan::Plan plan = read_plan(plan_in);
    nlohmann::json out;
    {
        py::gil_scoped_release release;
        plan::validate(plan, model, cluster);
        const sim::Scenario scenario(std::move(model), std::move(cluster), std::move(plan));
        out = report::to_json(scenario, predict(scenario, tier));
    }
    return to_python(out);
}

py::dict run_compare(const py::object& model_in, const py::object& cluster_in, const py::object& plans_in, std::optional<int> nodes,
                 const std::string& tier) {
    const auto model = std::make_shared<const model::ModelSpec>(read_model(model_in));
    const auto topology = std::make_shared<const hardware::Topology>(read_cluster(cluster_in, nodes));
    std::vector<plan::Plan> plans = read_plans(plans_in);
    nlohmann::json out;
    {
        py::gil_scoped_release release;
        for (plan::Plan& p : plans) plan::validate(p, *model, topology->cluster());
        std::vector<std::unique_ptr<sim::Scenario>> scenarios;
        std::vector<report::Compared> compared;
        for (std::size_t i = 0; i < plans.size(); ++i) {
            scenarios.push_back(std::make_unique<sim::Scenario>(model, topology, plans[i]));
            const std::string name = plans[i].name.empty() ? "plan " + std::to_string(i + 1) : plans[i].name;
            compared.push_back({name, scenarios.back().get(), predict(*scenarios.back(), tier)});
        }
        out = report::to_json(compared);
    }
    return to_python(out);
}

Precision precision_named(const std::string& s) {
    for (Precision p : kAllPrecisions) {
        if (to_string(p) == s) return p;
    }
    throw InputError("arguments", "precision", "\"" + s + "\" is not one of fp32 | tf32 | bf16 | fp16 | fp8");
}

py::dict run_search(const py::object& model_in, const py::object& cluster_in, int global_batch, std::optional<std::vector<int>> gpus,
                std::optional<int> nodes, int top, std::optional<std::string> framework, std::optional<std::string> max_memory,
                const std::string& objective, const std::string& precision, int rerank, int threads,
                std::optional<std::function<void(std::size_t, std::size_t)>> progress) {
    const model::ModelSpec model = read_model(model_in);
    const hardware::ClusterSpec cluster = read_cluster(cluster_in, nodes);
    if (global_batch < 1) throw InputError("arguments", "global_batch", "must be at least 1");
    search::Options o;
    o.global_batch = global_batch;
    if (gpus) o.gpus = *gpus;
    if (max_memory) {
        try {
            o.max_memory = parse_bytes(*max_memory);
        } catch (const std::invalid_argument& e) {
            throw InputError("arguments", "max_memory", e.what());
        }
    }
    if (objective != "time" && objective != "cost") throw InputError("arguments", "objective", "\"" + objective + "\" is not one of time | cost");
    o.objective = objective == "cost" ? search::Objective::cost : search::Objective::time;
    o.precision = precision_named(precision);
    o.rerank = rerank;
    if (framework) {
        o.framework = plan::framework_from_string(*framework);
        if (!o.framework) throw InputError("arguments", "framework", "\"" + *framework + "\" is not one of megatron-lm | megatron-core | deepspeed | torchtitan");
    }
    o.threads = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (progress) {
        // search::run calls it from one thread; the callback is Python, so it takes the GIL.
        o.progress = [callback = *progress](std::size_t done, std::size_t all) {
            py::gil_scoped_acquire acquire;
            callback(done, all);
        };
    }
    nlohmann::json out;
    {
        py::gil_scoped_release release;
        const search::Result result = search::run(model, cluster, o);
        if (result.ranked.empty()) {
            throw InputError("arguments", result.enumerated == 0 ? "global_batch" : "max_memory",
                             "no split of " + model.name + " at global batch " + std::to_string(global_batch) +
                                 (result.enumerated == 0 ? " fits the GPU counts asked for"
                                                         : " fits in " + format_bytes(result.capacity) + " per GPU"));
        }
        out = report::to_json(result, model, cluster, static_cast<std::size_t>(std::max(top, 0)), o.objective);
    }
    return to_python(out);
}

// collective: `splitsim collective --format json`, sizes in bytes from min_bytes to max_bytes.
py::dict run_collective(const py::object& cluster_in, const std::string& op, int ranks, std::optional<int> nodes, double min_bytes,
                        double max_bytes, double factor) {
    const std::optional<CollectiveKind> kind = collective_from_string(op);
    if (!kind) throw InputError("arguments", "op", "\"" + op + "\" is not one of allreduce | allgather | reducescatter | alltoall | broadcast | sendrecv");
    if (ranks < 2) throw InputError("arguments", "ranks", "must be at least 2");
    // As the command line bounds them: whole buffers from 1 B to 1 TiB, a factor within [1.01, 1024].
    if (!(min_bytes >= 1 && max_bytes <= 1099511627776.0 && min_bytes <= max_bytes)) {
        throw InputError("arguments", "min_bytes", "sizes must satisfy 1 <= min_bytes <= max_bytes <= 1 TiB");
    }
    if (!(factor >= 1.01 && factor <= 1024.0)) throw InputError("arguments", "factor", "must be a number between 1.01 and 1024");
    // A dict cluster is read again with each node count the sweep asks for.
    const py::object cluster = cluster_in;
    const nlohmann::json cluster_json = is_dict(cluster) ? to_json(cluster, "cluster") : nlohmann::json();
    const std::string cluster_file = is_dict(cluster) ? std::string() : cluster.cast<std::string>();
    const auto data = find_data_directory("topologies/devices");
    const std::string devices = data ? (*data / "topologies" / "devices").string() : "topologies/devices";
    nlohmann::json out;
    {
        py::gil_scoped_release release;
        const auto load = [&](std::optional<int> n) {
            return cluster_file.empty() ? hardware::parse_cluster(cluster_json, "cluster", devices, n) : hardware::load_cluster(cluster_file, n);
        };
        out = report::to_json(report::sweep_collective(load, *kind, op, ranks, nodes, Bytes(std::floor(min_bytes)), Bytes(std::floor(max_bytes)), factor));
    }
    return to_python(out);
}

// export: the plan as a framework's launch configuration. The plan is checked against the model on
// `cluster` (which also derives dp) as `splitsim export --cluster` does.
py::dict export_plan(const py::object& plan_in, const py::object& model_in, const py::object& cluster_in, std::optional<std::string> to,
                     std::optional<int> nodes) {
    const model::ModelSpec model = read_model(model_in);
    plan::Plan plan = read_plan(plan_in);
    plan::validate(plan, model, read_cluster(cluster_in, nodes));
    std::optional<plan::Framework> f = plan.framework;
    if (to) {
        const auto named = *to == "megatron" ? std::optional(plan::Framework::megatron_core) : plan::framework_from_string(*to);
        if (!named) throw InputError("arguments", "to", "\"" + *to + "\" is not one of megatron-lm | megatron-core | deepspeed | torchtitan");
        if (plan.framework && *plan.framework != *named) {
            throw InputError(plan.origin, "/framework", "the plan is for " + std::string(plan::to_string(*plan.framework)) + ", but to asks for " +
                                                            std::string(plan::to_string(*named)));
        }
        f = named;
    }
    if (!f) throw InputError("arguments", "to", "missing: the plan names no framework");
    py::dict out;
    out["framework"] = std::string(plan::to_string(*f));
    out["text"] = report::export_plan(plan, model, *f);
    return out;
}

// calibrate: the fit of `cluster` to the measurements, the residuals and fitted parameters as
// `splitsim calibrate --format json` prints them, and the calibrated cluster file as a dict (which
// simulate, compare and search take as a cluster).
py::dict calibrate_cluster(const std::vector<std::string>& measurement_files, const std::string& cluster_file, std::optional<int> nodes) {
    nlohmann::json out;
    nlohmann::json profile;
    {
        py::gil_scoped_release release;
        std::vector<calibrate::Measurements> parts;
        for (const std::string& f : measurement_files) {
            expect_file_kind(read_json_file(f), f, FileKind::measurements);
            parts.push_back(calibrate::load_measurements(f));
        }
        if (parts.empty()) throw InputError("arguments", "measurements", "lists no files");
        const calibrate::Measurements m = calibrate::merge(parts);
        const hardware::ClusterSpec cluster = hardware::load_cluster(cluster_file, nodes);
        const calibrate::Calibration c = calibrate::calibrate(m, cluster);
        nlohmann::json file = read_json_file(resolve_input_file(cluster_file));
        if (nodes) file["nodes"] = *nodes;
        profile = calibrate::calibrated_cluster_file(file, c, m);
        out = calibrate::to_json(c, m);
    }
    py::dict result = to_python(out);
    result["calibrated_cluster"] = to_python(profile);
    return result;
}

// The table of a result as a pandas DataFrame (pandas is optional: only this function needs it):
// search's candidates, compare's plans, calibrate's residuals or simulate's memory stages, nested
// members flattened into dotted columns (pandas.json_normalize).
py::object table(const py::dict& result) {
    for (const char* key : {"candidates", "plans", "residuals"}) {
        if (result.contains(key)) return py::module_::import("pandas").attr("json_normalize")(result[key]);
    }
    if (result.contains("memory")) return py::module_::import("pandas").attr("json_normalize")(result["memory"]["stages"]);
    throw InputError("arguments", "result", "not a result of simulate, compare, search or calibrate");
}

}  // namespace

PYBIND11_MODULE(splitsim, m) {
    m.doc() = "splitsim: iteration time, memory and communication of parallel training plans";
    m.attr("__version__") = std::string(version());

    // InputError: bad input, with the file and the JSON pointer it names.
    static py::exception<InputError> input_error(m, "InputError", PyExc_ValueError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const InputError& e) {
            py::object instance = py::reinterpret_borrow<py::object>(input_error.ptr())(e.what());
            instance.attr("file") = e.file();
            instance.attr("pointer") = e.pointer();
            instance.attr("detail") = e.detail();
            PyErr_SetObject(input_error.ptr(), instance.ptr());
        }
    });

    m.def("simulate", &run_simulate, "One plan: the JSON of `splitsim simulate --format json`, as a dict", py::arg("model"),
          py::arg("cluster"), py::arg("plan"), py::kw_only(), py::arg("nodes") = py::none(), py::arg("tier") = "event");
    m.def("compare", &run_compare, "Several plans side by side: `splitsim compare --format json`", py::arg("model"), py::arg("cluster"),
          py::arg("plans"), py::kw_only(), py::arg("nodes") = py::none(), py::arg("tier") = "event");
    m.def("search", &run_search, "Every valid split, ranked: `splitsim search --format json`; progress(done, all) is called now and then",
          py::arg("model"), py::arg("cluster"), py::arg("global_batch"), py::kw_only(), py::arg("gpus") = py::none(),
          py::arg("nodes") = py::none(), py::arg("top") = 10, py::arg("framework") = py::none(), py::arg("max_memory") = py::none(),
          py::arg("objective") = "time", py::arg("precision") = "bf16", py::arg("rerank") = 50, py::arg("threads") = 0,
          py::arg("progress") = py::none());
    m.def("collective", &run_collective, "One collective over a size sweep: `splitsim collective --format json`", py::arg("cluster"),
          py::kw_only(), py::arg("op") = "allreduce", py::arg("ranks") = 8, py::arg("nodes") = py::none(), py::arg("min_bytes") = 1024.0,
          py::arg("max_bytes") = 8589934592.0, py::arg("factor") = 2.0);
    m.def("export", &export_plan, "A plan as a framework's launch configuration: {framework, text}", py::arg("plan"), py::arg("model"),
          py::arg("cluster"), py::kw_only(), py::arg("to") = py::none(), py::arg("nodes") = py::none());
    m.def("table", &table, "The rows of a result as a pandas DataFrame", py::arg("result"));
    m.def("calibrate", &calibrate_cluster, "Fit the cost model to measurements: `splitsim calibrate --format json` plus calibrated_cluster",
          py::arg("measurements"), py::arg("cluster"), py::kw_only(), py::arg("nodes") = py::none());
}
