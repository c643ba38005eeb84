// NCCL collectives for the CUDA backend, queued on each local rank's backend stream. Waits poll the
// streams and ncclCommGetAsyncError; an error or a wait past the timeout aborts the communicators
// (ncclCommAbort) and throws, so a hung or failed collective never yields a time.
#include <nccl.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "check.hpp"
#include "splitsim/kernels/nccl.hpp"

namespace splitsim::kernels::nccl {
namespace {

using cuda::CudaBackend;
using cuda::DeviceGuard;
using cuda::Event;

// Owns one ncclComm_t: destroyed normally, aborted after an error.
class Comm {
public:
    Comm() = default;
    explicit Comm(ncclComm_t c) : comm_(c) {}
    ~Comm() {
        if (comm_ != nullptr && ncclCommDestroy(comm_) != ncclSuccess) std::fprintf(stderr, "splitsim: ncclCommDestroy failed\n");
    }
    Comm(Comm&& o) noexcept : comm_(std::exchange(o.comm_, nullptr)) {}
    Comm& operator=(Comm&& o) noexcept {
        std::swap(comm_, o.comm_);
        return *this;
    }
    Comm(const Comm&) = delete;
    Comm& operator=(const Comm&) = delete;
    [[nodiscard]] ncclComm_t get() const { return comm_; }
    void abort() {
        if (comm_ != nullptr) ncclCommAbort(comm_);
        comm_ = nullptr;
    }

private:
    ncclComm_t comm_ = nullptr;
};

ncclDataType_t nccl_type(DType t) {
    switch (t) {
        case DType::fp32: return ncclFloat32;
        case DType::fp16: return ncclFloat16;
        case DType::bf16: return ncclBfloat16;
        case DType::int32: return ncclInt32;
    }
    return ncclFloat32;
}

std::string version_string() {
    int v = 0;
    CHECK_NCCL(ncclGetVersion(&v));
    // NCCL_VERSION(X, Y, Z) = X * 10000 + Y * 100 + Z since 2.9 (nccl.h).
    return "NCCL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

class NcclCommunicator final : public Communicator {
public:
    NcclCommunicator(ProcessGroup& world, std::span<Backend* const> local, GroupLayout layout, double timeout_s)
        : layout_(layout), timeout_s_(timeout_s) {
        for (Backend* b : local) {
            auto* cuda = dynamic_cast<CudaBackend*>(b);
            if (cuda == nullptr) throw std::invalid_argument("NCCL collectives need CUDA backends");
            backends_.push_back(cuda);
        }
        const int locals = static_cast<int>(backends_.size());
        if (locals == 0) throw std::invalid_argument("no local GPUs for NCCL");
        if (locals > 1 && world.size() > 1) {
            throw std::invalid_argument("one process per GPU under mpirun, or one process for all local GPUs");
        }
        first_rank_ = world.rank() * locals;
        const int ranks = world.size() * locals;
        if (!layout.fits(ranks)) {
            throw std::invalid_argument("groups of " + std::to_string(layout.size) + " ranks " +
                                        std::to_string(layout.stride) + " apart do not tile " + std::to_string(ranks) +
                                        " ranks");
        }
        comms_.resize(backends_.size());
        if (world.size() > 1) {
            // nccl-tests' bootstrap: the group's first rank creates the id, MPI carries it.
            const int rank = first_rank_;
            auto group = world.split(layout.group_of(rank), layout.position_of(rank));
            ncclUniqueId id{};
            if (group->rank() == 0) CHECK_NCCL(ncclGetUniqueId(&id));
            group->broadcast(std::as_writable_bytes(std::span<ncclUniqueId, 1>(&id, 1)), 0);
            DeviceGuard guard(backends_[0]->device());
            ncclComm_t c = nullptr;
            CHECK_NCCL(ncclCommInitRank(&c, layout.size, id, group->rank()));
            comms_[0] = Comm(c);
        } else {
            const int groups = ranks / layout.size;
            for (int g = 0; g < groups; ++g) {
                std::vector<int> devices;
                for (int p = 0; p < layout.size; ++p) devices.push_back(backends_[static_cast<std::size_t>(layout.rank_at(g, p))]->device());
                std::vector<ncclComm_t> made(devices.size(), nullptr);
                CHECK_NCCL(ncclCommInitAll(made.data(), layout.size, devices.data()));
                for (int p = 0; p < layout.size; ++p) comms_[static_cast<std::size_t>(layout.rank_at(g, p))] = Comm(made[static_cast<std::size_t>(p)]);
            }
        }
    }

    [[nodiscard]] const GroupLayout& layout() const override { return layout_; }
    [[nodiscard]] int local_ranks() const override { return static_cast<int>(backends_.size()); }
    [[nodiscard]] int rank(int local) const override { return first_rank_ + local; }

    void run(CollectiveKind kind, std::size_t elements, std::span<const Tensor* const> send,
             std::span<Tensor* const> recv) override {
        if (send.size() != backends_.size() || recv.size() != backends_.size()) {
            throw std::invalid_argument("one send and one receive buffer per local rank");
        }
        const int n = layout_.size;
        const std::size_t chunk = elements / static_cast<std::size_t>(n);
        CHECK_NCCL(ncclGroupStart());
        for (std::size_t i = 0; i < backends_.size(); ++i) {
            const void* in = send[i]->data();
            void* out = recv[i]->data();
            const ncclDataType_t type = nccl_type(send[i]->dtype());
            const ncclComm_t comm = comms_[i].get();
            const cudaStream_t stream = backends_[i]->stream();
            const int position = layout_.position_of(rank(static_cast<int>(i)));
            const std::size_t bytes = size_of(send[i]->dtype());
            switch (kind) {
                case CollectiveKind::all_reduce:
                    CHECK_NCCL(ncclAllReduce(in, out, elements, type, ncclSum, comm, stream));
                    break;
                case CollectiveKind::all_gather: CHECK_NCCL(ncclAllGather(in, out, chunk, type, comm, stream)); break;
                case CollectiveKind::reduce_scatter:
                    CHECK_NCCL(ncclReduceScatter(in, out, chunk, type, ncclSum, comm, stream));
                    break;
                case CollectiveKind::all_to_all:
                    // As nccl-tests' alltoall: one send and one receive per peer, grouped.
                    for (int peer = 0; peer < n; ++peer) {
                        CHECK_NCCL(ncclSend(static_cast<const char*>(in) + static_cast<std::size_t>(peer) * chunk * bytes,
                                            chunk, type, peer, comm, stream));
                        CHECK_NCCL(ncclRecv(static_cast<char*>(out) + static_cast<std::size_t>(peer) * chunk * bytes, chunk,
                                            type, peer, comm, stream));
                    }
                    break;
                case CollectiveKind::broadcast:
                    CHECK_NCCL(ncclBroadcast(in, out, elements, type, 0, comm, stream));
                    break;
                case CollectiveKind::send_recv:
                    CHECK_NCCL(ncclSend(in, elements, type, (position + 1) % n, comm, stream));
                    CHECK_NCCL(ncclRecv(out, elements, type, (position + n - 1) % n, comm, stream));
                    break;
            }
        }
        CHECK_NCCL(ncclGroupEnd());
    }

    void exchange(std::span<const Transfer> transfers) override {
        if (backends_.size() != 1) throw std::invalid_argument("NCCL exchange: one local rank per communicator");
        const ncclComm_t comm = comms_[0].get();
        const cudaStream_t stream = backends_[0]->stream();
        for (const Transfer& t : transfers) {
            const Tensor* buffer = t.send != nullptr ? t.send : t.recv;
            if ((t.send == nullptr) == (t.recv == nullptr)) throw std::invalid_argument("a transfer sends or receives");
            if (t.peer < 0 || t.peer >= layout_.size) throw std::invalid_argument("transfer peer outside the group");
            if (buffer->elements() < t.elements) throw std::invalid_argument("transfer buffer smaller than the message");
        }
        DeviceGuard guard(backends_[0]->device());
        CHECK_NCCL(ncclGroupStart());
        for (const Transfer& t : transfers) {
            if (t.send != nullptr) {
                CHECK_NCCL(ncclSend(t.send->data(), t.elements, nccl_type(t.send->dtype()), t.peer, comm, stream));
            } else {
                CHECK_NCCL(ncclRecv(t.recv->data(), t.elements, nccl_type(t.recv->dtype()), t.peer, comm, stream));
            }
        }
        CHECK_NCCL(ncclGroupEnd());
    }

    void synchronize() override { wait(); }

    [[nodiscard]] std::vector<double> time(const std::function<void()>& work, int warmup, int repetitions) override {
        for (int i = 0; i < warmup; ++i) work();
        wait();
        const std::size_t locals = backends_.size();
        const auto reps = static_cast<std::size_t>(repetitions);
        std::vector<Event> start;
        std::vector<Event> stop;
        for (std::size_t i = 0; i < locals; ++i) {
            DeviceGuard guard(backends_[i]->device());
            for (std::size_t r = 0; r < reps; ++r) {
                start.emplace_back();
                stop.emplace_back();
            }
        }
        for (std::size_t r = 0; r < reps; ++r) {
            record(start, r, reps);
            work();
            record(stop, r, reps);
        }
        wait();
        std::vector<double> out(reps, 0.0);
        for (std::size_t i = 0; i < locals; ++i) {
            for (std::size_t r = 0; r < reps; ++r) {
                float ms = 0;
                CHECK_CUDA(cudaEventElapsedTime(&ms, start[i * reps + r].get(), stop[i * reps + r].get()));
                out[r] = std::max(out[r], ms * 1e-3);
            }
        }
        return out;
    }

    [[nodiscard]] std::string library_version() const override { return version_string(); }

private:
    void record(std::vector<Event>& events, std::size_t r, std::size_t reps) {
        for (std::size_t i = 0; i < backends_.size(); ++i) {
            DeviceGuard guard(backends_[i]->device());
            CHECK_CUDA(cudaEventRecord(events[i * reps + r].get(), backends_[i]->stream()));
        }
    }

    // Polls every local stream until done; checks NCCL's asynchronous errors and the deadline.
    void wait() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
        for (;;) {
            bool done = true;
            for (std::size_t i = 0; i < backends_.size(); ++i) {
                DeviceGuard guard(backends_[i]->device());
                const cudaError_t rc = cudaStreamQuery(backends_[i]->stream());
                if (rc == cudaErrorNotReady) {
                    done = false;
                } else if (rc != cudaSuccess) {
                    abort_all();
                    CHECK_CUDA(rc);
                }
                ncclResult_t state = ncclSuccess;
                CHECK_NCCL(ncclCommGetAsyncError(comms_[i].get(), &state));
                if (state != ncclSuccess && state != ncclInProgress) {
                    const std::string what = ncclGetErrorString(state);
                    abort_all();
                    throw std::runtime_error("NCCL reported an asynchronous error on rank " +
                                             std::to_string(rank(static_cast<int>(i))) + ": " + what);
                }
            }
            if (done) return;
            if (std::chrono::steady_clock::now() > deadline) {
                abort_all();
                throw std::runtime_error("NCCL collective did not complete within " + std::to_string(timeout_s_) +
                                         " s (communicators aborted)");
            }
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
    }

    void abort_all() {
        for (Comm& c : comms_) c.abort();
    }

    GroupLayout layout_;
    double timeout_s_;
    std::vector<CudaBackend*> backends_;
    std::vector<Comm> comms_;
    int first_rank_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_communicator(ProcessGroup& world, std::span<Backend* const> local, GroupLayout layout,
                                                double timeout_s) {
    return std::make_unique<NcclCommunicator>(world, local, layout, timeout_s);
}

}  // namespace splitsim::kernels::nccl
