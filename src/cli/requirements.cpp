// splitsim requirements: the least GPUs, device memory and link bandwidth that reach a target.
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/planning/requirements.hpp"
#include "splitsim/report/planning.hpp"

namespace splitsim::cli {
namespace {

struct RequirementsOptions {
    std::string model;
    std::string cluster;
    std::optional<int> nodes;
    int global_batch = 0;
    std::optional<double> iteration_time;
    std::optional<double> tokens_per_s;
    std::optional<double> days;
    std::optional<double> tokens;
    int max_gpus = 0;
    double comm_share = 0.1;
    CandidateOptions candidates;
    std::string format = "table";
    std::string out = "-";
};

}  // namespace

Subcommand add_requirements(CLI::App& app) {
    auto opts = std::make_shared<RequirementsOptions>();
    CLI::App* sub = app.add_subcommand(
        "requirements",
        "Least GPUs, device memory and NVLink/NIC bandwidth that reach a target iteration time, tokens/s, or days for N tokens "
        "(exit 3 where no plan reaches it)");
    sub->add_option("--model", opts->model, "model JSON")->required();
    sub->add_option("--cluster", opts->cluster, "cluster JSON: the kind of node and network (grown by nodes up to --max-gpus)")->required();
    add_nodes_option(*sub, opts->nodes);
    sub->add_option("--global-batch", opts->global_batch, "sequences per iteration")->required()->check(CLI::Range(1, 1 << 24));
    CLI::Option* time = sub->add_option("--iteration-time", opts->iteration_time, "target: seconds per iteration");
    CLI::Option* rate = sub->add_option("--tokens-per-s", opts->tokens_per_s, "target: tokens per second");
    CLI::Option* days = sub->add_option("--days", opts->days, "target: days to train --tokens");
    CLI::Option* tokens = sub->add_option("--tokens", opts->tokens, "tokens to train (with --days)");
    time->excludes(rate)->excludes(days);
    rate->excludes(days);
    days->needs(tokens);
    tokens->needs(days);
    sub->add_option("--max-gpus", opts->max_gpus, "most GPUs to consider (default: the cluster's)")->check(CLI::Range(1, 1 << 24));
    sub->add_option("--comm-share", opts->comm_share,
                    "share of the iteration exposed communication may take, for the bandwidth thresholds (default 0.1)");
    add_candidate_options(*sub, opts->candidates);
    add_format_option(*sub, opts->format);
    sub->add_option("--out", opts->out, "write the result to this file instead of standard output");
    return {sub, [opts] {
        planning::RequirementsOptions o;
        if (opts->iteration_time) {
            o.target = {planning::TargetKind::iteration_time, *opts->iteration_time, 0};
        } else if (opts->tokens_per_s) {
            o.target = {planning::TargetKind::tokens_per_s, *opts->tokens_per_s, 0};
        } else if (opts->days) {
            o.target = {planning::TargetKind::days, *opts->days, *opts->tokens};
        } else {
            throw InputError("command line", "--iteration-time", "give a target: --iteration-time, --tokens-per-s, or --days with --tokens");
        }
        o.max_gpus = opts->max_gpus;
        o.comm_share = opts->comm_share;
        const model::ModelSpec model = model::load_model(opts->model);
        const hardware::ClusterSpec cluster = hardware::load_cluster(opts->cluster, opts->nodes);
        o.search = search_options(opts->global_batch, opts->candidates);
        const planning::Requirements r = planning::requirements(model, cluster, o);
        write_outputs({{opts->out, report::render(r, model, cluster, o.comm_share, parse_format(opts->format))}});
        if (!r.reachable) throw Unreachable();
    }};
}

}  // namespace splitsim::cli
