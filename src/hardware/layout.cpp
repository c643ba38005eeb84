#include "splitsim/hardware/layout.hpp"

#include <cassert>

namespace splitsim::hardware {

Layout::Layout(std::vector<int> sizes) : sizes_(std::move(sizes)) {
    for (int s : sizes_) {
        assert(s >= 1);
        strides_.push_back(ranks_);
        ranks_ *= s;
    }
}

int Layout::coordinate(int rank, int dim) const {
    const auto d = static_cast<std::size_t>(dim);
    return (rank / strides_[d]) % sizes_[d];
}

std::vector<int> Layout::subgroup(int dim, int rank, int first, int count) const {
    const auto d = static_cast<std::size_t>(dim);
    const int base = rank - coordinate(rank, dim) * strides_[d];
    std::vector<int> out;
    out.reserve(static_cast<std::size_t>(count));
    for (int c = first; c < first + count; ++c) out.push_back(base + c * strides_[d]);
    return out;
}

std::vector<int> Layout::group(int dim, int rank) const {
    return subgroup(dim, rank, 0, sizes_[static_cast<std::size_t>(dim)]);
}

}  // namespace splitsim::hardware
