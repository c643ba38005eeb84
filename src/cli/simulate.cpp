#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/report/simulation.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/report/html.hpp"
#include "splitsim/report/trace.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::cli {
namespace {

struct SimulateOptions {
    std::string model;
    std::string cluster;
    std::string plan;
    std::optional<int> nodes;
    std::string format = "table";
    std::string out = "-";
    std::string tier = "event";
    std::string trace;
    std::string report;
    bool per_rank = false;
};

}  // namespace

Subcommand add_simulate(CLI::App& app) {
    auto opts = std::make_shared<SimulateOptions>();
    CLI::App* sub = app.add_subcommand("simulate", "Predict one plan's iteration time, memory and communication");
    sub->add_option("--model", opts->model, "model JSON (models/*.json), or hf:PATH for a Hugging Face config.json")->required();
    sub->add_option("--cluster", opts->cluster, "cluster JSON (topologies/*.json)")->required();
    sub->add_option("--plan", opts->plan, "plan JSON (plans/*.json)")->required();
    add_nodes_option(*sub, opts->nodes);
    add_format_option(*sub, opts->format);
    sub->footer(kTermsHelp);
    sub->add_option("--out", opts->out, "write the report to this file instead of standard output");
    sub->add_option("--tier", opts->tier, "event (default: the iteration played out as events) | analytical (closed forms)")
        ->check(CLI::IsMember({"event", "analytical"}));
    sub->add_option("--trace", opts->trace, "write the event tier's timeline as a Chrome trace (Perfetto) JSON file");
    sub->add_option("--report", opts->report, "write a self-contained HTML report with charts");
    sub->add_flag("--per-rank", opts->per_rank,
                  "event tier: simulate every data-parallel replica on its own (for placements where replicas differ)");
    return {sub, [opts] {
        model::ModelSpec model = model::load_model(opts->model);
        hardware::ClusterSpec cluster = hardware::load_cluster(opts->cluster, opts->nodes);
        plan::Plan plan = plan::load_plan(opts->plan);
        plan::validate(plan, model, cluster);
        const sim::Scenario scenario(std::move(model), std::move(cluster), std::move(plan));
        if (opts->tier == "analytical" && !opts->trace.empty()) {
            throw InputError("command line", "--trace", "a timeline needs the event tier");
        }
        if (opts->tier == "analytical" && opts->per_rank) {
            throw InputError("command line", "--per-rank", "per-rank simulation is the event tier's");
        }
        sim::EventRun run;
        const sim::Prediction prediction =
            opts->tier == "analytical" ? sim::predict_analytical(scenario) : sim::predict_events(scenario, &run, opts->per_rank);
        std::vector<std::pair<std::string, std::string>> outputs;
        if (!opts->trace.empty()) outputs.emplace_back(opts->trace, report::chrome_trace(scenario, run));
        if (!opts->report.empty()) {
            const std::string name = scenario.plan().name.empty() ? opts->plan : scenario.plan().name;
            const report::ReportPlan entry{name, &scenario, prediction, opts->tier == "event" ? &run : nullptr};
            outputs.emplace_back(opts->report, report::html_report("splitsim simulate", {entry}));
        }
        outputs.emplace_back(opts->out, report::render(scenario, prediction, parse_format(opts->format)));
        write_outputs(outputs);
    }};
}

}  // namespace splitsim::cli
