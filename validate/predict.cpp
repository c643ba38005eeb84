#include "predict.hpp"

#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::validate {

Predicted predict(const model::ModelSpec& model, plan::Plan plan, const std::string& cluster_path) {
    std::string cut;
    const hardware::ClusterSpec cluster = hardware::fit_to_ranks(hardware::load_cluster(cluster_path), plan.gpus(), &cut);
    const int ranks = plan.gpus();
    plan.dp = 0;  // derived from the cluster again, and checked against it
    plan::validate(plan, model, cluster);
    if (plan.gpus() != ranks) {
        throw InputError(cluster_path, "", "the cluster has " + std::to_string(cluster.device_count()) +
                                               " devices but the plan runs on " + std::to_string(ranks));
    }

    const sim::Scenario scenario(model, cluster, plan);
    const sim::Prediction events = sim::predict_events(scenario);
    const sim::Prediction analytical = sim::predict_analytical(scenario);
    Predicted p;
    p.iteration_s = events.iteration_time.value();
    p.analytical_iteration_s = analytical.iteration_time.value();
    Seconds slowest;
    for (const sim::StageTime& t : analytical.stages) {
        if (t.per_micro_batch() > slowest) {
            slowest = t.per_micro_batch();
            p.critical_stage = t.stage;
        }
    }
    const double m = plan.micro_batches();
    for (const sim::StageTime& t : analytical.stages) {
        p.forward_s.push_back(t.forward.value() * m);
        p.backward_s.push_back(t.backward.value() * m);
    }
    // Each stage's rank (simulated rank s is stage s): what its compute stream waited for.
    nlohmann::json breakdowns = nlohmann::json::array();
    const double iteration = events.iteration_time.value();
    for (int stage = 0; stage < plan.pp; ++stage) {
        const sim::RankUtilization& u = events.utilization.at(static_cast<std::size_t>(stage));
        auto waiting = [&](plan::Dim d) { return u.waiting[static_cast<std::size_t>(d)] * iteration; };
        p.stage_breakdown.push_back({analytical.stages.at(static_cast<std::size_t>(stage)).optimizer.value(), waiting(plan::Dim::tensor),
                                     waiting(plan::Dim::data), waiting(plan::Dim::pipeline), u.bubble * iteration});
        const Predicted::Breakdown& x = p.stage_breakdown.back();
        breakdowns.push_back({{"stage", stage},
                              {"optimizer_s", x.optimizer_s},
                              {"exposed_communication_s", {{"tensor", x.tensor_s}, {"data", x.data_s}, {"pipeline", x.pipeline_s}}},
                              {"bubble_s", x.bubble_s}});
    }
    p.peak_memory_bytes = events.memory.peak.value();
    for (const auto& s : events.memory.stages) {
        p.stage_memory.push_back({s.bytes.weights.value(), s.bytes.gradients.value(), s.bytes.optimizer.value(),
                                  (s.bytes.activations + s.bytes.other).value()});
    }

    nlohmann::json stages = nlohmann::json::array();
    for (const sim::StageTime& t : analytical.stages) {
        stages.push_back({{"stage", t.stage},
                          {"forward_s", t.forward.value() * m},
                          {"backward_s", t.backward.value() * m},
                          {"exposed_communication_s", t.exposed_comm.value() * m},
                          {"data_parallel_s", t.data_parallel.value()},
                          {"optimizer_s", t.optimizer.value()}});
    }
    nlohmann::json memory = nlohmann::json::array();
    for (const auto& s : events.memory.stages) {
        memory.push_back({{"stage", s.stage},
                          {"weights", s.bytes.weights.value()},
                          {"gradients", s.bytes.gradients.value()},
                          {"optimizer", s.bytes.optimizer.value()},
                          {"activations", s.bytes.activations.value()},
                          {"temporary", s.bytes.temporary.value()},
                          {"other", s.bytes.other.value()},
                          {"total", s.bytes.total().value()},
                          {"reserved", s.reserved.value()},
                          {"peak_at", s.peak_at}});
    }
    p.json = {{"cluster", cluster.name},
              {"cluster_file", cluster_path},
              {"cluster_cut_to", cut.empty() ? nlohmann::json(nullptr) : nlohmann::json(cut)},
              {"tier", "event"},
              {"iteration_time_s", p.iteration_s},
              {"analytical_iteration_time_s", p.analytical_iteration_s},
              {"critical_stage", p.critical_stage},
              {"stage_breakdown", breakdowns},
              {"bubble_fraction", events.bubble_fraction},
              {"memory", {{"peak_bytes", p.peak_memory_bytes},
                          {"peak_stage", events.memory.peak_stage},
                          {"reserved_bytes", events.memory.reserved.value()},
                          {"stages", memory}}},
              {"stages", stages}};
    return p;
}

}  // namespace splitsim::validate
