// A model of PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, PyTorch 2.5),
// to turn a sequence of allocations into the memory the allocator reserves from the device:
//  - every request is rounded up to a multiple of 512 bytes (kMinBlockSize);
//  - requests up to 1 MiB (kSmallSize) come from the small pool, whose segments are 2 MiB
//    (kSmallBuffer); larger ones from the large pool, whose segments are 20 MiB (kLargeBuffer) for
//    requests under 10 MiB (kMinLargeAlloc) and the request rounded up to 2 MiB (kRoundLarge) above;
//  - a request takes the smallest free cached block of its pool that holds it (best fit, the
//    lowest address among equals) and splits off the rest when more than 1 MiB remains (large
//    pool) or at least 512 bytes (small pool); a segment is reserved only when no block fits;
//  - a freed block merges with free neighbours of its segment and stays cached: segments are
//    never returned (no empty_cache), so reserved memory is the high-water mark of the segments.
// Defaults of PYTORCH_CUDA_ALLOC_CONF: no max_split_size_mb, no expandable segments, one stream.
#pragma once

#include <cstddef>
#include <vector>

#include "splitsim/common/units.hpp"

namespace splitsim::cost {

class CachingAllocator {
public:
    using Handle = std::size_t;

    Handle allocate(Bytes size);
    void free(Handle handle);

    [[nodiscard]] Bytes allocated() const { return Bytes(allocated_); }
    [[nodiscard]] Bytes reserved() const { return Bytes(reserved_); }
    [[nodiscard]] Bytes peak_allocated() const { return Bytes(peak_allocated_); }

    // The size a request of `size` bytes occupies in a block (512-byte multiple).
    static double block_size(double size);
    // The segment the allocator reserves for a request of `size` bytes when no cached block holds it.
    static double segment_size(double size);

private:
    // Every block of every segment, ordered by segment and address; a block records the handle
    // allocated in it (or none when free).
    struct Block {
        std::size_t segment = 0;
        double offset = 0;
        double size = 0;
        bool small = false;
        std::size_t handle = kFree;
    };
    static constexpr std::size_t kFree = static_cast<std::size_t>(-1);
    std::vector<Block> blocks_;
    std::size_t segments_ = 0;
    std::size_t handles_ = 0;
    double allocated_ = 0, reserved_ = 0, peak_allocated_ = 0;
};

}  // namespace splitsim::cost
