// Everything one simulation needs, built once from a model, a cluster and a plan: the partition,
// the placement of every parallel group on the topology, and the cost models. A Scenario is a
// value: no globals, so many can be evaluated on many threads (a topology may be shared by all).
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "splitsim/cost/collective.hpp"
#include "splitsim/cost/compute.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/hardware/topology.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::sim {

// The groups a dimension's collectives run over; expert parameters reduce over their own data groups.
enum class GroupKind { tensor, context, expert, dense_data, expert_data, pipeline };
inline constexpr int kGroupKinds = 6;

// Every group of each kind, laid out by the plan's order (device r runs rank r).
std::array<cost::GroupSet, kGroupKinds> place_groups(const plan::Plan& plan);

class Scenario {
public:
    // The plan must have been validated against the model and cluster.
    Scenario(model::ModelSpec model, hardware::ClusterSpec cluster, plan::Plan plan);
    // The same, on a topology shared with other scenarios.
    Scenario(model::ModelSpec model, std::shared_ptr<const hardware::Topology> topology, plan::Plan plan);

    Scenario(const Scenario&) = delete;  // the cost models point into this object
    Scenario& operator=(const Scenario&) = delete;

    [[nodiscard]] const model::ModelSpec& model() const { return model_; }
    [[nodiscard]] const hardware::ClusterSpec& cluster() const { return topology_->cluster(); }
    [[nodiscard]] const plan::Plan& plan() const { return plan_; }
    [[nodiscard]] const plan::Partition& partition() const { return partition_; }
    [[nodiscard]] const cost::ComputeModel& compute() const { return compute_; }
    [[nodiscard]] const hardware::Topology& topology() const { return *topology_; }
    [[nodiscard]] const cost::PlacedGroups& groups(GroupKind kind) const { return placed_[static_cast<std::size_t>(kind)]; }

    // Time of a collective of the partition, over the groups of its dimension.
    [[nodiscard]] Seconds collective_time(const plan::Collective& c) const;
    [[nodiscard]] Seconds collective_time(GroupKind kind, CollectiveKind op, Bytes bytes) const;

private:
    model::ModelSpec model_;
    std::shared_ptr<const hardware::Topology> topology_;
    plan::Plan plan_;
    plan::Partition partition_;
    cost::ComputeModel compute_;
    std::vector<cost::PlacedGroups> placed_;
};

}  // namespace splitsim::sim
