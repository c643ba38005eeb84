#include "splitsim/sim/scenario.hpp"

#include "splitsim/hardware/layout.hpp"

namespace splitsim::sim {

Groups place_groups(const plan::Plan& p) {
    // Megatron-LM's default order, innermost first: tp, cp, (ep within) dp, pp.
    enum { kTensor, kContext, kData, kPipeline };
    const hardware::Layout layout({p.tp, p.cp, p.dp, p.pp});
    Groups g;
    g.tensor = layout.group(kTensor, 0);
    g.context = layout.group(kContext, 0);
    g.pipeline = layout.group(kPipeline, 0);
    g.expert = layout.subgroup(kData, 0, 0, p.ep);
    for (int d = 0; d < p.dp; ++d) {
        for (int c = 0; c < p.cp; ++c) {
            const int rank = c * layout.stride(kContext) + d * layout.stride(kData);
            g.dense_data.push_back(rank);
            if (d % p.ep == 0) g.expert_data.push_back(rank);
        }
    }
    return g;
}

Scenario::Scenario(model::ModelSpec model, hardware::ClusterSpec cluster, plan::Plan plan)
    : model_(std::move(model)),
      cluster_(std::move(cluster)),
      plan_(std::move(plan)),
      partition_(plan::partition(plan_, model_)),
      groups_(place_groups(plan_)),
      compute_(cluster_.device, plan_.precision),
      collectives_(cluster_) {}

const std::vector<int>& Scenario::group_of(plan::Dim dim) const {
    switch (dim) {
        case plan::Dim::tensor: return groups_.tensor;
        case plan::Dim::context: return groups_.context;
        case plan::Dim::expert: return groups_.expert;
        case plan::Dim::data: return groups_.dense_data;
        case plan::Dim::pipeline: return groups_.pipeline;
    }
    return groups_.tensor;
}

Seconds Scenario::collective_time(const plan::Collective& c) const {
    const std::vector<int>& group = group_of(c.dim);
    if (c.kind == CollectiveKind::send_recv && c.dim == plan::Dim::context) {
        // Ring neighbours: this rank and the next in its context group.
        return collectives_.estimate(c.kind, c.bytes, {group[0], group[1 % group.size()]}).time;
    }
    return collectives_.estimate(c.kind, c.bytes, group).time;
}

}  // namespace splitsim::sim
