// splitsim estimate: wall-clock time, GPU-hours, cost and energy of a whole training run.
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/hardware/device.hpp"
#include "splitsim/planning/estimate.hpp"
#include "splitsim/report/planning.hpp"

namespace splitsim::cli {
namespace {

struct EstimateOptions {
    std::string model;
    std::string cluster;
    std::optional<int> nodes;
    double tokens = 0;
    int global_batch = 0;
    std::string plan;
    std::optional<double> price;
    std::string power;
    bool no_baselines = false;
    CandidateOptions candidates;
    std::string format = "table";
    std::string out = "-";
};

}  // namespace

Subcommand add_estimate(CLI::App& app) {
    auto opts = std::make_shared<EstimateOptions>();
    CLI::App* sub = app.add_subcommand(
        "estimate", "Wall-clock days, GPU-hours, cost and energy of a training run on the best plan, against baselines");
    sub->add_option("--model", opts->model, "model JSON")->required();
    sub->add_option("--cluster", opts->cluster, "cluster JSON: the GPUs available")->required();
    add_nodes_option(*sub, opts->nodes);
    sub->add_option("--tokens", opts->tokens, "tokens to train, e.g. 300e9")->required();
    CLI::Option* batch = sub->add_option("--global-batch", opts->global_batch, "sequences per iteration (the search's)")
                             ->check(CLI::Range(1, 1 << 24));
    CLI::Option* plan = sub->add_option("--plan", opts->plan, "plan JSON to estimate instead of the search's best");
    batch->excludes(plan);
    sub->add_option("--price-per-gpu-hour", opts->price, "US dollars per GPU-hour")->check(CLI::Range(0.0, 1e6));
    sub->add_option("--power-per-device", opts->power,
                    "power one device draws, e.g. \"700 W\" (default: the device file's TDP where it gives one)");
    sub->add_flag("--no-baselines", opts->no_baselines, "skip the smallest-group and data-parallel baselines");
    add_candidate_options(*sub, opts->candidates);
    add_format_option(*sub, opts->format);
    sub->add_option("--out", opts->out, "write the estimate to this file instead of standard output");
    return {sub, [opts] {
        const model::ModelSpec model = model::load_model(opts->model);
        const hardware::ClusterSpec cluster = hardware::load_cluster(opts->cluster, opts->nodes);
        planning::EstimateOptions o;
        o.tokens = opts->tokens;
        if (opts->plan.empty() && opts->global_batch == 0) {
            throw InputError("command line", "--global-batch", "give the global batch to search at, or a --plan");
        }
        if (!opts->plan.empty()) o.plan = plan::load_plan(opts->plan);
        o.search = search_options(opts->global_batch, opts->candidates);
        o.rates.usd_per_gpu_hour = opts->price;
        if (!opts->power.empty()) {
            try {
                o.rates.watts_per_device = hardware::parse_watts(opts->power);
            } catch (const std::invalid_argument& e) {
                throw InputError("command line", "--power-per-device", e.what());
            }
            o.rates.power_origin = "--power-per-device";
        } else if (cluster.device.tdp_watts) {
            o.rates.watts_per_device = cluster.device.tdp_watts;
            o.rates.power_origin = "TDP of " + cluster.device.name;
        }
        o.baselines = !opts->no_baselines;
        const planning::Estimate e = planning::estimate(model, cluster, o);
        write_outputs({{opts->out, report::render(e, model, cluster, o.rates, parse_format(opts->format))}});
    }};
}

}  // namespace splitsim::cli
