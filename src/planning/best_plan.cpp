#include "splitsim/planning/best_plan.hpp"

#include <string>

#include "splitsim/common/error.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::planning {

double Evaluated::exposed_comm_share() const {
    Seconds exposed;
    for (const Seconds s : prediction.exposed_comm) exposed = exposed + s;
    return prediction.iteration_time.value() > 0 ? exposed.value() / prediction.iteration_time.value() : 0.0;
}

Evaluated evaluate(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, plan::Plan plan) {
    plan::validate(plan, model, cluster);
    const sim::Scenario scenario(model, cluster, plan);
    Evaluated e{plan, {}};
    if (sim::event_work(scenario) <= sim::kMaxEventWork) {
        try {
            e.prediction = sim::predict_events(scenario);
            return e;
        } catch (const InputError&) {
            // Beyond the event tier's clock: the analytical tier still predicts it.
        }
    }
    e.prediction = sim::predict_analytical(scenario);
    return e;
}

hardware::ClusterSpec with_gpus(const hardware::ClusterSpec& cluster, int gpus) {
    hardware::ClusterSpec c = cluster;
    const auto refuse = [&](const std::string& why) {
        throw InputError("command line", "--gpus", std::to_string(gpus) + " GPUs: " + why);
    };
    if (gpus < 1) refuse("must be at least 1");
    if (c.torus || c.graph) {
        if (gpus != c.device_count()) refuse("a torus or explicit graph has exactly " + std::to_string(c.device_count()) + " devices");
        return c;
    }
    if (gpus < c.gpus_per_node) {
        if (c.gpus_per_node % gpus != 0) refuse("not a divisor of the " + std::to_string(c.gpus_per_node) + " GPUs of a node");
        c.nodes = 1;
        c.gpus_per_node = gpus;
        c.network.reset();
        // PCIe switches split a node's GPUs evenly; fewer GPUs keep as many switches as divide them.
        while (c.node.pcie_switches > 1 && gpus % c.node.pcie_switches != 0) c.node.pcie_switches /= 2;
        if (c.node.pcie_switches > gpus) c.node.pcie_switches = gpus;
        while (c.node.sockets > 1 && (c.node.pcie_switches % c.node.sockets != 0)) c.node.sockets /= 2;
        return c;
    }
    if (gpus % c.gpus_per_node != 0) refuse("not a whole number of " + std::to_string(c.gpus_per_node) + "-GPU nodes");
    c.nodes = gpus / c.gpus_per_node;
    if (c.network && c.network->nodes_per_leaf > c.nodes) c.network->nodes_per_leaf = c.nodes;
    return c;
}

std::vector<int> gpu_counts(const hardware::ClusterSpec& cluster, int max_gpus) {
    std::vector<int> out;
    if (cluster.torus || cluster.graph) {
        if (cluster.device_count() <= max_gpus) out.push_back(cluster.device_count());
        return out;
    }
    for (int g = 1; g < cluster.gpus_per_node && g <= max_gpus; g *= 2) {
        if (cluster.gpus_per_node % g == 0) out.push_back(g);
    }
    for (int g = cluster.gpus_per_node; g <= max_gpus; g += cluster.gpus_per_node) out.push_back(g);
    return out;
}

std::optional<Evaluated> best_plan(const model::ModelSpec& model, const hardware::ClusterSpec& cluster, int gpus,
                                   search::Options options) {
    const hardware::ClusterSpec c = with_gpus(cluster, gpus);
    options.gpus = {gpus};
    options.progress = nullptr;
    const search::Result result = search::run(model, c, options);
    if (result.ranked.empty()) return std::nullopt;
    return evaluate(model, c, result.ranked.front().plan);
}

}  // namespace splitsim::planning
