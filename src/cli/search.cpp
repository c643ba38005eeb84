// splitsim search: every valid split of a model over a cluster, ranked.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/report/html.hpp"
#include "splitsim/report/search.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/search/search.hpp"

namespace splitsim::cli {
namespace {

struct SearchOptions {
    std::string model;
    std::string cluster;
    int global_batch = 0;
    std::string gpus;
    std::optional<int> nodes;
    int top = 10;
    bool all = false;
    std::string max_memory;
    std::string objective = "time";
    CandidateOptions candidates;
    std::string format = "table";
    std::string out = "-";
    std::string best_plan;
    std::string report;
};

std::vector<int> parse_gpus(const std::string& text) {
    std::vector<int> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            std::size_t used = 0;
            const int n = std::stoi(item, &used);
            if (used != item.size() || n < 1) throw std::invalid_argument("");
            out.push_back(n);
        } catch (const std::exception&) {
            throw InputError("command line", "--gpus", "\"" + text + "\" is not a GPU count or a comma-separated list of them");
        }
    }
    return out;
}

}  // namespace

Precision parse_precision(const std::string& s) {
    for (Precision p : kAllPrecisions) {
        if (to_string(p) == s) return p;
    }
    throw InputError("command line", "--precision", "\"" + s + "\" is not one of fp32 | tf32 | bf16 | fp16 | fp8");
}

void add_candidate_options(CLI::App& app, CandidateOptions& o) {
    app.add_option("--framework", o.framework,
                   "only plans this framework runs, each naming it: megatron-lm | megatron-core | deepspeed | torchtitan")
        ->check(CLI::IsMember({"megatron-lm", "megatron-core", "deepspeed", "torchtitan"}));
    app.add_option("--precision", o.precision, "number format of every candidate (default bf16)");
    app.add_option("--rerank", o.rerank, "best candidates of each search re-simulated by the event tier")->check(CLI::Range(0, 1 << 24));
    app.add_option("--threads", o.threads, "worker threads (default: all cores)")->check(CLI::Range(0, 1024));
}

search::Options search_options(int global_batch, const CandidateOptions& c) {
    search::Options o;
    o.global_batch = global_batch;
    o.precision = parse_precision(c.precision);
    if (!c.framework.empty()) o.framework = plan::framework_from_string(c.framework);
    o.rerank = c.rerank;
    o.threads = c.threads > 0 ? c.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return o;
}

Subcommand add_search(CLI::App& app) {
    auto opts = std::make_shared<SearchOptions>();
    CLI::App* sub = app.add_subcommand("search", "Find the best split: enumerate, rank analytically, re-rank the best by events");
    sub->add_option("--model", opts->model, "model JSON, or hf:PATH for a Hugging Face config.json")->required();
    sub->add_option("--cluster", opts->cluster, "cluster JSON")->required();
    // Every divisor of the batch is a micro-batch candidate; 2^24 sequences is far beyond any
    // published global batch and keeps the enumeration finite.
    sub->add_option("--global-batch", opts->global_batch, "sequences per iteration")->required()->check(CLI::Range(1, 1 << 24));
    sub->add_option("--gpus", opts->gpus, "GPU count, or a comma-separated list to compare (default: the cluster's)");
    add_nodes_option(*sub, opts->nodes);
    sub->add_option("--top", opts->top, "plans to list, in every format (default 10)")->check(CLI::Range(0, 1 << 24));
    sub->add_flag("--all", opts->all, "list every plan that fits (JSON and CSV of a large search take hundreds of MB)");
    add_candidate_options(*sub, opts->candidates);
    sub->add_option("--max-memory", opts->max_memory, "memory per GPU a plan may use (default: the device's), e.g. \"70 GiB\"");
    sub->add_option("--objective", opts->objective, "time (iteration time) | cost (GPU-seconds per token)")
        ->check(CLI::IsMember({"time", "cost"}));
    add_format_option(*sub, opts->format);
    sub->add_option("--out", opts->out, "write the ranking to this file instead of standard output");
    sub->add_option("--best-plan", opts->best_plan, "write the best plan as a plan JSON that simulate accepts");
    sub->add_option("--report", opts->report, "write a self-contained HTML report: the best plans' breakdowns, the timeline of the best, the Pareto scatter");
    return {sub, [opts] {
        const model::ModelSpec model = model::load_model(opts->model);
        const hardware::ClusterSpec cluster = hardware::load_cluster(opts->cluster, opts->nodes);
        search::Options o = search_options(opts->global_batch, opts->candidates);
        if (!opts->gpus.empty()) o.gpus = parse_gpus(opts->gpus);
        if (!opts->max_memory.empty()) {
            try {
                o.max_memory = parse_bytes(opts->max_memory);
            } catch (const std::invalid_argument& e) {
                throw InputError("command line", "--max-memory", e.what());
            }
            if (o.max_memory->value() <= 0 || o.max_memory->value() > 1e18) {
                throw InputError("command line", "--max-memory", "\"" + opts->max_memory + "\" is not between 1 B and 1e18 B");
            }
        }
        o.objective = opts->objective == "cost" ? search::Objective::cost : search::Objective::time;
        if (isatty(STDERR_FILENO)) {
            o.progress = [](std::size_t done, std::size_t all) {
                std::fprintf(stderr, "\rsplitsim search: %zu / %zu candidates", done, all);
                if (done == all) std::fprintf(stderr, "\n");
            };
        }
        const search::Result result = search::run(model, cluster, o);
        const std::string runs = o.framework ? " that " + std::string(plan::display_name(*o.framework)) + " runs" : "";
        if (result.enumerated == 0) {
            // A model the framework cannot express refuses every split: its key is named.
            if (o.framework) {
                plan::Plan probe;
                probe.dp = 1;
                plan::adopt(probe, *o.framework);
                plan::require_runs_on(probe, model, *o.framework);
            }
            throw InputError("command line", o.framework ? "--framework" : "--global-batch",
                             "no split of " + model.name + runs + " at global batch " + std::to_string(o.global_batch) +
                                 " fits the GPU counts asked for");
        }
        if (result.ranked.empty()) {
            throw InputError("command line", "--max-memory",
                             "none of the " + std::to_string(result.enumerated) + " candidates" + runs + " fits in " +
                                 format_bytes(result.capacity) + " per GPU" + (o.max_memory ? "" : " (the device's memory)") +
                                 "; the least any needs is " + format_bytes(result.least_memory));
        }
        // Everything is rendered before anything is written.
        const std::size_t listed = opts->all ? result.ranked.size() : static_cast<std::size_t>(opts->top);
        std::string best_text;
        if (!opts->best_plan.empty()) {
            nlohmann::json best = plan::to_json(result.ranked.front().plan);
            best["name"] = "best plan of splitsim search for " + model.name + " on " + cluster.name;
            best_text = best.dump(2) + "\n";
        }
        std::vector<std::pair<std::string, std::string>> outputs;
        if (!best_text.empty()) outputs.emplace_back(opts->best_plan, best_text);
        outputs.emplace_back(opts->out, report::render(result, model, cluster, parse_format(opts->format), listed, o.objective));
        if (!opts->report.empty()) {
            // The best plans (up to ten), each by the tier that ranked it (the event tier for those it
            // re-simulated, the best one with its timeline), so the report's times are the ranking's.
            const auto shared_model = std::make_shared<const model::ModelSpec>(model);
            std::map<int, std::shared_ptr<const hardware::Topology>> topologies;
            std::vector<std::unique_ptr<sim::Scenario>> scenarios;
            std::vector<report::ReportPlan> entries;
            sim::EventRun best_run;
            for (std::size_t i = 0; i < std::min<std::size_t>(result.ranked.size(), 10); ++i) {
                const plan::Plan& p = result.ranked[i].plan;
                auto& topology = topologies[p.gpus()];
                if (!topology) {
                    hardware::ClusterSpec c = cluster;
                    if (!c.torus && !c.graph) c.nodes = p.gpus() / c.gpus_per_node;
                    topology = std::make_shared<const hardware::Topology>(std::move(c));
                }
                scenarios.push_back(std::make_unique<sim::Scenario>(shared_model, topology, p));
                const sim::Scenario& sc = *scenarios.back();
                const bool events = result.ranked[i].tier() == sim::Tier::event;
                sim::EventRun* run = i == 0 && events ? &best_run : nullptr;
                entries.push_back({"#" + std::to_string(i + 1), &sc,
                                   events ? sim::predict_events(sc, run) : sim::predict_analytical(sc), run});
            }
            outputs.emplace_back(opts->report, report::html_report("splitsim search", entries, &result));
        }
        write_outputs(outputs);
    }};
}

}  // namespace splitsim::cli
