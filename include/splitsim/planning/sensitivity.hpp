// splitsim sensitivity: how the iteration time answers each knob of the workload (variation.hpp).
// For every knob and factor the best plan is searched again on the varied workload, and the base
// plan is predicted there too, so the answer separates what the hardware buys from what a new
// split buys. Elasticity is d log T / d log x, from the factors nearest 1 on either side.
#pragma once

#include <optional>
#include <vector>

#include "splitsim/planning/best_plan.hpp"
#include "splitsim/planning/variation.hpp"

namespace splitsim::planning {

struct SensitivityPoint {
    double factor = 1;
    std::optional<Evaluated> best;          // the varied workload's best plan; nothing where none fits
    std::optional<Evaluated> base_plan;     // the base plan on the varied workload, where it is still valid and fits
    bool plan_changed = false;              // the best plan differs from the base's best
};

struct KnobSensitivity {
    Knob knob = Knob::flops;
    bool applies = true;                    // false: the cluster lacks the resource (a single node has no NIC)
    std::vector<SensitivityPoint> points;   // by factor, ascending, factor 1 (the base) included
    std::optional<double> elasticity;       // of the best plan's iteration time
    std::optional<double> base_plan_elasticity;  // of the base plan's iteration time
    std::optional<double> throughput_elasticity; // of the best plan's tokens per second
    bool plan_changes = false;              // at any factor
};

struct ScalingPoint {
    int gpus = 0;
    int global_batch = 0;
    std::optional<Evaluated> best;
};

struct SensitivityOptions {
    search::Options search;          // global batch, precision, framework, threads
    int gpus = 0;                    // 0: the cluster's
    std::vector<Knob> knobs;         // empty: every knob
    std::vector<double> factors{0.5, 2.0};
    std::vector<int> scaling_gpus;   // GPU counts of the strong- and weak-scaling curves; empty: none
};

struct Sensitivity {
    Workload base;
    Evaluated best;
    std::vector<KnobSensitivity> knobs;
    // Strong scaling: the base global batch on every GPU count. Weak scaling: the global batch grown
    // with the GPU count (base batch x gpus / base gpus, where that is a whole number).
    std::vector<ScalingPoint> strong;
    std::vector<ScalingPoint> weak;
};

// d log y / d log x between two points (x, y), both positive.
double elasticity(double x0, double y0, double x1, double y1);

// Throws InputError for factors out of range or giving no whole GPU count, batch or sequence length
// (exit 2), and where no plan fits the base workload.
Sensitivity sensitivity(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const SensitivityOptions& options);

}  // namespace splitsim::planning
