#include "predict.hpp"

#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::validate {

Predicted predict(const model::ModelSpec& model, plan::Plan plan, const std::string& cluster_path) {
    hardware::ClusterSpec cluster = hardware::load_cluster(cluster_path);
    const int ranks = plan.gpus();
    std::string cut;
    if (cluster.device_count() > ranks && !cluster.torus && !cluster.graph) {
        if (ranks <= cluster.gpus_per_node) {
            cut = "one node of " + std::to_string(ranks) + " of its " + std::to_string(cluster.gpus_per_node) + " GPUs";
            cluster.nodes = 1;
            cluster.gpus_per_node = ranks;
            cluster.network.reset();
        } else if (ranks % cluster.gpus_per_node == 0) {
            cut = std::to_string(ranks / cluster.gpus_per_node) + " of its " + std::to_string(cluster.nodes) + " nodes";
            cluster.nodes = ranks / cluster.gpus_per_node;
        }
    }
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
    p.optimizer_s = events.optimizer.value();
    auto exposed = [&](plan::Dim d) { return events.exposed_comm[static_cast<std::size_t>(d)].value(); };
    p.tensor_s = exposed(plan::Dim::tensor);
    p.data_s = exposed(plan::Dim::data);
    p.pipeline_s = exposed(plan::Dim::pipeline);
    p.bubble_s = events.bubble.value();
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
              {"optimizer_s", p.optimizer_s},
              {"exposed_communication_s", {{"tensor", p.tensor_s}, {"data", p.data_s}, {"pipeline", p.pipeline_s}}},
              {"bubble_s", p.bubble_s},
              {"bubble_fraction", events.bubble_fraction},
              {"memory", {{"peak_bytes", p.peak_memory_bytes},
                          {"peak_stage", events.memory.peak_stage},
                          {"reserved_bytes", events.memory.reserved.value()},
                          {"stages", memory}}},
              {"stages", stages}};
    return p;
}

}  // namespace splitsim::validate
