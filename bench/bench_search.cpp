// The whole search: GPT-3 175B on 1,024 A100 at global batch 1,536 over the full space, ranked by the
// analytical tier on all cores, the best 50 re-simulated by the event tier. Reports the candidates,
// analytical candidates per second (all threads and per thread) and the wall time of the search.
#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <thread>

#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/search/search.hpp"

namespace {

using namespace splitsim;

void search_gpt3_175b_1024_a100(benchmark::State& state) {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    const model::ModelSpec model = model::load_model(root + "/models/gpt3-175b.json");
    const hardware::ClusterSpec cluster = hardware::load_cluster(root + "/topologies/dgx-a100-superpod.json", 128);
    search::Options o;
    o.global_batch = 1536;
    o.rerank = 50;
    o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    search::Result r;
    for (auto _ : state) {
        r = search::run(model, cluster, o);
        benchmark::DoNotOptimize(r.ranked.data());
    }
    state.counters["candidates"] = static_cast<double>(r.enumerated);
    state.counters["fit"] = static_cast<double>(r.ranked.size());
    state.counters["threads"] = r.threads;
    state.counters["analytical_s"] = r.analytical_seconds;
    state.counters["candidates_per_s"] = static_cast<double>(r.enumerated) / r.analytical_seconds;
    state.counters["candidates_per_s_per_thread"] = static_cast<double>(r.enumerated) / r.analytical_seconds / r.threads;
    state.counters["event_s"] = r.event_seconds;
    state.counters["simulated"] = static_cast<double>(r.simulated);
}

// Enumeration alone, of the same space, without a framework (argument -1) and filtered for each
// framework (plan::refusal on every candidate, as search --framework does).
void enumerate_gpt3_175b_1024_a100(benchmark::State& state) {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    const model::ModelSpec model = model::load_model(root + "/models/gpt3-175b.json");
    const hardware::ClusterSpec cluster = hardware::load_cluster(root + "/topologies/dgx-a100-superpod.json", 128);
    std::optional<plan::Framework> framework;
    if (state.range(0) >= 0) framework = plan::kAllFrameworks[state.range(0)];
    std::size_t plans = 0;
    for (auto _ : state) {
        const auto out = search::enumerate(model, cluster, cluster.device_count(), 1536, Precision::bf16, framework);
        plans = out.size();
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(framework ? std::string(plan::to_string(*framework)) : "any framework");
    state.counters["plans"] = static_cast<double>(plans);
}

}  // namespace

BENCHMARK(search_gpt3_175b_1024_a100)->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK(enumerate_gpt3_175b_1024_a100)->DenseRange(-1, 3)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
