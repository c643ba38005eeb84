#include "splitsim/search/search.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <thread>
#include <tuple>

#include "splitsim/common/error.hpp"
#include "splitsim/hardware/topology.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::search {
namespace {

// The divisors of n in increasing order, by trial division up to sqrt(n).
std::vector<int> divisors(int n) {
    std::vector<int> low, high;
    for (int d = 1; static_cast<std::int64_t>(d) * d <= n; ++d) {
        if (n % d != 0) continue;
        low.push_back(d);
        if (d != n / d) high.push_back(n / d);
    }
    low.insert(low.end(), high.rbegin(), high.rend());
    return low;
}

bool divides(int d, int n) { return n % d == 0; }

// Layers of the first and last stage when pp does not divide the layers: the inner stages take
// ceil(layers / pp) each and the first and last split the rest, the first the smaller half, as
// Megatron-LM's --decoder-first/last-pipeline-num-layers let one do (Llama 3 405B: 126 layers on
// 16 stages as 7 + 14 x 8 + 7). Nothing when pp divides the layers or no such split exists.
std::optional<std::pair<int, int>> uneven_split(int layers, int pp) {
    if (pp < 2 || layers % pp == 0) return std::nullopt;
    const int inner = (layers + pp - 1) / pp;
    const int rest = layers - (pp - 2) * inner;
    if (rest < 2 || rest > 2 * inner) return std::nullopt;
    return std::make_pair(rest / 2, rest - rest / 2);
}

// Runs work(t) for t = 0 .. threads - 1, t = 0 on this thread. An exception on any thread is
// rethrown here once all have ended, rather than ending the process.
template <class Work>
void run_on_threads(int threads, const Work& work) {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
    auto guarded = [&](int t) {
        try {
            work(t);
        } catch (...) {
            errors[static_cast<std::size_t>(t)] = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(guarded, t);
    guarded(0);
    for (auto& th : pool) th.join();
    for (const std::exception_ptr& e : errors) {
        if (e) std::rethrow_exception(e);
    }
}

double objective_value(const Candidate& c, Objective o, int seq_len) {
    if (o == Objective::time) return c.time().value();
    const double tokens = static_cast<double>(c.plan.global_batch) * seq_len;
    return c.time().value() * c.plan.gpus() / tokens;
}

}  // namespace

std::vector<plan::Plan> enumerate(const model::ModelSpec& m, const hardware::ClusterSpec& cluster, int gpus, int B,
                                  Precision precision, std::optional<plan::Framework> framework) {
    using plan::Dim;
    using plan::Schedule;
    std::vector<plan::Plan> out;
    const int expert_ffn = m.moe ? m.moe->expert_ffn_hidden : m.ffn_hidden;
    for (int tp : divisors(gpus)) {
        if (!divides(tp, m.heads) || !divides(tp, m.kv_heads) || !divides(tp, m.ffn_hidden) || !divides(tp, expert_ffn)) continue;
        for (int pp : divisors(gpus / tp)) {
            if (pp > m.layers) break;
            const std::optional<std::pair<int, int>> uneven = uneven_split(m.layers, pp);
            if (!divides(pp, m.layers) && !uneven) continue;
            for (int cp : divisors(gpus / (tp * pp))) {
                if (cp > 1 && !divides(2 * cp, m.seq_len)) continue;
                const int dp = gpus / (tp * pp * cp);
                if (!divides(dp, B)) continue;
                for (int ep : m.moe ? divisors(m.moe->experts) : std::vector<int>{1}) {
                    if (!divides(ep, dp)) continue;
                    for (int mb : divisors(B / dp)) {
                        const int micro_batches = B / (dp * mb);
                        // Schedules: (schedule, vpp).
                        std::vector<std::pair<Schedule, int>> schedules{{Schedule::one_f_one_b, 1}};
                        if (pp > 1) {
                            schedules.emplace_back(Schedule::gpipe, 1);
                            schedules.emplace_back(Schedule::zb_h1, 1);
                            // Interleaved: every stage's layers split into v chunks (the first and
                            // last stage's too, under an uneven split).
                            if (micro_batches % pp == 0) {
                                const int inner = (m.layers + pp - 1) / pp;  // layers of an inner stage
                                for (int v : divisors(inner)) {
                                    if (v < 2 || (uneven && (uneven->first % v != 0 || uneven->second % v != 0))) continue;
                                    schedules.emplace_back(Schedule::interleaved, v);
                                }
                            }
                        }
                        std::vector<std::array<Dim, plan::kDimCount>> orders{
                            {Dim::tensor, Dim::context, Dim::expert, Dim::data, Dim::pipeline}};
                        // Pipeline inside data parallelism, as Megatron-LM's --use-tp-pp-dp-mapping
                        // places it (without cp or ep, which that mapping refuses).
                        if (pp > 1 && dp > 1 && cp == 1 && ep == 1) {
                            orders.push_back({Dim::tensor, Dim::context, Dim::expert, Dim::pipeline, Dim::data});
                        }
                        for (const auto& [schedule, vpp] : schedules) {
                            for (int zero = 0; zero <= (dp * cp > 1 ? 3 : 0); ++zero) {
                                for (bool flash : {false, true}) {
                                    if (cp > 1 && !flash) continue;
                                    for (model::Recompute r : {model::Recompute::none, model::Recompute::selective, model::Recompute::full}) {
                                        // With fused attention nothing is left for selective recomputation.
                                        if (flash && r == model::Recompute::selective) continue;
                                        for (bool sp : {false, true}) {
                                            if (sp && tp == 1) continue;
                                            for (const auto& order : orders) {
                                                plan::Plan p;
                                                p.origin = "search";
                                                p.tp = tp;
                                                p.pp = pp;
                                                p.dp = dp;
                                                p.cp = cp;
                                                p.ep = ep;
                                                p.vpp = vpp;
                                                p.micro_batch = mb;
                                                p.global_batch = B;
                                                p.schedule = schedule;
                                                p.zero = zero;
                                                p.recompute = r;
                                                p.sequence_parallel = sp;
                                                p.flash_attention = flash;
                                                p.precision = precision;
                                                p.grad_precision = precision == Precision::fp16 ? Precision::fp16 : Precision::fp32;
                                                p.overlap_grad_reduce = true;
                                                p.overlap_param_gather = zero >= 1;
                                                p.order = order;
                                                if (uneven) std::tie(p.first_stage_layers, p.last_stage_layers) = *uneven;
                                                if (framework) {
                                                    plan::adopt(p, *framework);
                                                    if (plan::refusal(p, m, *framework)) continue;
                                                }
                                                out.push_back(p);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (void)cluster;
    return out;
}

Result run(const model::ModelSpec& m, const hardware::ClusterSpec& cluster, const Options& o) {
    Result result;
    const auto model = std::make_shared<const model::ModelSpec>(m);
    const Bytes capacity = o.max_memory.value_or(cluster.device.memory / cluster.ranks_per_device);
    result.capacity = capacity;
    std::vector<int> gpu_counts = o.gpus.empty() ? std::vector<int>{cluster.device_count()} : o.gpus;

    // Topologies per GPU count, and the plans for each.
    std::vector<std::shared_ptr<const hardware::Topology>> topologies;
    std::vector<plan::Plan> plans;
    std::vector<std::size_t> topology_of;
    for (int g : gpu_counts) {
        hardware::ClusterSpec c = cluster;
        if (g < 1 || g > cluster.device_count()) {
            throw InputError("command line", "--gpus", std::to_string(g) + " GPUs: the cluster has " +
                                                           std::to_string(cluster.device_count()) +
                                                           " (--nodes sets its size)");
        }
        if (g % c.gpus_per_node != 0) {
            throw InputError("command line", "--gpus", std::to_string(g) + " is not a whole number of " +
                                                           std::to_string(c.gpus_per_node) + "-GPU nodes");
        }
        if ((c.torus || c.graph) && g != c.device_count()) {
            throw InputError("command line", "--gpus", "a torus or explicit graph has exactly " + std::to_string(c.device_count()) + " devices");
        }
        c.nodes = g / c.gpus_per_node;
        topologies.push_back(std::make_shared<const hardware::Topology>(std::move(c)));
        for (plan::Plan& p : enumerate(m, topologies.back()->cluster(), g, o.global_batch, o.precision, o.framework)) {
            if (o.admit && !o.admit(p)) continue;
            plans.push_back(std::move(p));
            topology_of.push_back(topologies.size() - 1);
        }
    }
    result.enumerated = plans.size();
    if (!topologies.front()->cluster().device.peak_for(o.precision)) {
        throw InputError("command line", "--precision", "device " + cluster.device.name + " has no " +
                                                            std::string(to_string(o.precision)) + " peak");
    }

    // Analytical tier over every candidate: each thread takes every n-th candidate, with its own caches.
    const int threads = std::max(1, o.threads);
    result.threads = threads;
    std::vector<Candidate> evaluated(plans.size());
    std::vector<char> fits(plans.size(), 0);
    std::atomic<std::size_t> done{0};
    const auto t0 = std::chrono::steady_clock::now();
    auto work = [&](int t) {
        std::vector<sim::ScenarioCache> caches(topologies.size());
        for (std::size_t i = static_cast<std::size_t>(t); i < plans.size(); i += static_cast<std::size_t>(threads)) {
            const std::size_t k = topology_of[i];
            const sim::Scenario sc(model, topologies[k], plans[i], &caches[k]);
            const sim::Prediction r = sim::predict_analytical(sc);
            Candidate& c = evaluated[i];
            c.plan = plans[i];
            c.analytical_time = r.iteration_time;
            c.peak_memory = r.memory.peak;
            c.mfu = r.mfu;
            c.tokens_per_s = r.tokens_per_s;
            fits[i] = r.memory.required() <= capacity ? 1 : 0;
            const std::size_t n = ++done;
            if (t == 0 && o.progress && (n % 4096 == 0 || n == plans.size())) o.progress(n, plans.size());
        }
    };
    run_on_threads(threads, work);
    if (o.progress) o.progress(plans.size(), plans.size());
    result.analytical_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Rank what fits; ties keep enumeration order, so the ranking does not depend on threads.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < plans.size(); ++i) {
        if (fits[i]) order.push_back(i);
        if (i == 0 || evaluated[i].peak_memory < result.least_memory) result.least_memory = evaluated[i].peak_memory;
    }
    auto by_objective = [&](std::size_t a, std::size_t b) {
        const double va = objective_value(evaluated[a], o.objective, m.seq_len);
        const double vb = objective_value(evaluated[b], o.objective, m.seq_len);
        return va != vb ? va < vb : a < b;
    };
    std::stable_sort(order.begin(), order.end(), by_objective);

    // Event tier over the best candidates, spread over the threads. The analytical tier sees no
    // contention, so it rarely overestimates: candidates further down whose analytical time beats
    // the best event time so far are simulated too (up to four times `rerank`), kRerankBatch at a
    // time whatever the thread count, so that the same candidates are simulated on any machine.
    // Candidates the event tier cannot play out (beyond sim::kMaxEventWork, or beyond its clock on
    // absurd hardware figures) keep their analytical time.
    constexpr std::size_t kRerankBatch = 8;
    const auto t1 = std::chrono::steady_clock::now();
    std::size_t simulated = 0;
    auto simulate = [&](std::size_t from, std::size_t to) {
        auto rerank = [&](int t) {
            for (std::size_t j = from + static_cast<std::size_t>(t); j < to; j += static_cast<std::size_t>(threads)) {
                const std::size_t i = order[j];
                const sim::Scenario sc(model, topologies[topology_of[i]], plans[i]);
                if (sim::event_work(sc) > sim::kMaxEventWork) continue;
                try {
                    evaluated[i].event_time = sim::predict_events(sc).iteration_time;
                } catch (const InputError&) {
                    continue;
                }
            }
        };
        run_on_threads(threads, rerank);
    };
    const std::size_t wanted = std::min<std::size_t>(order.size(), static_cast<std::size_t>(std::max(0, o.rerank)));
    const std::size_t cap = std::min<std::size_t>(order.size(), 4 * wanted);
    simulate(0, wanted);
    simulated = wanted;
    // Candidates are simulated kRerankBatch at a time, but accepted one by one as a single thread
    // would: the first whose analytical estimate does not beat the best so far ends
    // the search, and the rest of its batch is forgotten, so the result does not depend on threads.
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < simulated; ++j) best = std::min(best, objective_value(evaluated[order[j]], o.objective, m.seq_len));
    bool stop = false;
    while (simulated < cap && !stop) {
        if (objective_value(evaluated[order[simulated]], o.objective, m.seq_len) >= best) break;
        const std::size_t next = std::min(cap, simulated + kRerankBatch);
        simulate(simulated, next);
        for (std::size_t j = simulated; j < next; ++j) {
            Candidate& c = evaluated[order[j]];
            if (stop) {
                c.event_time.reset();
                continue;
            }
            Candidate analytical_only = c;
            analytical_only.event_time.reset();
            if (objective_value(analytical_only, o.objective, m.seq_len) >= best) {
                stop = true;
                c.event_time.reset();
                continue;
            }
            best = std::min(best, objective_value(c, o.objective, m.seq_len));
            ++simulated;
        }
    }
    result.simulated = simulated;
    result.event_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    // MFU and tokens/s follow the best estimate too: both are inversely proportional to the time.
    for (Candidate& c : evaluated) {
        if (!c.event_time) continue;
        const double faster = c.analytical_time.value() / c.event_time->value();
        c.mfu *= faster;
        c.tokens_per_s *= faster;
    }
    // The final ranking: the re-simulated candidates by their event-tier estimate, then the rest by
    // their analytical one. The event tier sees contention and overlap the closed forms do not, so
    // where the tiers disagree its estimate ranks, and one ranking never compares an event-tier
    // time with an analytical one.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const bool ea = evaluated[a].event_time.has_value(), eb = evaluated[b].event_time.has_value();
        return ea != eb ? ea : by_objective(a, b);
    });

    result.ranked.reserve(order.size());
    for (std::size_t i : order) result.ranked.push_back(std::move(evaluated[i]));

    // Pareto front in (time, peak memory, GPUs), all minimized: sweep in order of time.
    std::vector<std::size_t> by_time(result.ranked.size());
    for (std::size_t i = 0; i < by_time.size(); ++i) by_time[i] = i;
    std::stable_sort(by_time.begin(), by_time.end(), [&](std::size_t a, std::size_t b) {
        const auto& x = result.ranked[a];
        const auto& y = result.ranked[b];
        if (x.time() != y.time()) return x.time() < y.time();
        if (x.peak_memory != y.peak_memory) return x.peak_memory < y.peak_memory;
        return x.plan.gpus() < y.plan.gpus();
    });
    for (std::size_t i : by_time) {
        const Candidate& c = result.ranked[i];
        bool dominated = false;
        for (std::size_t j : result.pareto) {
            const Candidate& d = result.ranked[j];
            if (d.peak_memory <= c.peak_memory && d.plan.gpus() <= c.plan.gpus()) {
                dominated = true;
                break;
            }
        }
        if (!dominated) result.pareto.push_back(i);
    }
    return result;
}

}  // namespace splitsim::search
