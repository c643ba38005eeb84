#include "splitsim/planning/requirements.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "splitsim/common/error.hpp"

namespace splitsim::planning {
namespace {

constexpr double kSecondsPerDay = 86400.0;
// Bisection steps over log(bandwidth) from kMinFactor to kMaxFactor: 9.2 / 2^14 = 0.06% apart.
constexpr int kBandwidthSteps = 14;
// Plans tried, least memory first, for the least-memory answer.
constexpr std::size_t kMemoryTries = 32;

std::string text(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

BandwidthNeed bandwidth_need(const Workload& w, const plan::Plan& plan, Knob knob, double share) {
    BandwidthNeed need;
    need.knob = knob;
    need.applies = applies(w.cluster, knob);
    if (!need.applies) return need;
    need.current = knob == Knob::nic_bandwidth ? w.cluster.network->nic_bandwidth
                                               : (w.cluster.torus ? w.cluster.torus->link_bandwidth : w.cluster.node.gpu_bandwidth);
    const auto share_at = [&](double factor) {
        const Workload v = vary(w, knob, factor);
        return evaluate(v.model, v.cluster, plan).exposed_comm_share();
    };
    need.share_at_current = share_at(1.0);
    // Exposed communication shrinks as bandwidth grows: bisect for the crossing.
    if (share_at(kMaxFactor) > share) {
        need.above_range = true;
        return need;
    }
    if (share_at(kMinFactor) <= share) return need;
    double lo = std::log(kMinFactor), hi = std::log(kMaxFactor);  // share(lo) > share >= share(hi)
    for (int i = 0; i < kBandwidthSteps; ++i) {
        const double mid = (lo + hi) / 2;
        (share_at(std::exp(mid)) > share ? lo : hi) = mid;
    }
    need.threshold = need.current * std::exp(hi);
    return need;
}

}  // namespace

Seconds target_time(const Target& t, int global_batch, int seq_len) {
    const double tokens_per_iteration = static_cast<double>(global_batch) * seq_len;
    switch (t.kind) {
        case TargetKind::iteration_time: return Seconds(t.value);
        case TargetKind::tokens_per_s: return Seconds(tokens_per_iteration / t.value);
        case TargetKind::days: return Seconds(t.value * kSecondsPerDay * tokens_per_iteration / t.tokens);
    }
    return Seconds(t.value);
}

std::string describe(const Target& t) {
    switch (t.kind) {
        case TargetKind::iteration_time: return text(t.value) + " s per iteration";
        case TargetKind::tokens_per_s: return text(t.value) + " tokens/s";
        case TargetKind::days: return text(t.tokens) + " tokens in " + text(t.value) + " days";
    }
    return "";
}

Requirements requirements(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, const RequirementsOptions& o) {
    if (!(o.target.value > 0 && o.target.value < 1e18)) {
        throw InputError("command line", "--target", "the target must be positive");
    }
    if (o.target.kind == TargetKind::days && !(o.target.tokens >= 1 && o.target.tokens <= 1e18)) {
        throw InputError("command line", "--tokens", "must be between 1 and 1e18 tokens");
    }
    if (!(o.comm_share > 0 && o.comm_share < 1)) {
        throw InputError("command line", "--comm-share", text(o.comm_share) + " is not between 0 and 1 (exclusive)");
    }
    Requirements r;
    r.target = o.target;
    r.target_time = target_time(o.target, o.search.global_batch, model.seq_len);
    r.max_gpus = o.max_gpus > 0 ? o.max_gpus : cluster.device_count();
    const std::vector<int> counts = gpu_counts(cluster, r.max_gpus);
    if (counts.empty()) throw InputError("command line", "--max-gpus", "no GPU count the cluster can build is at most " + std::to_string(r.max_gpus));

    std::map<std::size_t, std::optional<Evaluated>> searched;
    const auto best_on = [&](std::size_t i) -> const std::optional<Evaluated>& {
        auto it = searched.find(i);
        if (it == searched.end()) {
            it = searched.emplace(i, best_plan(model, cluster, counts[i], o.search)).first;
            const std::optional<Evaluated>& e = it->second;
            r.probes.emplace_back(counts[i], e ? std::optional<Seconds>(e->iteration_time()) : std::nullopt);
        }
        return it->second;
    };
    const auto reaches = [&](std::size_t i) {
        const std::optional<Evaluated>& e = best_on(i);
        return e && e->iteration_time() <= r.target_time;
    };

    // The best time falls as GPUs are added (more ways to split, less work each), so the fewest
    // that reach the target are found by bisection: the largest count first.
    std::size_t hi = counts.size() - 1;
    if (!reaches(hi)) {
        r.best = best_on(hi);
        return r;
    }
    r.reachable = true;
    std::ptrdiff_t lo = -1;  // counts[lo] does not reach (or is below the first)
    while (static_cast<std::ptrdiff_t>(hi) - lo > 1) {
        const std::size_t mid = static_cast<std::size_t>((lo + static_cast<std::ptrdiff_t>(hi)) / 2);
        if (reaches(mid)) {
            hi = mid;
        } else {
            lo = static_cast<std::ptrdiff_t>(mid);
        }
    }
    r.best = best_on(hi);
    const int gpus = counts[hi];

    // The least memory: every candidate on these GPUs whatever its memory, the least first; the
    // first that still reaches the target once predicted again.
    search::Options unbounded = o.search;
    unbounded.gpus = {gpus};
    unbounded.max_memory = Bytes(1e18);
    unbounded.progress = nullptr;
    const hardware::ClusterSpec c = with_gpus(cluster, gpus);
    search::Result all = search::run(model, c, unbounded);
    std::vector<const search::Candidate*> reaching;
    for (const search::Candidate& cand : all.ranked) {
        if (cand.time() <= r.target_time) reaching.push_back(&cand);
    }
    std::stable_sort(reaching.begin(), reaching.end(),
                     [](const search::Candidate* a, const search::Candidate* b) { return a->peak_memory < b->peak_memory; });
    for (std::size_t i = 0; i < std::min(reaching.size(), kMemoryTries); ++i) {
        Evaluated e = evaluate(model, c, reaching[i]->plan);
        if (e.iteration_time() > r.target_time) continue;
        if (!r.least_memory || e.prediction.memory.required() < r.least_memory->prediction.memory.required()) r.least_memory = e;
    }

    const Workload w{model, c, gpus, o.search.global_batch};
    for (Knob k : {Knob::nvlink_bandwidth, Knob::nic_bandwidth}) r.bandwidth.push_back(bandwidth_need(w, r.best->plan, k, o.comm_share));
    return r;
}

}  // namespace splitsim::planning
