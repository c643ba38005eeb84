// The result of `splitsim simulate` as a table, JSON, CSV or Markdown.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/sim/prediction.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::report {

enum class Format { table, json, csv, markdown };

// The `simulate --format json` contract: iteration_time_s, tokens_per_s, model_tflops_per_gpu,
// mfu, hfu, bubble_fraction, memory {peak_bytes, fits, stages[]}, communication {dim: bytes}, and
// more detail besides. Both functions throw InputError (naming the plan) for a prediction whose
// byte counts exceed 2^62 or whose times are not finite, which only inputs out of all proportion
// produce.
nlohmann::json to_json(const sim::Scenario& scenario, const sim::Prediction& prediction);

std::string render(const sim::Scenario& scenario, const sim::Prediction& prediction, Format format);

}  // namespace splitsim::report
