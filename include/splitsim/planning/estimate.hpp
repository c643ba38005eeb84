// splitsim estimate: what a whole training run takes. The best plan (a search, or a given plan)
// times the iterations that the tokens to train need: wall-clock time, GPU-hours, cost and energy,
// against two baselines, the smallest group of GPUs the model fits in and pure data parallelism.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "splitsim/planning/best_plan.hpp"

namespace splitsim::planning {

// What a GPU-hour costs and what one device draws; each optional.
struct Rates {
    std::optional<double> usd_per_gpu_hour;
    std::optional<double> watts_per_device;
    std::string power_origin;  // where the power figure came from ("--power-per-device", "device TDP")
};

struct RunTotals {
    Evaluated run;
    double iterations = 0;        // whole iterations to see the tokens: ceil(tokens / (global batch x seq_len))
    Seconds wall;                 // iterations x iteration time
    double gpu_hours = 0;         // wall x GPUs
    std::optional<double> usd;    // gpu_hours x price
    std::optional<double> kwh;    // wall x GPUs x power
};

enum class BaselineKind {
    smallest_group,  // the fewest GPUs (of gpu_counts(); doubling, then bisection) on which any plan fits
    data_parallel,   // every GPU a data-parallel replica: tp = pp = cp = ep = 1, any ZeRO stage
};
std::string_view to_string(BaselineKind kind);

struct Baseline {
    BaselineKind kind = BaselineKind::smallest_group;
    std::optional<RunTotals> totals;  // nothing where no plan of the kind fits
    // Baseline wall time over the best plan's, and that over the ratio of GPUs (best / baseline).
    double speedup = 0;
    double scaling_efficiency = 0;
};

struct Estimate {
    double tokens = 0;
    RunTotals best;
    std::vector<Baseline> baselines;
};

struct EstimateOptions {
    double tokens = 0;
    search::Options search;          // global batch, precision, framework, threads (gpus: the cluster's)
    std::optional<plan::Plan> plan;  // a given plan instead of the search's best
    Rates rates;
    bool baselines = true;
};

RunTotals totals(const Evaluated& run, const model::ModelSpec& model, double tokens, const Rates& rates);

// Throws InputError where no plan fits the cluster (naming --global-batch), for a plan that does
// not validate, and for token counts that are not positive.
Estimate estimate(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const EstimateOptions& options);

}  // namespace splitsim::planning
