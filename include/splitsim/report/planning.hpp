// The planning commands' results (estimate, sensitivity, requirements) as a table, JSON, CSV or
// Markdown.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/planning/estimate.hpp"
#include "splitsim/planning/requirements.hpp"
#include "splitsim/planning/sensitivity.hpp"
#include "splitsim/report/simulation.hpp"

namespace splitsim::report {

// JSON: model, cluster, tokens, rates, best {plan, gpus, tier, iteration_time_s, tokens_per_s, mfu,
// peak_memory_bytes, iterations, wall_s, days, gpu_hours, usd?, kwh?}, baselines[] (kind, fits,
// and where it fits the same members plus speedup and scaling_efficiency).
nlohmann::json to_json(const planning::Estimate& estimate, const model::ModelSpec& model, const hardware::ClusterSpec& cluster,
                       const planning::Rates& rates);
std::string render(const planning::Estimate& estimate, const model::ModelSpec& model, const hardware::ClusterSpec& cluster,
                   const planning::Rates& rates, Format format);

// JSON: model, cluster, gpus, global_batch, best {plan, iteration_time_s, ...}, knobs[] (knob,
// applies, elasticity, base_plan_elasticity, throughput_elasticity, plan_changes, points[] (factor,
// fits, iteration_time_s, tokens_per_s, plan, plan_changed, base_plan_time_s)), strong[] and weak[]
// (gpus, global_batch, fits, iteration_time_s, tokens_per_s, plan).
nlohmann::json to_json(const planning::Sensitivity& sensitivity);
std::string render(const planning::Sensitivity& sensitivity, Format format);

// JSON: model, cluster, target {kind, value, tokens?, iteration_time_s}, reachable, max_gpus,
// probes[] (gpus, iteration_time_s or null), fewest_gpus and best (reachable) or closest
// (unreachable), least_memory {required_bytes, plan, iteration_time_s}, comm_share, bandwidth[]
// (resource, current_bytes_per_s, share_at_current, threshold_bytes_per_s or null, above_range).
nlohmann::json to_json(const planning::Requirements& requirements, const model::ModelSpec& model,
                       const hardware::ClusterSpec& cluster, double comm_share);
std::string render(const planning::Requirements& requirements, const model::ModelSpec& model,
                   const hardware::ClusterSpec& cluster, double comm_share, Format format);

}  // namespace splitsim::report
