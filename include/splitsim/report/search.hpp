// Results of `splitsim search` as a table, JSON, CSV or Markdown.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/report/simulation.hpp"
#include "splitsim/search/search.hpp"

namespace splitsim::report {

std::string plan_summary(const plan::Plan& plan);

// The search as JSON: model, cluster, objective, enumerated, fit, simulated, listed, candidates[]
// (the best `listed`, best first, each with its rank, tier, plan and metrics), pareto_ranks, and run
// {threads, analytical_seconds, candidates_per_second, event_seconds}, the only member that differs
// between runs of the same inputs. CSV carries no run-dependent field.
nlohmann::json to_json(const search::Result& result, const model::ModelSpec& model, const hardware::ClusterSpec& cluster,
                       std::size_t listed, search::Objective objective);
// Every format lists the best `listed` candidates.
std::string render(const search::Result& result, const model::ModelSpec& model, const hardware::ClusterSpec& cluster,
                   Format format, std::size_t listed, search::Objective objective);

}  // namespace splitsim::report
