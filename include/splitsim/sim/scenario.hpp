// Everything one simulation needs, built once from a model, a cluster and a plan: the partition,
// the placement of every parallel group, and the cost models. A Scenario is a value: no globals,
// so many can be evaluated on many threads.
#pragma once

#include <array>
#include <vector>

#include "splitsim/cost/collective.hpp"
#include "splitsim/cost/compute.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::sim {

// The ranks of rank 0's group in each parallel dimension (device indices).
struct Groups {
    std::vector<int> tensor;
    std::vector<int> context;
    std::vector<int> expert;
    std::vector<int> dense_data;   // data x context: ranks holding the same dense parameters
    std::vector<int> expert_data;  // ranks holding the same experts
    std::vector<int> pipeline;     // one rank per stage
};

Groups place_groups(const plan::Plan& plan);

class Scenario {
public:
    // The plan must have been validated against the model and cluster.
    Scenario(model::ModelSpec model, hardware::ClusterSpec cluster, plan::Plan plan);

    Scenario(const Scenario&) = delete;  // the cost models point into this object
    Scenario& operator=(const Scenario&) = delete;

    [[nodiscard]] const model::ModelSpec& model() const { return model_; }
    [[nodiscard]] const hardware::ClusterSpec& cluster() const { return cluster_; }
    [[nodiscard]] const plan::Plan& plan() const { return plan_; }
    [[nodiscard]] const plan::Partition& partition() const { return partition_; }
    [[nodiscard]] const Groups& groups() const { return groups_; }
    [[nodiscard]] const cost::ComputeModel& compute() const { return compute_; }
    [[nodiscard]] const cost::CollectiveModel& collectives() const { return collectives_; }

    // The group a collective of this dimension runs over.
    [[nodiscard]] const std::vector<int>& group_of(plan::Dim dim) const;
    [[nodiscard]] Seconds collective_time(const plan::Collective& c) const;

private:
    model::ModelSpec model_;
    hardware::ClusterSpec cluster_;
    plan::Plan plan_;
    plan::Partition partition_;
    Groups groups_;
    cost::ComputeModel compute_;
    cost::CollectiveModel collectives_;
};

}  // namespace splitsim::sim
