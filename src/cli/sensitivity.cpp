// splitsim sensitivity: the elasticity of iteration time to each resource and workload knob, and
// strong- and weak-scaling curves.
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/planning/sensitivity.hpp"
#include "splitsim/common/data_directory.hpp"
#include "splitsim/report/planning.hpp"
#include "splitsim/report/planning_html.hpp"

namespace splitsim::cli {
namespace {

struct SensitivityOptions {
    std::string model;
    std::string cluster;
    std::optional<int> nodes;
    int global_batch = 0;
    std::string knobs;
    std::string factors = "0.5,2";
    std::string scaling;
    CandidateOptions candidates;
    std::string format = "table";
    std::string out = "-";
    std::string report;
};

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(item);
    return out;
}

std::vector<double> parse_factors(const std::string& text) {
    std::vector<double> out;
    for (const std::string& item : split(text)) {
        std::size_t used = 0;
        double f = 0;
        try {
            f = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size()) {
            throw InputError("command line", "--factors", "\"" + item + "\" is not a number (factors are a comma-separated list, e.g. 0.5,2)");
        }
        out.push_back(f);
    }
    if (out.empty()) throw InputError("command line", "--factors", "lists no factor");
    return out;
}

std::vector<planning::Knob> parse_knobs(const std::string& text) {
    std::vector<planning::Knob> out;
    for (const std::string& item : split(text)) {
        const std::optional<planning::Knob> k = planning::knob_from_string(item);
        if (!k) {
            std::string names;
            for (planning::Knob n : planning::kAllKnobs) names += (names.empty() ? "" : " | ") + std::string(planning::to_string(n));
            throw InputError("command line", "--knobs", "\"" + item + "\" is not one of " + names);
        }
        out.push_back(*k);
    }
    return out;
}

std::vector<int> parse_counts(const std::string& text) {
    std::vector<int> out;
    for (const std::string& item : split(text)) {
        std::size_t used = 0;
        int n = 0;
        try {
            n = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || n < 1) {
            throw InputError("command line", "--scaling", "\"" + item + "\" is not a GPU count (a comma-separated list, e.g. 8,16,32)");
        }
        out.push_back(n);
    }
    return out;
}

}  // namespace

Subcommand add_sensitivity(CLI::App& app) {
    auto opts = std::make_shared<SensitivityOptions>();
    CLI::App* sub = app.add_subcommand("sensitivity",
                                       "Elasticity of iteration time to device FLOP/s, memory, NVLink, NIC, latency, GPUs, batch and "
                                       "sequence length; strong- and weak-scaling curves");
    sub->add_option("--model", opts->model, "model JSON")->required();
    sub->add_option("--cluster", opts->cluster, "cluster JSON")->required();
    add_nodes_option(*sub, opts->nodes);
    sub->add_option("--global-batch", opts->global_batch, "sequences per iteration")->required()->check(CLI::Range(1, 1 << 24));
    sub->add_option("--knobs", opts->knobs,
                    "comma-separated knobs (default all): flops, memory_bandwidth, memory_capacity, nvlink_bandwidth, nic_bandwidth, "
                    "latency, gpus, global_batch, seq_len");
    sub->add_option("--factors", opts->factors, "comma-separated factors each knob is scaled by, 0.01 to 100 (default 0.5,2)");
    sub->add_option("--scaling", opts->scaling, "GPU counts of the strong- and weak-scaling curves, e.g. 8,16,32");
    add_candidate_options(*sub, opts->candidates);
    add_format_option(*sub, opts->format);
    sub->add_option("--out", opts->out, "write the result to this file instead of standard output");
    sub->add_option("--report", opts->report,
                    "write a self-contained HTML report: tornado chart, scaling curves, and Narayanan et al. 2021's weak- and "
                    "strong-scaling runs beside their predictions (replayed from validate/published)");
    return {sub, [opts] {
        planning::SensitivityOptions o;
        o.factors = parse_factors(opts->factors);
        if (!opts->knobs.empty()) o.knobs = parse_knobs(opts->knobs);
        if (!opts->scaling.empty()) o.scaling_gpus = parse_counts(opts->scaling);
        const model::ModelSpec model = model::load_model(opts->model);
        const hardware::ClusterSpec cluster = hardware::load_cluster(opts->cluster, opts->nodes);
        o.search = search_options(opts->global_batch, opts->candidates);
        const planning::Sensitivity s = planning::sensitivity(model, cluster, o);
        std::vector<std::pair<std::string, std::string>> outputs;
        if (!opts->report.empty()) {
            const std::optional<std::filesystem::path> root = find_data_directory("validate/published");
            if (!root) throw InputError("command line", "--report", "no validate/published next to the executable to draw beside the curves");
            const report::PublishedValidation v = report::validate_published(root->string(), sim::Tier::event);
            outputs.emplace_back(opts->report, report::sensitivity_html(s, report::published_scaling(v, root->string())));
        }
        outputs.emplace_back(opts->out, report::render(s, parse_format(opts->format)));
        write_outputs(outputs);
    }};
}

}  // namespace splitsim::cli
