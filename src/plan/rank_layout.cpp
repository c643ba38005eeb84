#include "splitsim/plan/rank_layout.hpp"

#include <algorithm>
#include <vector>

namespace splitsim::plan {

namespace {

std::array<int, kDimCount> dimension_sizes(const Plan& p) {
    std::array<int, kDimCount> s{};
    s[static_cast<std::size_t>(Dim::tensor)] = p.tp;
    s[static_cast<std::size_t>(Dim::context)] = p.cp;
    s[static_cast<std::size_t>(Dim::expert)] = p.ep;
    s[static_cast<std::size_t>(Dim::data)] = p.dp / p.ep;
    s[static_cast<std::size_t>(Dim::pipeline)] = p.pp;
    return s;
}

// Megatron-Core's expert RankGenerator: cp = 1, expert data parallelism dp x cp / ep.
std::array<int, kDimCount> expert_sizes(std::array<int, kDimCount> s) {
    s[static_cast<std::size_t>(Dim::data)] *= s[static_cast<std::size_t>(Dim::context)];
    s[static_cast<std::size_t>(Dim::context)] = 1;
    return s;
}

hardware::Layout layout_in_order(const std::array<Dim, kDimCount>& order, const std::array<int, kDimCount>& sizes) {
    std::vector<int> ordered;
    for (const Dim d : order) ordered.push_back(sizes[static_cast<std::size_t>(d)]);
    return hardware::Layout(std::move(ordered));
}

}  // namespace

RankLayout::RankLayout(const Plan& plan)
    : sizes_(dimension_sizes(plan)),
      order_(plan.order),
      layout_(layout_in_order(order_, sizes_)),
      expert_layout_(layout_in_order(order_, expert_sizes(sizes_))) {
    for (std::size_t i = 0; i < order_.size(); ++i) position_[static_cast<std::size_t>(order_[i])] = static_cast<int>(i);
}

std::optional<StridedGroup> RankLayout::run(std::initializer_list<Dim> dims) const {
    auto member = [&](Dim d) { return std::find(dims.begin(), dims.end(), d) != dims.end(); };
    StridedGroup g;
    bool started = false, ended = false;
    for (const Dim d : order_) {
        if (size(d) == 1) continue;  // a dimension of one rank separates nothing
        if (member(d)) {
            if (ended) return std::nullopt;
            if (!started) g.stride = stride(d);
            started = true;
            g.size *= size(d);
        } else if (started) {
            ended = true;
        }
    }
    return g;
}

StridedGroup RankLayout::expert_run() const {
    return {size(Dim::expert), expert_layout_.stride(position(Dim::expert))};
}

}  // namespace splitsim::plan
