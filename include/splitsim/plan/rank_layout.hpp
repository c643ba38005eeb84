// Where a plan's ranks lie: its dimensions laid onto consecutive ranks in the plan's order,
// innermost first, as Megatron-LM's RankGenerator lays them ("tp-cp-ep-dp-pp"). Data parallelism
// splits into its expert part (ep ranks) and the rest (dp / ep ranks), so the dense data-parallel
// group spans both. Expert layers are laid out by a second generator without context parallelism
// (Megatron-Core parallel_state: expert ranks tp apart, expert data parallelism dp x cp / ep), which
// differs from the first only when cp > 1. The simulator, the harness's collective benchmarks and
// its GPT ranks all place ranks through this one layout.
#pragma once

#include "splitsim/hardware/layout.hpp"
#include "splitsim/plan/plan.hpp"

#include <array>
#include <initializer_list>
#include <optional>

namespace splitsim::plan {

// Ranks `stride` apart, `size` of them: one group of a run of ranks.
struct StridedGroup {
    int size = 1;
    int stride = 1;
};

class RankLayout {
public:
    explicit RankLayout(const Plan& plan);

    [[nodiscard]] const hardware::Layout& layout() const { return layout_; }
    // The expert layers' layout: the same order, context folded into data (sizes tp, 1, ep,
    // dp x cp / ep, pp); expert and expert-data groups vary its expert and data dimensions.
    [[nodiscard]] const hardware::Layout& expert_layout() const { return expert_layout_; }
    // The dimension's place in layout() (its index into the plan's order).
    [[nodiscard]] int position(Dim d) const { return position_[static_cast<std::size_t>(d)]; }
    [[nodiscard]] int size(Dim d) const { return sizes_[static_cast<std::size_t>(d)]; }
    [[nodiscard]] int stride(Dim d) const { return layout_.stride(position(d)); }
    // The group of ranks that differ only in `dims`, as one strided run, where it is one: the
    // dimensions of more than one rank among `dims` must be neighbours in the order. The dense
    // data-parallel group {expert, data} is one run when expert lies just inside data.
    [[nodiscard]] std::optional<StridedGroup> run(std::initializer_list<Dim> dims) const;
    // An expert-parallel group: ep ranks, as expert_layout() spaces them.
    [[nodiscard]] StridedGroup expert_run() const;

private:
    std::array<int, kDimCount> sizes_{};
    std::array<Dim, kDimCount> order_{};
    std::array<int, kDimCount> position_{};
    hardware::Layout layout_;
    hardware::Layout expert_layout_;
};

}  // namespace splitsim::plan
