// Collective operations and the nccl-tests conventions for their sizes and bandwidths.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

namespace splitsim {

enum class CollectiveKind { all_reduce, all_gather, reduce_scatter, all_to_all, broadcast, send_recv };

inline constexpr CollectiveKind kAllCollectives[] = {CollectiveKind::all_reduce,     CollectiveKind::all_gather,
                                                     CollectiveKind::reduce_scatter, CollectiveKind::all_to_all,
                                                     CollectiveKind::broadcast,      CollectiveKind::send_recv};

constexpr std::string_view to_string(CollectiveKind k) {
    switch (k) {
        case CollectiveKind::all_reduce: return "all_reduce";
        case CollectiveKind::all_gather: return "all_gather";
        case CollectiveKind::reduce_scatter: return "reduce_scatter";
        case CollectiveKind::all_to_all: return "all_to_all";
        case CollectiveKind::broadcast: return "broadcast";
        case CollectiveKind::send_recv: return "send_recv";
    }
    return "?";
}

// A collective by the name nccl-tests gives it (allreduce, allgather, reducescatter, alltoall,
// broadcast, sendrecv) or by to_string's name (all_reduce, ...).
constexpr std::optional<CollectiveKind> collective_from_string(std::string_view name) {
    constexpr std::pair<std::string_view, CollectiveKind> names[] = {
        {"allreduce", CollectiveKind::all_reduce},         {"allgather", CollectiveKind::all_gather},
        {"reducescatter", CollectiveKind::reduce_scatter}, {"alltoall", CollectiveKind::all_to_all},
        {"broadcast", CollectiveKind::broadcast},          {"sendrecv", CollectiveKind::send_recv}};
    for (const auto& [n, kind] : names) {
        if (name == n || name == to_string(kind)) return kind;
    }
    return std::nullopt;
}

// busbw = algbw x factor, algbw = S / t, where S is the size nccl-tests reports: the whole buffer
// for all-reduce and broadcast, the gathered output for all-gather, the input for reduce-scatter,
// the send buffer for all-to-all (nccl-tests doc/PERFORMANCE.md).
constexpr double bus_bandwidth_factor(CollectiveKind k, int ranks) {
    const double n = ranks;
    switch (k) {
        case CollectiveKind::all_reduce: return 2.0 * (n - 1) / n;
        case CollectiveKind::all_gather:
        case CollectiveKind::reduce_scatter:
        case CollectiveKind::all_to_all: return (n - 1) / n;
        case CollectiveKind::broadcast:
        case CollectiveKind::send_recv: return 1.0;
    }
    return 1.0;
}

}  // namespace splitsim
