// The event tier at scale: the 1T GPT of the Megatron-LM weak-scaling table on 3,072 A100 and
// Llama 3 405B on 16,384 H100, built and simulated from scratch (scenario, task graph, events).
// Reports wall time per simulated iteration and events per second.
#include <benchmark/benchmark.h>

#include <string>

#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/sim/event_tier.hpp"

namespace {

using namespace splitsim;

void simulate(benchmark::State& state, const char* model_file, const char* cluster_file, int nodes, const char* plan_file) {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    const model::ModelSpec model = model::load_model(root + "/models/" + model_file);
    const hardware::ClusterSpec cluster = hardware::load_cluster(root + "/topologies/" + cluster_file, nodes);
    plan::Plan plan = plan::load_plan(root + "/plans/" + plan_file);
    plan::validate(plan, model, cluster);
    std::uint64_t events = 0;
    std::size_t tasks = 0;
    for (auto _ : state) {
        const sim::Scenario scenario(model, cluster, plan);
        const sim::Prediction p = sim::predict_events(scenario);
        events = p.events;
        tasks = p.tasks;
        benchmark::DoNotOptimize(p.iteration_time);
    }
    state.counters["gpus"] = plan.gpus();
    state.counters["tasks"] = static_cast<double>(tasks);
    state.counters["events"] = static_cast<double>(events);
    state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsIterationInvariantRate);
}

void gpt_1t_3072_a100(benchmark::State& state) {
    simulate(state, "gpt-1008b.json", "dgx-a100-superpod.json", 384, "gpt-1008b-3072gpu.json");
}
void llama3_405b_16384_h100(benchmark::State& state) {
    simulate(state, "llama3-405b.json", "dgx-h100-superpod.json", 2048, "llama3-405b-16384gpu.json");
}

}  // namespace

BENCHMARK(gpt_1t_3072_a100)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(llama3_405b_16384_h100)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_MAIN();
