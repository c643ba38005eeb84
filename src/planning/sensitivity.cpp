#include "splitsim/planning/sensitivity.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"

namespace splitsim::planning {
namespace {

// The same split, data parallelism and global batch aside (they follow the GPU count and batch).
bool same_split(const plan::Plan& a, const plan::Plan& b) {
    nlohmann::json x = plan::to_json(a), y = plan::to_json(b);
    for (const char* key : {"dp", "global_batch"}) {
        x.erase(key);
        y.erase(key);
    }
    return x == y;
}

// The base plan carried over to a varied workload: its degrees kept, data parallelism following
// the GPU count and the batch following the workload; nothing where that is no valid plan or it
// no longer fits.
std::optional<Evaluated> carry_over(const plan::Plan& base, const Workload& w) {
    plan::Plan p = base;
    const int model_parallel = p.tp * p.pp * p.cp;
    if (w.gpus % model_parallel != 0) return std::nullopt;
    p.dp = w.gpus / model_parallel;
    p.global_batch = w.global_batch;
    if (p.global_batch % (p.dp * p.micro_batch) != 0) return std::nullopt;
    try {
        Evaluated e = evaluate(w.model, with_gpus(w.cluster, w.gpus), p);
        if (!e.prediction.memory.fits()) return std::nullopt;
        return e;
    } catch (const InputError&) {
        return std::nullopt;
    }
}

std::optional<Evaluated> best_for(const Workload& w, search::Options options) {
    options.global_batch = w.global_batch;
    return best_plan(w.model, w.cluster, w.gpus, options);
}

// The knob's value at a point, relative to the base (the factor), and the quantity of interest.
template <class Value>
std::optional<double> local_elasticity(const std::vector<SensitivityPoint>& points, Value value) {
    const SensitivityPoint* below = nullptr;
    const SensitivityPoint* above = nullptr;
    const SensitivityPoint* one = nullptr;
    for (const SensitivityPoint& p : points) {
        if (!value(p)) continue;
        if (p.factor < 1) below = &p;  // ascending: the last one below 1 is the nearest
        if (p.factor == 1) one = &p;
        if (p.factor > 1 && !above) above = &p;
    }
    const SensitivityPoint* lo = below ? below : one;
    const SensitivityPoint* hi = above ? above : one;
    if (!lo || !hi || lo == hi) return std::nullopt;
    return elasticity(lo->factor, *value(*lo), hi->factor, *value(*hi));
}

}  // namespace

double elasticity(double x0, double y0, double x1, double y1) { return std::log(y1 / y0) / std::log(x1 / x0); }

Sensitivity sensitivity(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const SensitivityOptions& o) {
    Sensitivity s;
    s.base = Workload{model, cluster, o.gpus > 0 ? o.gpus : cluster.device_count(), o.search.global_batch};
    std::vector<double> factors = o.factors;
    for (double f : factors) (void)vary(s.base, Knob::flops, f);  // range check before any search
    factors.push_back(1.0);
    std::sort(factors.begin(), factors.end());
    factors.erase(std::unique(factors.begin(), factors.end()), factors.end());
    const std::vector<Knob> knobs = o.knobs.empty() ? std::vector<Knob>(kAllKnobs.begin(), kAllKnobs.end()) : o.knobs;
    // Every varied workload is built first, so a factor that gives no whole GPU count, batch or
    // sequence length is refused before the first search.
    std::vector<std::vector<Workload>> varied;
    for (Knob k : knobs) {
        varied.emplace_back();
        for (double f : factors) varied.back().push_back(vary(s.base, k, f));
    }

    std::optional<Evaluated> base = best_for(s.base, o.search);
    if (!base) {
        throw InputError("command line", "--global-batch",
                         "no split of " + model.name + " at global batch " + std::to_string(s.base.global_batch) + " fits " +
                             std::to_string(s.base.gpus) + " GPUs");
    }
    s.best = *base;
    for (std::size_t i = 0; i < knobs.size(); ++i) {
        KnobSensitivity k;
        k.knob = knobs[i];
        k.applies = !is_hardware(k.knob) || applies(with_gpus(cluster, s.base.gpus), k.knob);
        for (std::size_t j = 0; j < factors.size(); ++j) {
            SensitivityPoint p;
            p.factor = factors[j];
            if (factors[j] == 1.0) {
                p.best = s.best;
                p.base_plan = s.best;
            } else if (k.applies) {
                p.best = best_for(varied[i][j], o.search);
                p.base_plan = carry_over(s.best.plan, varied[i][j]);
                p.plan_changed = !p.best || !same_split(p.best->plan, s.best.plan);
            }
            k.plan_changes = k.plan_changes || p.plan_changed;
            k.points.push_back(std::move(p));
        }
        if (k.applies) {
            const auto time_of = [](const std::optional<Evaluated>& e) -> std::optional<double> {
                if (!e) return std::nullopt;
                return e->iteration_time().value();
            };
            k.elasticity = local_elasticity(k.points, [&](const SensitivityPoint& p) { return time_of(p.best); });
            k.base_plan_elasticity = local_elasticity(k.points, [&](const SensitivityPoint& p) { return time_of(p.base_plan); });
            k.throughput_elasticity = local_elasticity(k.points, [](const SensitivityPoint& p) -> std::optional<double> {
                if (!p.best) return std::nullopt;
                return p.best->prediction.tokens_per_s;
            });
        }
        s.knobs.push_back(std::move(k));
    }

    for (int g : o.scaling_gpus) {
        Workload strong = s.base;  // best_plan() grows or shrinks the cluster to g GPUs
        strong.gpus = g;
        s.strong.push_back({g, strong.global_batch, best_for(strong, o.search)});
        const double batch = static_cast<double>(s.base.global_batch) * g / s.base.gpus;
        Workload weak = strong;
        if (batch >= 1 && batch == std::floor(batch)) {
            weak.global_batch = static_cast<int>(batch);
            s.weak.push_back({g, weak.global_batch, best_for(weak, o.search)});
        } else {
            s.weak.push_back({g, 0, std::nullopt});
        }
    }
    return s;
}

}  // namespace splitsim::planning
