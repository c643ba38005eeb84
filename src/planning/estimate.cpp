#include "splitsim/planning/estimate.hpp"

#include <cmath>
#include <map>

#include "splitsim/common/error.hpp"
#include "splitsim/common/units.hpp"

namespace splitsim::planning {
namespace {

constexpr double kSecondsPerHour = 3600.0;

Baseline compare(BaselineKind kind, std::optional<RunTotals> base, const RunTotals& best) {
    Baseline b{kind, std::move(base), 0, 0};
    if (b.totals) {
        b.speedup = b.totals->wall.value() / best.wall.value();
        b.scaling_efficiency = b.speedup * b.totals->run.gpus() / best.run.gpus();
    }
    return b;
}

}  // namespace

std::string_view to_string(BaselineKind kind) {
    return kind == BaselineKind::smallest_group ? "smallest_group" : "data_parallel";
}

RunTotals totals(const Evaluated& run, const model::ModelSpec& model, double tokens, const Rates& rates) {
    RunTotals t{run, 0, {}, 0, std::nullopt, std::nullopt};
    const double tokens_per_iteration = static_cast<double>(run.plan.global_batch) * model.seq_len;
    t.iterations = std::ceil(tokens / tokens_per_iteration);
    t.wall = run.iteration_time() * t.iterations;
    t.gpu_hours = t.wall.value() * run.gpus() / kSecondsPerHour;
    if (rates.usd_per_gpu_hour) t.usd = t.gpu_hours * *rates.usd_per_gpu_hour;
    if (rates.watts_per_device) t.kwh = t.gpu_hours * *rates.watts_per_device / 1000.0;
    return t;
}

Estimate estimate(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const EstimateOptions& o) {
    if (!(o.tokens >= 1 && o.tokens <= 1e18)) throw InputError("command line", "--tokens", "must be between 1 and 1e18 tokens");
    Estimate e;
    e.tokens = o.tokens;
    search::Options s = o.search;
    std::optional<Evaluated> best;
    if (o.plan) {
        best = evaluate(model, cluster, *o.plan);
        s.global_batch = best->plan.global_batch;
        s.precision = best->plan.precision;
    } else {
        best = best_plan(model, cluster, cluster.device_count(), s);
        if (!best) {
            throw InputError("command line", "--global-batch",
                             "no split of " + model.name + " at global batch " + std::to_string(s.global_batch) + " fits " +
                                 std::to_string(cluster.device_count()) + " GPUs of " + format_bytes(cluster.device.memory));
        }
    }
    e.best = totals(*best, model, o.tokens, o.rates);
    if (!o.baselines) return e;

    // The smallest group: the fewest GPUs any plan fits on. Doubling from one GPU finds the first
    // power of two that fits, then bisection over the counts between it and the one below (a
    // search on a count where nothing fits is cheap: it ends after the analytical tier). It takes
    // a model that fits on some GPUs to fit on more, up to the batch dividing evenly.
    const std::vector<int> counts = gpu_counts(cluster, best->gpus());
    std::map<std::size_t, std::optional<Evaluated>> tried;
    const auto fits = [&](std::size_t i) -> const std::optional<Evaluated>& {
        auto it = tried.find(i);
        if (it == tried.end()) it = tried.emplace(i, best_plan(model, cluster, counts[i], s)).first;
        return it->second;
    };
    std::optional<RunTotals> smallest;
    std::ptrdiff_t below = -1;  // the largest index known not to fit
    std::size_t at = 0;
    while (at + 1 < counts.size() && !fits(at)) {
        below = static_cast<std::ptrdiff_t>(at);
        const int next = counts[at] * 2;
        while (at + 1 < counts.size() && counts[at] < next) ++at;
    }
    if (fits(at)) {
        while (static_cast<std::ptrdiff_t>(at) - below > 1) {
            const std::size_t mid = static_cast<std::size_t>((below + static_cast<std::ptrdiff_t>(at)) / 2);
            if (fits(mid)) {
                at = mid;
            } else {
                below = static_cast<std::ptrdiff_t>(mid);
            }
        }
        smallest = totals(*fits(at), model, o.tokens, o.rates);
    }
    e.baselines.push_back(compare(BaselineKind::smallest_group, smallest, e.best));

    // Pure data parallelism on the best plan's GPUs.
    search::Options dp_only = s;
    dp_only.admit = [](const plan::Plan& p) { return p.tp == 1 && p.pp == 1 && p.cp == 1 && p.ep == 1; };
    std::optional<RunTotals> data_parallel;
    if (std::optional<Evaluated> r = best_plan(model, cluster, best->gpus(), dp_only)) {
        data_parallel = totals(*r, model, o.tokens, o.rates);
    }
    e.baselines.push_back(compare(BaselineKind::data_parallel, data_parallel, e.best));
    return e;
}

}  // namespace splitsim::planning
