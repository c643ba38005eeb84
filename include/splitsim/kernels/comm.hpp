// Communication behind one interface: the processes a launcher started (ProcessGroup: MPI under
// mpirun, or this process alone) and collectives over backend tensors (Communicator: MPI for the
// CPU backend, NCCL for CUDA).
//
// Sizes follow nccl-tests (doc/PERFORMANCE.md): a collective of S bytes is an all-reduce or
// broadcast of an S-byte buffer, an all-gather whose gathered output is S, a reduce-scatter whose
// input is S, an all-to-all whose send buffer is S, and a send/recv of S bytes around a ring.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "splitsim/common/collective.hpp"
#include "splitsim/kernels/tensor.hpp"

namespace splitsim::kernels {

class ProcessGroup {
public:
    ProcessGroup() = default;
    ProcessGroup(const ProcessGroup&) = delete;
    ProcessGroup& operator=(const ProcessGroup&) = delete;
    virtual ~ProcessGroup() = default;

    [[nodiscard]] virtual int rank() const = 0;
    [[nodiscard]] virtual int size() const = 0;
    virtual void barrier() = 0;
    // A barrier whose waiting ranks sleep instead of spinning, so that on an oversubscribed CPU the
    // ranks still working keep the cores.
    virtual void quiet_barrier() = 0;
    // Element-wise maximum (sum) over all processes; every process gets the result.
    [[nodiscard]] virtual std::vector<double> max(std::span<const double> values) = 0;
    [[nodiscard]] virtual std::vector<double> sum(std::span<const double> values) = 0;
    // True on every process when `value` is true on every process.
    [[nodiscard]] virtual bool all(bool value) = 0;
    virtual void broadcast(std::span<std::byte> data, int root) = 0;
    // The processes with the same color, ordered by key (MPI_Comm_split).
    [[nodiscard]] virtual std::unique_ptr<ProcessGroup> split(int color, int key) = 0;
    // Ends every process of the run after an unrecoverable error on this one.
    [[noreturn]] virtual void abort(int code) = 0;
    // "Open MPI 4.1.4", or empty for a single process without MPI.
    [[nodiscard]] virtual std::string library_version() const = 0;
};

// This process alone.
std::unique_ptr<ProcessGroup> make_self_process_group();

// The groups of one parallel dimension: `size` ranks `stride` apart, ranks laid out innermost
// dimension first (Megatron-LM's order: a tensor-parallel group is `tp` consecutive ranks, a
// data-parallel group `dp` ranks tp x cp apart). Every rank of the world is in exactly one group
// when size x stride divides the world.
struct GroupLayout {
    int size = 1;
    int stride = 1;

    [[nodiscard]] constexpr int group_of(int rank) const { return rank / (size * stride) * stride + rank % stride; }
    [[nodiscard]] constexpr int position_of(int rank) const { return rank / stride % size; }
    [[nodiscard]] constexpr int rank_at(int group, int position) const {
        return group / stride * size * stride + group % stride + position * stride;
    }
    [[nodiscard]] constexpr bool fits(int world) const { return world % (size * stride) == 0; }
};

// Elements of each rank's send and receive buffer for a collective of `elements` (nccl-tests' S
// in elements) over `ranks` ranks; `elements` must be a multiple of `ranks`.
constexpr std::size_t send_elements(CollectiveKind k, std::size_t elements, int ranks) {
    return k == CollectiveKind::all_gather ? elements / static_cast<std::size_t>(ranks) : elements;
}
constexpr std::size_t recv_elements(CollectiveKind k, std::size_t elements, int ranks) {
    return k == CollectiveKind::reduce_scatter ? elements / static_cast<std::size_t>(ranks) : elements;
}

// One half of a point-to-point transfer between two ranks of a group: `elements` elements of
// `send` to, or into `recv` from, the rank at position `peer` (exactly one of send and recv is set).
struct Transfer {
    const Tensor* send = nullptr;
    Tensor* recv = nullptr;
    std::size_t elements = 0;
    int peer = 0;
};

class Communicator {
public:
    Communicator() = default;
    Communicator(const Communicator&) = delete;
    Communicator& operator=(const Communicator&) = delete;
    virtual ~Communicator() = default;

    [[nodiscard]] virtual const GroupLayout& layout() const = 0;
    // Ranks this process drives: 1 under mpirun, every local GPU for one CUDA process.
    [[nodiscard]] virtual int local_ranks() const = 0;
    // World rank of local rank i.
    [[nodiscard]] virtual int rank(int local) const = 0;

    // One collective on every local rank's buffers (send[i] and recv[i] belong to local rank i and
    // are sized by send_elements and recv_elements). Broadcast's root is position 0 of each group;
    // send/recv passes to the next position and receives from the previous one. Out of place, or in
    // place as NCCL defines it: an all-reduce with send = recv, an all-gather whose send buffer is
    // this rank's chunk of recv.
    virtual void run(CollectiveKind kind, std::size_t elements, std::span<const Tensor* const> send,
                     std::span<Tensor* const> recv) = 0;
    // Posts every transfer at once and completes them all (Megatron-LM's batched isend/irecv), so
    // two pipeline stages sending to each other do not deadlock. For a communicator of one local
    // rank; on CUDA the transfers are queued on the backend's stream like collectives.
    virtual void exchange(std::span<const Transfer> transfers) = 0;
    // Waits for the queued collectives; throws if the library reports an error or the wait exceeds
    // the communicator's timeout.
    virtual void synchronize() = 0;
    // Runs `work` warmup times, then times each of `repetitions` runs on every local rank (device
    // events on CUDA; a barrier and the wall clock with MPI) and returns, per run, the longest time
    // of this process's local ranks in seconds.
    [[nodiscard]] virtual std::vector<double> time(const std::function<void()>& work, int warmup,
                                                   int repetitions) = 0;
    // "Open MPI 4.1.4", "NCCL 2.28.9".
    [[nodiscard]] virtual std::string library_version() const = 0;
};

}  // namespace splitsim::kernels
