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

std::vector<std::vector<int>> Layout::groups(const std::vector<int>& varying) const {
    std::vector<bool> varies(sizes_.size(), false);
    for (int d : varying) varies[static_cast<std::size_t>(d)] = true;
    // A group is named by its smallest rank: the rank with every varying coordinate zero.
    std::vector<int> index_of_base(static_cast<std::size_t>(ranks_), -1);
    std::vector<std::vector<int>> out;
    for (int r = 0; r < ranks_; ++r) {
        int base = r;
        for (std::size_t d = 0; d < sizes_.size(); ++d) {
            if (varies[d]) base -= coordinate(r, static_cast<int>(d)) * strides_[d];
        }
        int& index = index_of_base[static_cast<std::size_t>(base)];
        if (index < 0) {
            index = static_cast<int>(out.size());
            out.emplace_back();
        }
        out[static_cast<std::size_t>(index)].push_back(r);
    }
    return out;
}

std::vector<int> Layout::group(int dim, int rank) const {
    return subgroup(dim, rank, 0, sizes_[static_cast<std::size_t>(dim)]);
}

}  // namespace splitsim::hardware
