// splitsim compare: several plans side by side.
#include <memory>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/report/compare.hpp"
#include "splitsim/report/html.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"

namespace splitsim::cli {
namespace {

struct CompareOptions {
    std::string model;
    std::string cluster;
    std::string plans;
    std::optional<int> nodes;
    std::string tier = "event";
    std::string format = "table";
    std::string out = "-";
    std::string report;
};

}  // namespace

Subcommand add_compare(CLI::App& app) {
    auto opts = std::make_shared<CompareOptions>();
    CLI::App* sub = app.add_subcommand("compare", "Compare several plans side by side");
    sub->add_option("--model", opts->model, "model JSON, or hf:PATH for a Hugging Face config.json")->required();
    sub->add_option("--cluster", opts->cluster, "cluster JSON")->required();
    sub->add_option("--plans", opts->plans, "a JSON array of plans (or {\"plans\": [...]}); each may have a \"name\"")->required();
    add_nodes_option(*sub, opts->nodes);
    sub->add_option("--tier", opts->tier, "event | analytical")->check(CLI::IsMember({"event", "analytical"}));
    add_format_option(*sub, opts->format);
    sub->footer(kTermsHelp);
    sub->add_option("--out", opts->out, "write to this file instead of standard output");
    sub->add_option("--report", opts->report, "write a self-contained HTML report with charts");
    return {sub, [opts] {
        const auto model = std::make_shared<const model::ModelSpec>(model::load_model(opts->model));
        const auto topology = std::make_shared<const hardware::Topology>(hardware::load_cluster(opts->cluster, opts->nodes));
        std::vector<plan::Plan> plans = plan::load_plans(opts->plans);
        std::vector<std::unique_ptr<sim::Scenario>> scenarios;
        std::vector<report::Compared> compared;
        sim::EventRun first_run;  // the first plan's timeline, for the report
        for (std::size_t i = 0; i < plans.size(); ++i) {
            plan::validate(plans[i], *model, topology->cluster());
        }
        for (std::size_t i = 0; i < plans.size(); ++i) {
            scenarios.push_back(std::make_unique<sim::Scenario>(model, topology, plans[i]));
            const sim::Scenario& sc = *scenarios.back();
            const std::string name = plans[i].name.empty() ? "plan " + std::to_string(i + 1) : plans[i].name;
            compared.push_back({name, &sc,
                                opts->tier == "event" ? sim::predict_events(sc, i == 0 ? &first_run : nullptr)
                                                      : sim::predict_analytical(sc)});
        }
        std::vector<std::pair<std::string, std::string>> outputs;
        if (!opts->report.empty()) {
            std::vector<report::ReportPlan> entries;
            for (std::size_t i = 0; i < compared.size(); ++i) {
                entries.push_back({compared[i].name, compared[i].scenario, compared[i].prediction,
                                   i == 0 && opts->tier == "event" ? &first_run : nullptr});
            }
            outputs.emplace_back(opts->report, report::html_report("splitsim compare", entries));
        }
        outputs.emplace_back(opts->out, report::render(compared, parse_format(opts->format)));
        write_outputs(outputs);
    }};
}

}  // namespace splitsim::cli
