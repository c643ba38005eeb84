// The CUDA backend's class, for the NCCL communicator, which queues its collectives on the
// backend's stream. Everything else uses the Backend interface (splitsim/kernels/cuda.hpp).
#pragma once

#include <cublas_v2.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "raii.hpp"
#include "splitsim/kernels/backend.hpp"

namespace splitsim::kernels::cuda {

class CublasHandle {
public:
    CublasHandle();
    ~CublasHandle();
    CublasHandle(const CublasHandle&) = delete;
    CublasHandle& operator=(const CublasHandle&) = delete;
    [[nodiscard]] cublasHandle_t get() const { return handle_; }

private:
    cublasHandle_t handle_ = nullptr;
};

// A caching allocator for one GPU (after PyTorch's CUDACachingAllocator, much simplified): freed
// blocks are kept by size and handed out again, so the per-micro-batch activations of a training
// step do not call cudaMalloc and cudaFree (which synchronizes the device) each time. Blocks are
// reused in the order of the one stream that uses them, so reuse is safe. Sizes round up to 512
// bytes. `use` counts the bytes handed out (in use), not the cache.
class BlockPool {
public:
    explicit BlockPool(int device) : device_(device) {}
    ~BlockPool();
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    [[nodiscard]] void* take(std::size_t bytes);
    void give(void* block, std::size_t bytes);
    [[nodiscard]] static std::size_t rounded(std::size_t bytes) { return (bytes + 511) / 512 * 512; }

    MemoryUse use;

private:
    void release_cache();

    int device_;
    std::multimap<std::size_t, void*> free_;
};

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(int device);
    ~CudaBackend() override;

    [[nodiscard]] int device() const { return device_; }
    [[nodiscard]] cudaStream_t stream() const { return on_device_->stream.get(); }

    [[nodiscard]] std::string_view name() const override { return "cuda"; }
    [[nodiscard]] DeviceInfo info() const override;
    [[nodiscard]] bool supports(DType dtype) const override { return dtype != DType::int32; }
    [[nodiscard]] Tensor allocate(std::size_t elements, DType dtype) override;
    void upload(std::span<const float> host, Tensor& dst) override;
    void upload(std::span<const std::int32_t> host, Tensor& dst) override;
    void download(const Tensor& src, std::span<float> host) override;
    void zero(Tensor& t) override;
    void fill_uniform(Tensor& t, std::uint64_t seed, float lo, float hi) override;
    void download_samples(const Tensor& src, std::span<const std::int64_t> offsets, std::int64_t width,
                          std::span<float> host) override;
    void synchronize() override;
    [[nodiscard]] Timing time(const std::function<void()>& work, int warmup, int repetitions) override;
    [[nodiscard]] std::unique_ptr<Marker> mark() override;
    [[nodiscard]] double seconds_between(const Marker& from, const Marker& to) override;
    [[nodiscard]] MemoryUse memory() const override { return pool_->use; }
    void reset_peak_memory() override { pool_->use.peak = pool_->use.current; }

    void gemm(const GemmShape& s, const Tensor& a, const Tensor& b, Tensor& c) override;
    void layernorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                           Tensor& mean, Tensor& rstd) override;
    void layernorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                            const Tensor& rstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta) override;
    void rmsnorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, Tensor& y, Tensor& rstd) override;
    void rmsnorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& rstd, Tensor& dx,
                          Tensor& dgamma) override;
    void softmax_forward(const Softmax& s, const Tensor& x, Tensor& y) override;
    void softmax_backward(const Softmax& s, const Tensor& y, const Tensor& dy, Tensor& dx) override;
    void gelu_forward(std::int64_t n, const Tensor& x, Tensor& y) override;
    void gelu_backward(std::int64_t n, const Tensor& x, const Tensor& dy, Tensor& dx) override;
    void swiglu_forward(Rows s, const Tensor& x, Tensor& y) override;
    void swiglu_backward(Rows s, const Tensor& x, const Tensor& dy, Tensor& dx) override;
    void cross_entropy_forward(Rows s, const Tensor& logits, const Tensor& targets, Tensor& loss, Tensor& lse) override;
    void cross_entropy_backward(Rows s, const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                const Tensor& dloss, Tensor& dlogits) override;
    void adam_step(std::int64_t n, const Adam& a, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v) override;
    void convert(std::int64_t n, const Tensor& x, Tensor& y) override;
    void axpy(std::int64_t n, float alpha, const Tensor& x, Tensor& y) override;
    void bias_add(Rows s, const Tensor& bias, Tensor& y) override;
    void column_sum(Rows s, const Tensor& x, Tensor& sum) override;
    void permute_0213(const Dims4& dims, const Tensor& x, Tensor& y) override;
    void embedding_forward(Rows s, const Tensor& tokens, const Tensor& table, std::int64_t first_row,
                           std::int64_t table_rows, Tensor& y) override;
    void embedding_backward(Rows s, const Tensor& tokens, const Tensor& dy, std::int64_t first_row,
                            std::int64_t table_rows, Tensor& dtable) override;
    void cross_entropy_shard_forward(Rows s, const Tensor& logits, const Tensor& targets, std::int64_t first_column,
                                     Tensor& shard_lse, Tensor& target_logit) override;
    void cross_entropy_combine(std::int64_t rows, int shards, const Tensor& shard_lse, const Tensor& target_logit,
                               Tensor& lse, Tensor& loss) override;
    void cross_entropy_shard_backward(Rows s, const Tensor& logits, const Tensor& targets, std::int64_t first_column,
                                      const Tensor& lse, float dloss, Tensor& dlogits) override;
    void fill_pattern(Tensor& t, std::size_t n, int position) override;
    [[nodiscard]] std::size_t count_mismatches(const Tensor& t, std::size_t n, CollectiveKind kind, int ranks,
                                               int position) override;

private:
    // What the backend creates on its GPU. A cuBLAS handle and a stream belong to the device they
    // were made on, so ~CudaBackend makes that device current before releasing them (one process
    // drives several GPUs under --devices N, and any of them may be current then).
    struct OnDevice {
        OnDevice();
        Stream stream;
        CublasHandle cublas;
        DeviceAllocation cublas_workspace;
        DeviceAllocation scratch;
        DeviceAllocation counter;
    };

    void* scratch(std::size_t bytes);
    // `runs` back-to-back runs of `work` captured into a graph on the stream; nullopt when the work
    // cannot be captured (`why` then says why).
    [[nodiscard]] std::optional<GraphExec> capture(const std::function<void()>& work, int runs, std::string& why);

    int device_;  // made current before the members below are created on it
    std::shared_ptr<BlockPool> pool_;  // shared with the tensors, which may outlive the backend
    std::unique_ptr<OnDevice> on_device_;
    bool graph_fallback_reported_ = false;
};

}  // namespace splitsim::kernels::cuda
