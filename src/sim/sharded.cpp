#include "splitsim/sim/sharded.hpp"

#include <algorithm>
#include <cmath>

namespace splitsim::sim {

std::vector<ShardUnit> shard_units(const plan::Plan& p, const std::vector<model::Op>& ops) {
    std::vector<ShardUnit> out;
    if (p.zero < 3) return out;
    const plan::ShardedParameters s = plan::behaviour(p).sharded;
    const int n = static_cast<int>(ops.size());
    if (s.unit == plan::ShardedParameters::Unit::layer) {
        // The block's pre-forward hook gathers everything before its first op.
        ShardUnit u{0, n, 0.0};
        for (const model::Op& op : ops) {
            if (op.parameters > s.persistence_threshold) u.parameters += op.parameters;
        }
        if (u.parameters > 0) out.push_back(u);
        return out;
    }
    for (int i = 0; i < n; ++i) {
        const double params = ops[static_cast<std::size_t>(i)].parameters;
        if (params > s.persistence_threshold) out.push_back({i, i + 1, params});
    }
    // Each unit covers the ops up to the next one's.
    for (std::size_t k = 0; k + 1 < out.size(); ++k) out[k].end = out[k + 1].position;
    if (!out.empty()) out.back().end = n;
    return out;
}

int prefetch_depth(const plan::ShardedParameters& s, double unit_parameters) {
    if (s.synchronous_fetch) return 0;
    if (s.prefetch_parameters > 0) {
        return std::max(1, static_cast<int>(std::floor(s.prefetch_parameters / std::max(unit_parameters, 1.0))));
    }
    return s.prefetch_units;
}

Seconds sharded_overhead(const Scenario& sc) {
    if (!plan::behaviour(sc.plan()).sharded.tensor_list_collectives) return Seconds(0);
    return sc.cluster().device.kernels.launch_overhead * static_cast<double>(sc.groups(GroupKind::dense_data).ranks());
}

double gathered_bytes_per_parameter(const plan::Plan& p) { return element_bytes(p.precision) >= 4 ? 4.0 : 2.0; }

}  // namespace splitsim::sim
