#include "splitsim/sim/event_tier.hpp"

#include <algorithm>
#include <map>

#include "splitsim/common/error.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/iteration.hpp"

namespace splitsim::sim {
namespace {

std::size_t dim_of(Stream s) {
    switch (s) {
        case Stream::tensor: return static_cast<std::size_t>(plan::Dim::tensor);
        case Stream::pipeline: return static_cast<std::size_t>(plan::Dim::pipeline);
        case Stream::data:
        case Stream::gather: return static_cast<std::size_t>(plan::Dim::data);
        case Stream::context: return static_cast<std::size_t>(plan::Dim::context);
        case Stream::expert: return static_cast<std::size_t>(plan::Dim::expert);
        case Stream::compute: break;
    }
    return 0;
}

// One rank's iteration: compute, optimizer, communication that kept the compute stream waiting
// (by dimension), the rest (the pipeline bubble), and each dimension's busy communication time.
struct RankTime {
    Seconds compute;
    Seconds optimizer;
    PerDim<Seconds> exposed{};
    Seconds bubble;
    PerDim<Seconds> comm_busy{};
};

RankTime attribute(const TaskGraph& graph, const EngineResult& result, int rank) {
    RankTime out;
    const std::int64_t end = result.end.count();
    std::vector<std::pair<std::int64_t, std::int64_t>> busy;  // compute intervals
    for (TaskId id : graph.stream_order(rank, Stream::compute)) {
        const Timing& t = result.tasks[static_cast<std::size_t>(id)];
        const std::int64_t d = (t.end - t.start).count();
        if (d <= 0) continue;
        busy.emplace_back(t.start.count(), t.end.count());
        (graph.task(id).label.phase == Phase::optimizer ? out.optimizer : out.compute) += Seconds(static_cast<double>(d) * 1e-9);
    }
    // Communication of this rank as (start, end, dimension), sorted.
    std::vector<std::tuple<std::int64_t, std::int64_t, std::size_t>> comm;
    for (int s = 1; s < kStreams; ++s) {
        for (TaskId id : graph.stream_order(rank, static_cast<Stream>(s))) {
            const Timing& t = result.tasks[static_cast<std::size_t>(id)];
            if (t.end > t.start) {
                comm.emplace_back(t.start.count(), t.end.count(), dim_of(static_cast<Stream>(s)));
                out.comm_busy[dim_of(static_cast<Stream>(s))] += Seconds(static_cast<double>((t.end - t.start).count()) * 1e-9);
            }
        }
    }
    std::sort(comm.begin(), comm.end());
    // Idle gaps of the compute stream.
    std::vector<std::pair<std::int64_t, std::int64_t>> gaps;
    std::int64_t at = 0;
    for (const auto& [b, e] : busy) {
        if (b > at) gaps.emplace_back(at, b);
        at = std::max(at, e);
    }
    if (end > at) gaps.emplace_back(at, end);
    // One sweep over the gaps and the communication intervals in time order: each instant of a gap
    // goes to the dimensions communicating then (shared equally), or to the bubble. Marks are
    // (time, kind): kind 0 a gap ends, 1 a gap begins, d + 2 dimension d begins, -(d + 2) it ends.
    std::vector<std::pair<std::int64_t, int>> marks;
    marks.reserve(2 * (gaps.size() + comm.size()));
    for (const auto& [g0, g1] : gaps) {
        marks.emplace_back(g0, 1);
        marks.emplace_back(g1, 0);
    }
    for (const auto& [c0, c1, d] : comm) {
        marks.emplace_back(c0, static_cast<int>(d) + 2);
        marks.emplace_back(c1, -(static_cast<int>(d) + 2));
    }
    std::sort(marks.begin(), marks.end());
    PerDim<double> exposed{};
    double bubble = 0;
    PerDim<int> active{};
    bool in_gap = false;
    std::int64_t t = 0;
    for (const auto& [time, kind] : marks) {
        if (in_gap && time > t) {
            const double span = static_cast<double>(time - t) * 1e-9;
            int n = 0;
            for (int a : active) n += a > 0 ? 1 : 0;
            if (n == 0) {
                bubble += span;
            } else {
                for (std::size_t d = 0; d < active.size(); ++d) {
                    if (active[d] > 0) exposed[d] += span / n;
                }
            }
        }
        t = time;
        if (kind == 0 || kind == 1) in_gap = kind == 1;
        else if (kind > 0) ++active[static_cast<std::size_t>(kind - 2)];
        else --active[static_cast<std::size_t>(-kind - 2)];
    }
    for (std::size_t d = 0; d < exposed.size(); ++d) out.exposed[d] = Seconds(exposed[d]);
    out.bubble = Seconds(bubble);
    return out;
}

}  // namespace

std::int64_t event_work(const Scenario& sc, bool per_rank) {
    const std::int64_t replicas = per_rank ? sc.plan().dp : 1;
    return replicas * sc.plan().micro_batches() * sc.model().layers;
}

Prediction predict_events(const Scenario& sc, EventRun* keep, bool per_rank) {
    if (const std::int64_t work = event_work(sc, per_rank); work > kMaxEventWork) {
        throw InputError(sc.plan().origin, "/global_batch",
                         "the event tier simulates at most " + std::to_string(kMaxEventWork) +
                             " micro-batch layers (micro-batches x layers" + (per_rank ? " x replicas" : "") + "), this plan has " +
                             std::to_string(work) + "; use the analytical tier or larger micro-batches");
    }
    Prediction out = predict_analytical(sc);
    out.tier = Tier::event;
    EventRun local;
    EventRun& run = keep ? *keep : local;
    const std::vector<double> capacity = link_capacities(sc);
    try {
        run.graph = build_iteration(sc, per_rank);
        EngineOptions options;
        options.overlap_slowdown = sc.cluster().device.kernels.overlap_slowdown;
        run.result = sim::run(run.graph, capacity, options);
    } catch (const TimeRangeError& e) {
        throw InputError(sc.plan().origin, "",
                         std::string("the event tier cannot play this iteration out: ") + e.what() +
                             "; the model, batch or hardware figures are out of range");
    }

    const plan::Plan& p = sc.plan();
    out.iteration_time = run.result.end.seconds();
    out.events = run.result.events;
    out.tasks = run.graph.size();

    // The rank that finishes last is the critical one.
    std::vector<TimeNs> rank_end(static_cast<std::size_t>(run.graph.ranks()));
    for (std::size_t i = 0; i < run.graph.size(); ++i) {
        const int r = run.graph.task(static_cast<TaskId>(i)).rank;
        rank_end[static_cast<std::size_t>(r)] = std::max(rank_end[static_cast<std::size_t>(r)], run.result.tasks[i].end);
    }
    const int critical = static_cast<int>(std::max_element(rank_end.begin(), rank_end.end()) - rank_end.begin());
    // Every rank's time the same way: the critical rank's is the breakdown, every rank's its utilization.
    const double iteration = out.iteration_time.value();
    for (int r = 0; r < run.graph.ranks(); ++r) {
        const RankTime rt = attribute(run.graph, run.result, r);
        if (r == critical) {
            out.compute = rt.compute;
            out.optimizer = rt.optimizer;
            out.exposed_comm = rt.exposed;
            out.bubble = rt.bubble;
        }
        RankUtilization u;
        u.rank = r;
        if (iteration > 0) {
            u.compute = (rt.compute + rt.optimizer).value() / iteration;
            for (std::size_t d = 0; d < u.waiting.size(); ++d) {
                u.waiting[d] = rt.exposed[d].value() / iteration;
                u.comm_busy[d] = rt.comm_busy[d].value() / iteration;
            }
            u.bubble = rt.bubble.value() / iteration;
        }
        out.utilization.push_back(u);
    }
    // The bubble relative to the ideal: the critical stage's micro-batches without pipeline fill and
    // drain, its compute and the tensor, context, expert and pipeline communication it exposes
    // (every part of the time breakdown but the bubble, data-parallel communication and the
    // optimizer step). For uniform 1F1B stages (p - 1)/m (Narayanan et al. 2021, Sec. 2.2.1). A
    // single stage has no bubble; what is left over there is compute slowed by the communication
    // it overlaps.
    Seconds ideal = out.compute;
    for (plan::Dim d : {plan::Dim::tensor, plan::Dim::context, plan::Dim::expert, plan::Dim::pipeline}) ideal += out.exposed_comm[static_cast<std::size_t>(d)];
    out.bubble_fraction = ideal.value() > 0 && p.pp > 1 ? out.bubble / ideal : 0.0;

    const double gpus = p.gpus();
    const FlopRate peak = sc.compute().gemm_peak();
    out.tokens_per_s = static_cast<double>(p.global_batch) * sc.model().seq_len / out.iteration_time.value();
    out.model_tflops_per_gpu = out.model_flops.value() / (out.iteration_time.value() * gpus) / 1e12;
    out.mfu = out.model_flops / (out.iteration_time * gpus * peak);
    out.hfu = out.hardware_flops / (out.iteration_time * gpus * peak);

    // Link traffic and utilization, busiest first.
    for (std::size_t l = 0; l < run.result.link_bytes.size(); ++l) {
        const double b = run.result.link_bytes[l];
        if (b <= 0) continue;
        out.links.push_back({l, Bytes(b), b / (capacity[l] * out.iteration_time.value())});
    }
    std::stable_sort(out.links.begin(), out.links.end(),
                     [](const LinkLoad& a, const LinkLoad& b) { return a.utilization > b.utilization; });
    if (out.links.size() > 16) out.links.resize(16);
    return out;
}

}  // namespace splitsim::sim
