// The CUDA backend's class, for the NCCL communicator, which queues its collectives on the
// backend's stream. Everything else uses the Backend interface (splitsim/kernels/cuda.hpp).
#pragma once

#include <cublas_v2.h>

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

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(int device);

    [[nodiscard]] int device() const { return device_; }
    [[nodiscard]] cudaStream_t stream() const { return stream_.get(); }

    [[nodiscard]] std::string_view name() const override { return "cuda"; }
    [[nodiscard]] DeviceInfo info() const override;
    [[nodiscard]] bool supports(DType dtype) const override { return dtype != DType::int32; }
    [[nodiscard]] Tensor allocate(std::size_t elements, DType dtype) override;
    void upload(std::span<const float> host, Tensor& dst) override;
    void upload(std::span<const std::int32_t> host, Tensor& dst) override;
    void download(const Tensor& src, std::span<float> host) override;
    void zero(Tensor& t) override;
    void synchronize() override;
    [[nodiscard]] std::vector<double> time(const std::function<void()>& work, int warmup, int repetitions) override;

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
    void fill_pattern(Tensor& t, std::size_t n, int position) override;
    [[nodiscard]] std::size_t count_mismatches(const Tensor& t, std::size_t n, CollectiveKind kind, int ranks,
                                               int position) override;

private:
    void* scratch(std::size_t bytes);

    int device_;  // made current before the members below are created on it
    Stream stream_;
    CublasHandle cublas_;
    DeviceAllocation cublas_workspace_;
    DeviceAllocation scratch_;
    DeviceAllocation counter_;
};

}  // namespace splitsim::kernels::cuda
