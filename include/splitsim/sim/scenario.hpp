// Everything one simulation needs, built once from a model, a cluster and a plan: the partition,
// the placement of every parallel group on the topology, and the cost models. A Scenario is a
// value: no globals, so many can be evaluated on many threads (a topology may be shared by all).
#pragma once

#include <array>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "splitsim/cost/collective.hpp"
#include "splitsim/cost/compute.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/hardware/topology.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/sim/block_cost.hpp"

namespace splitsim::sim {

// The groups a dimension's collectives run over; expert parameters reduce over their own data groups.
enum class GroupKind { tensor, context, expert, dense_data, expert_data, pipeline };
inline constexpr int kGroupKinds = 6;

// Every group of each kind, laid out by the plan's order (device r runs rank r).
std::array<cost::GroupSet, kGroupKinds> place_groups(const plan::Plan& plan);

using Placement = std::vector<cost::PlacedGroups>;  // indexed by GroupKind

// Every rank's coordinate in one dimension of the plan's layout (data: its data-parallel index,
// expert part included).
std::vector<int> rank_coordinates(const plan::Plan& plan, plan::Dim dim);

// The parts of scenarios that many plans share, kept for reuse by a search that builds thousands
// of scenarios on one model and topology: layer programs per shard, placements per layout, block
// costs per both. One cache per thread; results do not depend on what a cache holds.
class ScenarioCache {
public:
    std::shared_ptr<const plan::LayerPrograms> layer_programs(const plan::Plan& plan, const model::ModelSpec& model);
    std::shared_ptr<const Placement> placement(const plan::Plan& plan, const hardware::Topology& topology);
    // The block costs of a plan, computed by `compute` the first time they are asked for.
    template <class F>
    const BlockCosts& block_costs(const plan::Plan& plan, F compute) {
        const auto key = std::tuple_cat(shard_key(plan), layout_key(plan), std::make_tuple(static_cast<int>(plan.recompute),
                                                                                           static_cast<int>(plan.schedule)));
        auto it = blocks_.find(key);
        if (it == blocks_.end()) it = blocks_.emplace(key, compute()).first;
        return it->second;
    }

    // FLOPs of one iteration (model::iteration_flops), memoized per global batch and recomputation.
    Flops iteration_flops(const model::ModelSpec& model, int global_batch, model::Recompute recompute);

private:
    using ShardKey = std::tuple<int, int, int, int, int, int, int, int, int, int, int>;
    using LayoutKey = std::tuple<int, int, int, int, int, int, int, int, int, int>;
    static ShardKey shard_key(const plan::Plan& p);
    static LayoutKey layout_key(const plan::Plan& p);

    std::map<ShardKey, std::shared_ptr<const plan::LayerPrograms>> programs_;
    static constexpr std::size_t kPlacementBudget = std::size_t{1} << 20;  // devices over all cached placements
    std::map<LayoutKey, std::shared_ptr<const Placement>> placements_;
    std::map<decltype(std::tuple_cat(ShardKey{}, LayoutKey{}, std::tuple<int, int>{})), BlockCosts> blocks_;
    std::map<std::pair<int, int>, Flops> flops_;
};

class Scenario {
public:
    // The plan must have been validated against the model and cluster.
    Scenario(model::ModelSpec model, hardware::ClusterSpec cluster, plan::Plan plan);
    // The same, sharing the model and topology with other scenarios, and reusing a cache's parts.
    Scenario(std::shared_ptr<const model::ModelSpec> model, std::shared_ptr<const hardware::Topology> topology,
             plan::Plan plan, ScenarioCache* cache = nullptr);

    Scenario(const Scenario&) = delete;  // the cost models point into this object
    Scenario& operator=(const Scenario&) = delete;

    [[nodiscard]] const model::ModelSpec& model() const { return *model_; }
    [[nodiscard]] const hardware::ClusterSpec& cluster() const { return topology_->cluster(); }
    [[nodiscard]] const plan::Plan& plan() const { return plan_; }
    [[nodiscard]] const plan::Partition& partition() const { return partition_; }
    [[nodiscard]] const cost::ComputeModel& compute() const { return compute_; }
    [[nodiscard]] const hardware::Topology& topology() const { return *topology_; }
    [[nodiscard]] const cost::PlacedGroups& groups(GroupKind kind) const { return (*placed_)[static_cast<std::size_t>(kind)]; }
    [[nodiscard]] ScenarioCache* cache() const { return cache_; }

    // Time of a collective of the partition, over the groups of its dimension.
    [[nodiscard]] Seconds collective_time(const plan::Collective& c) const;
    [[nodiscard]] Seconds collective_time(GroupKind kind, CollectiveKind op, Bytes bytes) const;

private:
    std::shared_ptr<const model::ModelSpec> model_;
    std::shared_ptr<const hardware::Topology> topology_;
    plan::Plan plan_;
    ScenarioCache* cache_;
    plan::Partition partition_;
    cost::ComputeModel compute_;
    std::shared_ptr<const Placement> placed_;
};

}  // namespace splitsim::sim
