// The data the harness sends through a collective and what each rank must receive, after
// nccl-tests' data check: small integers (1, 2 or 3) whose sums over up to 85 ranks are exact in
// fp32, fp16 and bf16 (integers up to 256 are exact in bf16), so a check can ask for equality.
// Host and device code share these functions (the CUDA backend fills and checks on the GPU).
#pragma once

#include "splitsim/kernels/host_device.hpp"

#include <cstddef>

#include "splitsim/common/collective.hpp"


namespace splitsim::kernels {

// Element `index` of the send buffer of the rank at `position` in its group.
SPLITSIM_HOST_DEVICE inline float pattern_value(int position, std::size_t index) {
    return static_cast<float>((static_cast<std::size_t>(position) + index) % 3 + 1);
}

// Element `index` of the receive buffer (of `recv_count` elements) of the rank at `position` in a
// group of `ranks` after the collective (the semantics of Communicator::run).
SPLITSIM_HOST_DEVICE inline float expected_value(CollectiveKind kind, int ranks, int position, std::size_t recv_count,
                                                 std::size_t index) {
    const std::size_t n = static_cast<std::size_t>(ranks);
    const std::size_t p = static_cast<std::size_t>(position);
    switch (kind) {
        case CollectiveKind::all_reduce: {
            float sum = 0;
            for (int j = 0; j < ranks; ++j) sum += pattern_value(j, index);
            return sum;
        }
        case CollectiveKind::all_gather: {
            const std::size_t chunk = recv_count / n;
            return pattern_value(static_cast<int>(index / chunk), index % chunk);
        }
        case CollectiveKind::reduce_scatter: {
            float sum = 0;
            for (int j = 0; j < ranks; ++j) sum += pattern_value(j, p * recv_count + index);
            return sum;
        }
        case CollectiveKind::all_to_all: {
            const std::size_t chunk = recv_count / n;
            return pattern_value(static_cast<int>(index / chunk), p * chunk + index % chunk);
        }
        case CollectiveKind::broadcast: return pattern_value(0, index);
        case CollectiveKind::send_recv: return pattern_value(static_cast<int>((p + n - 1) % n), index);
    }
    return -1;
}

}  // namespace splitsim::kernels
