// Ranks laid out over parallel dimensions, innermost first, as Megatron-LM's RankGenerator lays
// them ("tp-cp-ep-dp-pp"): rank = sum_i coord_i * stride_i, and rank r runs on device r (devices
// fill node 0 first, then node 1, ...).
#pragma once

#include <vector>

namespace splitsim::hardware {

class Layout {
public:
    // Sizes of the dimensions, innermost first.
    explicit Layout(std::vector<int> sizes);

    [[nodiscard]] int ranks() const { return ranks_; }
    [[nodiscard]] int stride(int dim) const { return strides_[static_cast<std::size_t>(dim)]; }
    [[nodiscard]] int coordinate(int rank, int dim) const;
    // The ranks that differ from `rank` only in dimension `dim`, in coordinate order.
    [[nodiscard]] std::vector<int> group(int dim, int rank) const;
    // The ranks that differ from `rank` only in dimension `dim`, restricted to coordinates
    // [first, first + count) of that dimension (expert groups carved out of data parallelism).
    [[nodiscard]] std::vector<int> subgroup(int dim, int rank, int first, int count) const;
    // Every group of ranks that differ only in the dimensions `varying`, each in rank order; the
    // group of rank 0 comes first.
    [[nodiscard]] std::vector<std::vector<int>> groups(const std::vector<int>& varying) const;

private:
    std::vector<int> sizes_;
    std::vector<int> strides_;
    int ranks_ = 1;
};

}  // namespace splitsim::hardware
