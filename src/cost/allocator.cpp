#include "splitsim/cost/allocator.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace splitsim::cost {
namespace {

// c10/cuda/CUDACachingAllocator.cpp (PyTorch 2.5).
constexpr double kMinBlockSize = 512;
constexpr double kSmallSize = 1048576;
constexpr double kSmallBuffer = 2097152;
constexpr double kLargeBuffer = 20971520;
constexpr double kMinLargeAlloc = 10485760;
constexpr double kRoundLarge = 2097152;

double round_up(double size, double unit) { return std::ceil(size / unit) * unit; }

}  // namespace

double CachingAllocator::block_size(double size) { return size < kMinBlockSize ? kMinBlockSize : round_up(size, kMinBlockSize); }

double CachingAllocator::segment_size(double size) {
    if (size <= kSmallSize) return kSmallBuffer;
    if (size < kMinLargeAlloc) return kLargeBuffer;
    return round_up(size, kRoundLarge);
}

CachingAllocator::Handle CachingAllocator::allocate(Bytes request) {
    const double size = block_size(std::max(request.value(), 1.0));
    const bool small = size <= kSmallSize;
    // Best fit among the free blocks of the request's pool (the lowest address among equals).
    std::size_t best = blocks_.size();
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
        const Block& k = blocks_[b];
        if (k.handle == kFree && k.small == small && k.size >= size && (best == blocks_.size() || k.size < blocks_[best].size)) {
            best = b;
        }
    }
    if (best == blocks_.size()) {
        const double reserve = segment_size(size);
        blocks_.push_back({segments_++, 0, reserve, small, kFree});
        reserved_ += reserve;
    }
    const double remaining = blocks_[best].size - size;
    if (small ? remaining >= kMinBlockSize : remaining > kSmallSize) {
        const Block rest{blocks_[best].segment, blocks_[best].offset + size, remaining, small, kFree};
        blocks_[best].size = size;
        blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(best) + 1, rest);
    }
    blocks_[best].handle = handles_;
    allocated_ += blocks_[best].size;
    peak_allocated_ = std::max(peak_allocated_, allocated_);
    return handles_++;
}

void CachingAllocator::free(Handle handle) {
    std::size_t b = 0;
    while (b < blocks_.size() && blocks_[b].handle != handle) ++b;
    assert(b < blocks_.size());
    blocks_[b].handle = kFree;
    allocated_ -= blocks_[b].size;
    // Merge with the free neighbours of its segment.
    auto mergeable = [&](std::size_t i, std::size_t j) {
        return blocks_[i].segment == blocks_[j].segment && blocks_[i].handle == kFree && blocks_[j].handle == kFree;
    };
    if (b + 1 < blocks_.size() && mergeable(b, b + 1)) {
        blocks_[b].size += blocks_[b + 1].size;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b) + 1);
    }
    if (b > 0 && mergeable(b - 1, b)) {
        blocks_[b - 1].size += blocks_[b].size;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b));
    }
}

}  // namespace splitsim::cost
