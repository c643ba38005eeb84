#include "splitsim/sim/scenario.hpp"

#include "splitsim/plan/rank_layout.hpp"

namespace splitsim::sim {

std::vector<int> rank_coordinates(const plan::Plan& p, plan::Dim dim) {
    const plan::RankLayout placed(p);
    const hardware::Layout& layout = placed.layout();
    auto at = [&](plan::Dim d) { return placed.position(d); };
    std::vector<int> out(static_cast<std::size_t>(layout.ranks()));
    for (int r = 0; r < layout.ranks(); ++r) {
        out[static_cast<std::size_t>(r)] = dim == plan::Dim::data
                                               ? layout.coordinate(r, at(plan::Dim::expert)) + p.ep * layout.coordinate(r, at(plan::Dim::data))
                                               : layout.coordinate(r, at(dim));
    }
    return out;
}

std::array<cost::GroupSet, kGroupKinds> place_groups(const plan::Plan& p) {
    const plan::RankLayout placed(p);
    const hardware::Layout& layout = placed.layout();
    auto at = [&](plan::Dim d) { return placed.position(d); };
    std::array<cost::GroupSet, kGroupKinds> out;
    auto set = [&](GroupKind kind, std::vector<int> varying, bool rings, bool all_to_all, bool p2p) {
        cost::GroupSet& s = out[static_cast<std::size_t>(kind)];
        const bool expert_layers = kind == GroupKind::expert || kind == GroupKind::expert_data;
        s.groups = (expert_layers ? placed.expert_layout() : layout).groups(varying);
        s.rings = rings;
        s.all_to_all = all_to_all;
        s.p2p = p2p;
    };
    using plan::Dim;
    set(GroupKind::tensor, {at(Dim::tensor)}, true, false, false);
    set(GroupKind::context, {at(Dim::context)}, false, false, true);
    set(GroupKind::expert, {at(Dim::expert)}, false, true, false);
    set(GroupKind::dense_data, {at(Dim::context), at(Dim::expert), at(Dim::data)}, true, false, false);
    set(GroupKind::expert_data, {at(Dim::data)}, true, false, false);  // context lies folded into data
    set(GroupKind::pipeline, {at(Dim::pipeline)}, true, false, true);
    return out;
}

ScenarioCache::ShardKey ScenarioCache::shard_key(const plan::Plan& p) {
    const model::Shard s = plan::shard_of(p);
    return {s.tensor,
            s.sequence ? 1 : 0,
            s.context,
            s.expert,
            s.micro_batch,
            static_cast<int>(p.precision),
            s.fused_attention ? 1 : 0,
            p.async_tp_allreduce ? 1 : 0,
            p.tp_comm_overlap ? 1 : 0,
            p.grad_accumulation_fusion ? 1 : 0,
            static_cast<int>(p.grad_precision)};
}

ScenarioCache::LayoutKey ScenarioCache::layout_key(const plan::Plan& p) {
    auto o = [&](int i) { return static_cast<int>(p.order[static_cast<std::size_t>(i)]); };
    return {p.tp, p.cp, p.ep, p.dp, p.pp, o(0), o(1), o(2), o(3), o(4)};
}

std::shared_ptr<const plan::LayerPrograms> ScenarioCache::layer_programs(const plan::Plan& p, const model::ModelSpec& m) {
    auto& slot = programs_[shard_key(p)];
    if (!slot) slot = plan::layer_programs(p, m);
    return slot;
}

std::shared_ptr<const Placement> ScenarioCache::placement(const plan::Plan& p, const hardware::Topology& t) {
    // A placement holds every device's groups and the links they load: on a 32,768-GPU cluster a
    // few megabytes each. A search meets thousands of layouts, but in enumeration order, so a cache
    // that forgets them all when it holds kPlacementBudget device entries keeps its hits and bounds
    // its memory (scenarios keep the placements they use).
    const auto key = layout_key(p);
    if (!placements_.contains(key) &&
        (placements_.size() + 1) * static_cast<std::size_t>(t.cluster().device_count()) > kPlacementBudget) {
        placements_.clear();
    }
    auto& slot = placements_[key];
    if (!slot) {
        auto placed = std::make_shared<Placement>();
        auto sets = place_groups(p);
        placed->reserve(sets.size());
        for (auto& s : sets) placed->emplace_back(t, std::move(s));
        slot = std::move(placed);
    }
    return slot;
}

Flops ScenarioCache::iteration_flops(const model::ModelSpec& m, int global_batch, model::Recompute recompute) {
    const auto key = std::make_pair(global_batch, static_cast<int>(recompute));
    auto it = flops_.find(key);
    if (it == flops_.end()) it = flops_.emplace(key, model::iteration_flops(m, global_batch, recompute)).first;
    return it->second;
}

Scenario::Scenario(model::ModelSpec model, hardware::ClusterSpec cluster, plan::Plan plan)
    : Scenario(std::make_shared<const model::ModelSpec>(std::move(model)),
               std::make_shared<const hardware::Topology>(std::move(cluster)), std::move(plan)) {}

Scenario::Scenario(std::shared_ptr<const model::ModelSpec> model, std::shared_ptr<const hardware::Topology> topology,
                   plan::Plan plan, ScenarioCache* cache)
    : model_(std::move(model)),
      topology_(std::move(topology)),
      plan_(std::move(plan)),
      cache_(cache),
      partition_(plan::partition(plan_, *model_, cache_ ? cache_->layer_programs(plan_, *model_) : nullptr)),
      compute_(topology_->cluster().device, plan_.precision,
               cost::GradientAccumulation{plan_.grad_accumulation_fusion, element_bytes(plan_.grad_precision)},
               topology_->cluster().ranks_per_device) {
    if (cache_) {
        placed_ = cache_->placement(plan_, *topology_);
    } else {
        ScenarioCache local;
        placed_ = local.placement(plan_, *topology_);
    }
}

Seconds Scenario::collective_time(GroupKind kind, CollectiveKind op, Bytes bytes) const {
    return groups(kind).estimate(op, bytes).time;
}

Seconds Scenario::collective_time(const plan::Collective& c) const {
    switch (c.dim) {
        case plan::Dim::tensor: return collective_time(GroupKind::tensor, c.kind, c.bytes);
        case plan::Dim::context: return collective_time(GroupKind::context, c.kind, c.bytes);
        case plan::Dim::expert: return collective_time(GroupKind::expert, c.kind, c.bytes);
        case plan::Dim::data: return collective_time(GroupKind::dense_data, c.kind, c.bytes);
        case plan::Dim::pipeline: return collective_time(GroupKind::pipeline, c.kind, c.bytes);
    }
    return Seconds(0);
}

}  // namespace splitsim::sim
