// MPI process groups and the CPU backend's collectives. Every MPI call is checked: communicators
// return errors (MPI_ERRORS_RETURN) and CHECK_MPI turns them into exceptions naming the call, the
// file, the line and MPI's error string.
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "splitsim/kernels/mpi.hpp"

#define CHECK_MPI(call)                                                                                  \
    do {                                                                                                 \
        const int splitsim_mpi_rc = (call);                                                              \
        if (splitsim_mpi_rc != MPI_SUCCESS) ::splitsim::kernels::mpi::fail(#call, splitsim_mpi_rc, __FILE__, __LINE__); \
    } while (false)

namespace splitsim::kernels::mpi {

[[noreturn]] void fail(const char* call, int rc, const char* file, int line);

void fail(const char* call, int rc, const char* file, int line) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) std::strcpy(text, "unknown MPI error");
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + text);
}

namespace {

std::string version_string() {
#if defined(OMPI_MAJOR_VERSION)
    return "Open MPI " + std::to_string(OMPI_MAJOR_VERSION) + "." + std::to_string(OMPI_MINOR_VERSION) + "." +
           std::to_string(OMPI_RELEASE_VERSION);
#else
    char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
    int length = 0;
    CHECK_MPI(MPI_Get_library_version(text, &length));
    std::string s(text, static_cast<std::size_t>(length));
    if (const auto eol = s.find_first_of(",\n"); eol != std::string::npos) s.resize(eol);
    return s;
#endif
}

class MpiProcessGroup final : public ProcessGroup {
public:
    // Owns `comm` (freed on destruction) unless it is MPI_COMM_WORLD.
    explicit MpiProcessGroup(MPI_Comm comm, bool finalize) : comm_(comm), finalize_(finalize) {
        CHECK_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
        CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
        CHECK_MPI(MPI_Comm_size(comm_, &size_));
    }
    ~MpiProcessGroup() override {
        if (comm_ != MPI_COMM_WORLD) MPI_Comm_free(&comm_);
        if (finalize_) MPI_Finalize();
    }

    [[nodiscard]] MPI_Comm comm() const { return comm_; }
    [[nodiscard]] int rank() const override { return rank_; }
    [[nodiscard]] int size() const override { return size_; }
    void barrier() override { CHECK_MPI(MPI_Barrier(comm_)); }
    void quiet_barrier() override {
        MPI_Request request = MPI_REQUEST_NULL;
        CHECK_MPI(MPI_Ibarrier(comm_, &request));
        int done = 0;
        for (;;) {
            CHECK_MPI(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
            if (done) break;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    [[nodiscard]] std::vector<double> max(std::span<const double> values) override {
        std::vector<double> out(values.size());
        CHECK_MPI(MPI_Allreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MAX, comm_));
        return out;
    }
    [[nodiscard]] std::vector<double> sum(std::span<const double> values) override {
        std::vector<double> out(values.size());
        CHECK_MPI(MPI_Allreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, comm_));
        return out;
    }
    [[nodiscard]] bool all(bool value) override {
        int in = value ? 1 : 0;
        int out = 0;
        CHECK_MPI(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LAND, comm_));
        return out != 0;
    }
    void broadcast(std::span<std::byte> data, int root) override {
        CHECK_MPI(MPI_Bcast(data.data(), static_cast<int>(data.size()), MPI_BYTE, root, comm_));
    }
    [[nodiscard]] std::unique_ptr<ProcessGroup> split(int color, int key) override {
        MPI_Comm sub = MPI_COMM_NULL;
        CHECK_MPI(MPI_Comm_split(comm_, color, key, &sub));
        return std::make_unique<MpiProcessGroup>(sub, false);
    }
    [[noreturn]] void abort(int code) override {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::_Exit(code);
    }
    [[nodiscard]] std::string library_version() const override { return version_string(); }

private:
    MPI_Comm comm_;
    bool finalize_;
    int rank_ = 0;
    int size_ = 1;
};

// What a communication call waits for, described only if it times out (arming stays cheap inside
// the timed repetitions): a collective of `elements` over `ranks` ranks, or `elements` transfers.
struct Waited {
    std::string_view op;  // a collective's name, or "point-to-point transfers"
    std::size_t elements = 0;
    int ranks = 0;        // 0 for point-to-point transfers
    [[nodiscard]] std::string describe() const {
        if (ranks == 0) return std::to_string(elements) + " " + std::string(op);
        return std::string(op) + " of " + std::to_string(elements) + " elements over " + std::to_string(ranks) + " ranks";
    }
};

// Ends the process when communication outlasts its deadline: a rank waiting for a peer that never
// arrives would otherwise hang the job until mpirun's own timeout, if any. A thread of its own
// watches the clock (MPI calls stay on the main thread, as MPI_THREAD_FUNNELED requires); on expiry
// it writes what was waited for and exits the process with status 1, and mpirun then ends the
// other ranks. One per process; communication arms it for the length of one call. Arming takes
// the lock and reads the clock; it wakes the thread only when the thread would otherwise sleep past
// the new deadline (a thread sleeping until an earlier deadline wakes then and finds the new one).
class Watchdog {
public:
    static Watchdog& instance() {
        static Watchdog w;
        return w;
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

    void arm(double seconds, int rank, Waited waited) {
        std::lock_guard lock(mutex_);
        deadline_ = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
        seconds_ = seconds;
        rank_ = rank;
        waited_ = waited;
        if (!thread_.joinable()) {
            thread_ = std::thread([this] { watch(); });
        } else if (!sleeps_until_ || *deadline_ < *sleeps_until_) {
            wake_.notify_one();
        }
    }
    void disarm() {
        std::lock_guard lock(mutex_);
        deadline_.reset();
    }

private:
    Watchdog() = default;
    ~Watchdog() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }
    void watch() {
        std::unique_lock lock(mutex_);
        while (!stop_) {
            if (!deadline_) {
                sleeps_until_.reset();
                wake_.wait(lock);
                continue;
            }
            if (std::chrono::steady_clock::now() < *deadline_) {
                sleeps_until_ = deadline_;
                wake_.wait_until(lock, *deadline_);
                continue;
            }
            std::fprintf(stderr, "splitsim-harness: rank %d: %s did not complete within %g s (--timeout); ending the job\n", rank_,
                         waited_.describe().c_str(), seconds_);
            std::fflush(stderr);
            std::_Exit(1);
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    double seconds_ = 0;
    int rank_ = 0;
    Waited waited_;
    // When the thread's sleep ends by itself; none while it sleeps until woken.
    std::optional<std::chrono::steady_clock::time_point> sleeps_until_;
    bool stop_ = false;
    std::thread thread_;
};

// Arms the watchdog for one communication call.
class Deadline {
public:
    Deadline(double seconds, int rank, Waited waited) { Watchdog::instance().arm(seconds, rank, waited); }
    ~Deadline() { Watchdog::instance().disarm(); }
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;
};

float* host_f32(Tensor& t) {
    if (t.location() != Location::host || t.dtype() != DType::fp32) {
        throw std::invalid_argument("MPI collectives take host fp32 tensors (the CPU backend's)");
    }
    return t.host<float>();
}
const float* host_f32(const Tensor& t) {
    if (t.location() != Location::host || t.dtype() != DType::fp32) {
        throw std::invalid_argument("MPI collectives take host fp32 tensors (the CPU backend's)");
    }
    return t.host<float>();
}

int count(std::size_t elements) {
    if (elements > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        throw std::invalid_argument("MPI message of " + std::to_string(elements) + " elements exceeds int counts");
    }
    return static_cast<int>(elements);
}

std::unique_ptr<ProcessGroup> split(MpiProcessGroup& world, GroupLayout layout) {
    if (!layout.fits(world.size())) {
        throw std::invalid_argument("groups of " + std::to_string(layout.size) + " ranks " +
                                    std::to_string(layout.stride) + " apart do not tile " +
                                    std::to_string(world.size()) + " ranks");
    }
    return world.split(layout.group_of(world.rank()), layout.position_of(world.rank()));
}

class MpiCommunicator final : public Communicator {
public:
    MpiCommunicator(MpiProcessGroup& world, GroupLayout layout, double timeout_s, Waiting waiting)
        : layout_(layout), waiting_(waiting), timeout_s_(timeout_s), world_(world), group_(split(world, layout)) {
        comm_ = static_cast<MpiProcessGroup&>(*group_).comm();
    }

    [[nodiscard]] const GroupLayout& layout() const override { return layout_; }
    [[nodiscard]] int local_ranks() const override { return 1; }
    [[nodiscard]] int rank(int) const override { return world_.rank(); }

    void run(CollectiveKind kind, std::size_t elements, std::span<const Tensor* const> send,
             std::span<Tensor* const> recv) override {
        if (send.size() != 1 || recv.size() != 1) throw std::invalid_argument("MPI communicator drives one rank");
        const int n = layout_.size;
        const int position = layout_.position_of(world_.rank());
        const float* in = host_f32(*send[0]);
        float* out = host_f32(*recv[0]);
        if (send[0]->elements() < send_elements(kind, elements, n) || recv[0]->elements() < recv_elements(kind, elements, n)) {
            throw std::invalid_argument("collective buffers are smaller than the message");
        }
        const int chunk = count(elements / static_cast<std::size_t>(n));
        // NCCL's in-place forms are MPI_IN_PLACE here. An in-place reduce-scatter (the result into
        // this rank's chunk of the input, as Megatron's distributed optimizer reduces its gradient
        // buffer) leaves MPI's result at the start of the buffer, from where it moves to the chunk.
        const std::size_t offset = static_cast<std::size_t>(position) * static_cast<std::size_t>(chunk);
        const bool in_place = (kind == CollectiveKind::all_reduce && in == out) ||
                              (kind == CollectiveKind::all_gather && in == out + offset) ||
                              (kind == CollectiveKind::reduce_scatter && out == in + offset);
        const void* source = in_place ? MPI_IN_PLACE : static_cast<const void*>(in);
        const bool yield = waiting_ == Waiting::yield;
        const Deadline deadline(timeout_s_, world_.rank(), {to_string(kind), elements, n});
        MPI_Request request = MPI_REQUEST_NULL;
        switch (kind) {
            case CollectiveKind::all_reduce:
                if (yield) CHECK_MPI(MPI_Iallreduce(source, out, count(elements), MPI_FLOAT, MPI_SUM, comm_, &request));
                else CHECK_MPI(MPI_Allreduce(source, out, count(elements), MPI_FLOAT, MPI_SUM, comm_));
                break;
            case CollectiveKind::all_gather:
                if (yield) CHECK_MPI(MPI_Iallgather(source, chunk, MPI_FLOAT, out, chunk, MPI_FLOAT, comm_, &request));
                else CHECK_MPI(MPI_Allgather(source, chunk, MPI_FLOAT, out, chunk, MPI_FLOAT, comm_));
                break;
            case CollectiveKind::reduce_scatter: {
                float* result = in_place ? out - offset : out;
                if (yield) CHECK_MPI(MPI_Ireduce_scatter_block(source, result, chunk, MPI_FLOAT, MPI_SUM, comm_, &request));
                else CHECK_MPI(MPI_Reduce_scatter_block(source, result, chunk, MPI_FLOAT, MPI_SUM, comm_));
                if (request != MPI_REQUEST_NULL) wait({&request, 1});
                if (in_place && offset > 0) std::memmove(out, result, static_cast<std::size_t>(chunk) * sizeof(float));
                break;
            }
            case CollectiveKind::all_to_all:
                if (yield) CHECK_MPI(MPI_Ialltoall(in, chunk, MPI_FLOAT, out, chunk, MPI_FLOAT, comm_, &request));
                else CHECK_MPI(MPI_Alltoall(in, chunk, MPI_FLOAT, out, chunk, MPI_FLOAT, comm_));
                break;
            case CollectiveKind::broadcast:
                // Out of place like ncclBroadcast: the root's own copy is part of the operation.
                if (position == 0 && in != out) std::memcpy(out, in, elements * sizeof(float));
                if (yield) CHECK_MPI(MPI_Ibcast(out, count(elements), MPI_FLOAT, 0, comm_, &request));
                else CHECK_MPI(MPI_Bcast(out, count(elements), MPI_FLOAT, 0, comm_));
                break;
            case CollectiveKind::send_recv: {
                const int next = (position + 1) % n;
                const int prev = (position + n - 1) % n;
                CHECK_MPI(MPI_Sendrecv(in, count(elements), MPI_FLOAT, next, 0, out, count(elements), MPI_FLOAT, prev, 0,
                                       comm_, MPI_STATUS_IGNORE));
                break;
            }
        }
        if (request != MPI_REQUEST_NULL) wait({&request, 1});
    }

    void exchange(std::span<const Transfer> transfers) override {
        for (const Transfer& t : transfers) {
            const Tensor* buffer = t.send != nullptr ? t.send : t.recv;
            if ((t.send == nullptr) == (t.recv == nullptr)) throw std::invalid_argument("a transfer sends or receives");
            if (t.peer < 0 || t.peer >= layout_.size) throw std::invalid_argument("transfer peer outside the group");
            if (buffer->elements() < t.elements) throw std::invalid_argument("transfer buffer smaller than the message");
            (void)count(t.elements);
        }
        const Deadline deadline(timeout_s_, world_.rank(), {"point-to-point transfers", transfers.size(), 0});
        std::vector<MPI_Request> requests(transfers.size(), MPI_REQUEST_NULL);
        for (std::size_t i = 0; i < transfers.size(); ++i) {
            const Transfer& t = transfers[i];
            if (t.send != nullptr) {
                CHECK_MPI(MPI_Isend(host_f32(*t.send), count(t.elements), MPI_FLOAT, t.peer, kExchangeTag, comm_, &requests[i]));
            } else {
                CHECK_MPI(MPI_Irecv(host_f32(*t.recv), count(t.elements), MPI_FLOAT, t.peer, kExchangeTag, comm_, &requests[i]));
            }
        }
        wait(requests);
    }

    void synchronize() override {}  // MPI's blocking collectives are complete on return

    // Each run starts together on every rank of the world (a barrier), so a run's time on the
    // slowest rank is the collective's time (the OSU and IMB convention; the harness reduces across
    // ranks with max).
    [[nodiscard]] std::vector<double> time(const std::function<void()>& work, int warmup, int repetitions) override {
        for (int i = 0; i < warmup; ++i) work();
        std::vector<double> out;
        out.reserve(static_cast<std::size_t>(repetitions));
        for (int i = 0; i < repetitions; ++i) {
            world_.barrier();
            const double start = MPI_Wtime();
            work();
            out.push_back(MPI_Wtime() - start);
        }
        return out;
    }

    [[nodiscard]] std::string library_version() const override { return version_string(); }

private:
    static constexpr int kExchangeTag = 7;
    // A waiting rank polls for kSpin (a message between running ranks arrives within microseconds),
    // then naps between polls so that its core goes to a rank that is computing.
    static constexpr std::chrono::microseconds kSpin{50};
    static constexpr std::chrono::microseconds kNap{20};

    // Completes the requests: MPI_Waitall, or, when yielding, tests them (which also drives MPI's
    // progress) and gives the core away between tests.
    void wait(std::span<MPI_Request> requests) {
        if (waiting_ == Waiting::block) {
            CHECK_MPI(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE));
            return;
        }
        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            int done = 0;
            CHECK_MPI(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE));
            if (done) return;
            if (std::chrono::steady_clock::now() - start < kSpin) std::this_thread::yield();
            else std::this_thread::sleep_for(kNap);
        }
    }

    GroupLayout layout_;
    Waiting waiting_;
    double timeout_s_;
    MpiProcessGroup& world_;
    std::unique_ptr<ProcessGroup> group_;
    MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace

std::unique_ptr<ProcessGroup> init_world(int* argc, char*** argv) {
    int provided = 0;
    CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    return std::make_unique<MpiProcessGroup>(MPI_COMM_WORLD, true);
}

std::unique_ptr<Communicator> make_communicator(ProcessGroup& world, GroupLayout layout, double timeout_s, Waiting waiting) {
    auto* mpi_world = dynamic_cast<MpiProcessGroup*>(&world);
    if (mpi_world == nullptr) throw std::invalid_argument("an MPI communicator needs the MPI world");
    if (!(timeout_s > 0)) throw std::invalid_argument("an MPI communicator needs a positive timeout");
    return std::make_unique<MpiCommunicator>(*mpi_world, layout, timeout_s, waiting);
}

}  // namespace splitsim::kernels::mpi
