#include "splitsim/sim/scenario.hpp"

#include "splitsim/hardware/layout.hpp"

namespace splitsim::sim {

std::array<cost::GroupSet, kGroupKinds> place_groups(const plan::Plan& p) {
    // Layout dimensions in the plan's order; data parallelism splits into its expert part (ep) and
    // the rest (dp / ep).
    std::array<int, plan::kDimCount> position{};
    std::vector<int> sizes;
    for (std::size_t i = 0; i < p.order.size(); ++i) {
        const plan::Dim d = p.order[i];
        position[static_cast<std::size_t>(d)] = static_cast<int>(i);
        switch (d) {
            case plan::Dim::tensor: sizes.push_back(p.tp); break;
            case plan::Dim::context: sizes.push_back(p.cp); break;
            case plan::Dim::expert: sizes.push_back(p.ep); break;
            case plan::Dim::data: sizes.push_back(p.dp / p.ep); break;
            case plan::Dim::pipeline: sizes.push_back(p.pp); break;
        }
    }
    const hardware::Layout layout(sizes);
    auto at = [&](plan::Dim d) { return position[static_cast<std::size_t>(d)]; };
    std::array<cost::GroupSet, kGroupKinds> out;
    auto set = [&](GroupKind kind, std::vector<int> varying, bool rings, bool all_to_all, bool p2p) {
        cost::GroupSet& s = out[static_cast<std::size_t>(kind)];
        s.groups = layout.groups(varying);
        s.rings = rings;
        s.all_to_all = all_to_all;
        s.p2p = p2p;
    };
    using plan::Dim;
    set(GroupKind::tensor, {at(Dim::tensor)}, true, false, false);
    set(GroupKind::context, {at(Dim::context)}, false, false, true);
    set(GroupKind::expert, {at(Dim::expert)}, false, true, false);
    set(GroupKind::dense_data, {at(Dim::context), at(Dim::expert), at(Dim::data)}, true, false, false);
    set(GroupKind::expert_data, {at(Dim::context), at(Dim::data)}, true, false, false);
    set(GroupKind::pipeline, {at(Dim::pipeline)}, true, false, true);
    return out;
}

Scenario::Scenario(model::ModelSpec model, hardware::ClusterSpec cluster, plan::Plan plan)
    : Scenario(std::move(model), std::make_shared<const hardware::Topology>(std::move(cluster)), std::move(plan)) {}

Scenario::Scenario(model::ModelSpec model, std::shared_ptr<const hardware::Topology> topology, plan::Plan plan)
    : model_(std::move(model)),
      topology_(std::move(topology)),
      plan_(std::move(plan)),
      partition_(plan::partition(plan_, model_)),
      compute_(topology_->cluster().device, plan_.precision) {
    auto sets = place_groups(plan_);
    placed_.reserve(sets.size());
    for (auto& s : sets) placed_.emplace_back(*topology_, std::move(s));
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
