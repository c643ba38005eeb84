// The CUDA backend: tensors in device memory, GEMMs through cuBLAS, the other kernels from
// kernels.cu, all queued on the backend's stream and timed with CUDA events.
#include "backend.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "launch.hpp"
#include "splitsim/kernels/cuda.hpp"

namespace splitsim::kernels::cuda {
namespace {

// cuBLAS workspace for Hopper: 32 MiB (cuBLAS documentation, cublasSetWorkspace: "the recommended
// workspace size ... for Hopper is 32 MiB").
constexpr std::size_t kCublasWorkspace = 32u << 20;

// A timed repetition lasts at least this long where kMaxRunsPerRepetition runs allow: a graph
// launch costs a few microseconds, under 5% of it.
constexpr double kTimedSpan = 100e-6;
constexpr int kMaxRunsPerRepetition = 100;

class DeviceStorage final : public Storage {
public:
    DeviceStorage(std::size_t bytes, std::shared_ptr<BlockPool> pool)
        : bytes_(BlockPool::rounded(bytes)), pool_(std::move(pool)), block_(bytes > 0 ? pool_->take(bytes_) : nullptr) {}
    ~DeviceStorage() override {
        if (block_ != nullptr) pool_->give(block_, bytes_);
    }
    DeviceStorage(const DeviceStorage&) = delete;
    DeviceStorage& operator=(const DeviceStorage&) = delete;
    void* data() override { return block_; }

private:
    std::size_t bytes_;
    std::shared_ptr<BlockPool> pool_;
    void* block_;
};

class EventMarker final : public Marker {
public:
    Event event;  // created on the current device
};

int select(int device) {
    CHECK_CUDA(cudaSetDevice(device));
    return device;
}

cudaDataType_t cuda_type(DType t) {
    switch (t) {
        case DType::fp32: return CUDA_R_32F;
        case DType::fp16: return CUDA_R_16F;
        case DType::bf16: return CUDA_R_16BF;
        case DType::int32: break;
    }
    throw std::invalid_argument("GEMMs take fp32, fp16 or bf16 tensors");
}

void require(const Tensor& t, int device, const char* what) {
    if (t.location() != Location::device || t.device() != device) {
        throw std::invalid_argument(std::string("cuda backend: ") + what + " is not on this backend's GPU");
    }
}
void require(const Tensor& t, int device, DType dtype, const char* what) {
    require(t, device, what);
    if (t.dtype() != dtype) {
        throw std::invalid_argument(std::string("cuda backend: ") + what + " must be " + std::string(to_string(dtype)));
    }
}
const float* f32(const Tensor& t) { return static_cast<const float*>(t.data()); }
float* f32(Tensor& t) { return static_cast<float*>(t.data()); }

// Seconds per run between each pair of recorded events that enclose `runs` runs.
std::vector<double> elapsed_seconds(const std::vector<Event>& start, const std::vector<Event>& stop, int runs) {
    std::vector<double> out;
    out.reserve(start.size());
    for (std::size_t i = 0; i < start.size(); ++i) {
        float ms = 0;
        CHECK_CUDA(cudaEventElapsedTime(&ms, start[i].get(), stop[i].get()));
        out.push_back(ms * 1e-3 / runs);
    }
    return out;
}

std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

void* BlockPool::take(std::size_t bytes) {
    void* block = nullptr;
    if (const auto it = free_.find(bytes); it != free_.end()) {
        block = it->second;
        free_.erase(it);
    } else {
        DeviceGuard guard(device_);
        cudaError_t rc = cudaMalloc(&block, bytes);
        if (rc == cudaErrorMemoryAllocation) {
            cudaGetLastError();  // clear it, return the cache to the driver and try once more
            release_cache();
            rc = cudaMalloc(&block, bytes);
        }
        CHECK_CUDA(rc);
    }
    use.current += bytes;
    use.peak = std::max(use.peak, use.current);
    return block;
}

void BlockPool::give(void* block, std::size_t bytes) {
    use.current -= bytes;
    free_.emplace(bytes, block);
}

void BlockPool::release_cache() {
    DeviceGuard guard(device_);
    for (const auto& [bytes, block] : free_) report_in_destructor("cudaFree", cudaFree(block));
    free_.clear();
}

BlockPool::~BlockPool() {
    int previous = 0;
    if (cudaGetDevice(&previous) != cudaSuccess) return;
    cudaSetDevice(device_);
    for (const auto& [bytes, block] : free_) report_in_destructor("cudaFree", cudaFree(block));
    cudaSetDevice(previous);
}

CublasHandle::CublasHandle() { CHECK_CUBLAS(cublasCreate(&handle_)); }
CublasHandle::~CublasHandle() {
    if (handle_ != nullptr && cublasDestroy(handle_) != CUBLAS_STATUS_SUCCESS) {
        std::fprintf(stderr, "splitsim: cublasDestroy failed\n");
    }
}

CudaBackend::OnDevice::OnDevice() : cublas_workspace(kCublasWorkspace), counter(sizeof(unsigned long long)) {}

CudaBackend::CudaBackend(int device)
    : device_(select(device)), pool_(std::make_shared<BlockPool>(device_)), on_device_(std::make_unique<OnDevice>()) {
    cublasHandle_t handle = on_device_->cublas.get();
    CHECK_CUBLAS(cublasSetStream(handle, stream()));
    // A workspace of our own also keeps cuBLAS from allocating while a graph is captured.
    CHECK_CUBLAS(cublasSetWorkspace(handle, on_device_->cublas_workspace.get(), on_device_->cublas_workspace.bytes()));
    // Reductions inside a GEMM (split-K) stay in fp32 for fp16 and bf16 outputs. cuBLAS may
    // otherwise sum partial products in the output type, which PyTorch allows by default
    // (torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction and the fp16 flag, both
    // True in PyTorch 2.x, docs/source/notes/cuda.rst); the data check's error bound (check_gemm:
    // fp32 accumulation, one rounding to the output) holds only without it. Kernels whose best
    // cuBLAS algorithm is such a split-K may therefore time a little slower than under PyTorch's
    // defaults.
    CHECK_CUBLAS(cublasSetMathMode(handle, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                                                      CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
}

CudaBackend::~CudaBackend() {
    int previous = 0;
    const bool switched = cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(device_) == cudaSuccess;
    on_device_.reset();
    if (switched) report_in_destructor("cudaSetDevice", cudaSetDevice(previous));
}

DeviceInfo CudaBackend::info() const {
    DeviceGuard guard(device_);
    DeviceInfo info;
    info.backend = "cuda";
    cudaDeviceProp prop{};
    CHECK_CUDA(cudaGetDeviceProperties(&prop, device_));
    info.name = prop.name;
    int driver = 0, runtime = 0, clock_khz = 0, memory_khz = 0;
    CHECK_CUDA(cudaDriverGetVersion(&driver));
    CHECK_CUDA(cudaRuntimeGetVersion(&runtime));
    CHECK_CUDA(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device_));
    CHECK_CUDA(cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, device_));
    info.details["cuda_driver"] = cuda_version(driver);
    info.details["cuda_runtime"] = cuda_version(runtime);
    info.details["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    info.details["multiprocessors"] = std::to_string(prop.multiProcessorCount);
    info.details["memory_bytes"] = std::to_string(prop.totalGlobalMem);
    info.details["max_sm_clock_mhz"] = std::to_string(clock_khz / 1000);
    info.details["max_memory_clock_mhz"] = std::to_string(memory_khz / 1000);
    int major = 0, minor = 0, patch = 0;
    CHECK_CUBLAS(cublasGetProperty(MAJOR_VERSION, &major));
    CHECK_CUBLAS(cublasGetProperty(MINOR_VERSION, &minor));
    CHECK_CUBLAS(cublasGetProperty(PATCH_LEVEL, &patch));
    info.libraries["cublas"] = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    info.details["cublas_math_mode"] = "default, reduced-precision reductions disallowed";
    info.libraries["cuda_runtime"] = cuda_version(runtime);
    return info;
}

Tensor CudaBackend::allocate(std::size_t elements, DType dtype) {
    DeviceGuard guard(device_);
    return Tensor(std::make_unique<DeviceStorage>(elements * size_of(dtype), pool_), elements, dtype, Location::device,
                  device_);
}

void CudaBackend::upload(std::span<const float> host, Tensor& dst) {
    require(dst, device_, "upload target");
    if (host.size() != dst.elements()) throw std::invalid_argument("cuda backend: upload size mismatch");
    DeviceGuard guard(device_);
    std::vector<unsigned char> staged(dst.bytes());
    switch (dst.dtype()) {
        case DType::fp32: std::memcpy(staged.data(), host.data(), host.size_bytes()); break;
        case DType::fp16: {
            auto* out = reinterpret_cast<__half*>(staged.data());
            for (std::size_t i = 0; i < host.size(); ++i) out[i] = __float2half_rn(host[i]);
            break;
        }
        case DType::bf16: {
            auto* out = reinterpret_cast<__nv_bfloat16*>(staged.data());
            for (std::size_t i = 0; i < host.size(); ++i) out[i] = __float2bfloat16_rn(host[i]);
            break;
        }
        case DType::int32: throw std::invalid_argument("cuda backend: float upload into an int32 tensor");
    }
    CHECK_CUDA(cudaMemcpyAsync(dst.data(), staged.data(), staged.size(), cudaMemcpyHostToDevice, stream()));
    CHECK_CUDA(cudaStreamSynchronize(stream()));
}

void CudaBackend::upload(std::span<const std::int32_t> host, Tensor& dst) {
    require(dst, device_, DType::int32, "index upload target");
    if (host.size() != dst.elements()) throw std::invalid_argument("cuda backend: upload size mismatch");
    DeviceGuard guard(device_);
    CHECK_CUDA(cudaMemcpyAsync(dst.data(), host.data(), host.size_bytes(), cudaMemcpyHostToDevice, stream()));
    CHECK_CUDA(cudaStreamSynchronize(stream()));
}

void CudaBackend::download(const Tensor& src, std::span<float> host) {
    require(src, device_, "download source");
    if (host.size() != src.elements()) throw std::invalid_argument("cuda backend: download size mismatch");
    DeviceGuard guard(device_);
    std::vector<unsigned char> staged(src.bytes());
    CHECK_CUDA(cudaMemcpyAsync(staged.data(), src.data(), staged.size(), cudaMemcpyDeviceToHost, stream()));
    CHECK_CUDA(cudaStreamSynchronize(stream()));
    switch (src.dtype()) {
        case DType::fp32: std::memcpy(host.data(), staged.data(), host.size_bytes()); break;
        case DType::fp16: {
            const auto* in = reinterpret_cast<const __half*>(staged.data());
            for (std::size_t i = 0; i < host.size(); ++i) host[i] = __half2float(in[i]);
            break;
        }
        case DType::bf16: {
            const auto* in = reinterpret_cast<const __nv_bfloat16*>(staged.data());
            for (std::size_t i = 0; i < host.size(); ++i) host[i] = __bfloat162float(in[i]);
            break;
        }
        case DType::int32: {
            const auto* in = reinterpret_cast<const std::int32_t*>(staged.data());
            for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(in[i]);
            break;
        }
    }
}

void CudaBackend::zero(Tensor& t) {
    require(t, device_, "zeroed tensor");
    DeviceGuard guard(device_);
    CHECK_CUDA(cudaMemsetAsync(t.data(), 0, t.bytes(), stream()));
    CHECK_CUDA(cudaStreamSynchronize(stream()));
}

void CudaBackend::synchronize() {
    DeviceGuard guard(device_);
    CHECK_CUDA(cudaStreamSynchronize(stream()));
}

void CudaBackend::fill_uniform(Tensor& t, std::uint64_t seed, float lo, float hi) {
    require(t, device_, "filled tensor");
    DeviceGuard guard(device_);
    cuda::fill_uniform(t.dtype(), t.data(), t.elements(), seed, lo, hi, stream());
}

void CudaBackend::download_samples(const Tensor& src, std::span<const std::int64_t> offsets, std::int64_t width,
                                   std::span<float> host) {
    require(src, device_, "sampled tensor");
    require_samples(src, offsets, width, host);
    if (host.empty()) return;
    DeviceGuard guard(device_);
    // The samples are gathered into one fp32 buffer on the GPU, so one small copy comes back.
    DeviceAllocation where(offsets.size_bytes());
    DeviceAllocation values(host.size_bytes());
    CHECK_CUDA(cudaMemcpyAsync(where.get(), offsets.data(), offsets.size_bytes(), cudaMemcpyHostToDevice, stream()));
    cuda::gather(src.dtype(), src.data(), static_cast<const std::int64_t*>(where.get()),
                 static_cast<std::int64_t>(offsets.size()), width, static_cast<float*>(values.get()), stream());
    CHECK_CUDA(cudaMemcpyAsync(host.data(), values.get(), host.size_bytes(), cudaMemcpyDeviceToHost, stream()));
    CHECK_CUDA(cudaStreamSynchronize(stream()));
}

std::optional<GraphExec> CudaBackend::capture(const std::function<void()>& work, int runs, std::string& why) {
    // Thread-local mode: only this thread's CUDA calls can invalidate the capture, not those of
    // other threads (NCCL's, for one).
    CHECK_CUDA(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
    bool captured = true;
    try {
        for (int i = 0; i < runs; ++i) work();
    } catch (const std::exception& e) {
        captured = false;
        why = e.what();
    }
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream(), &graph);
    if (ended != cudaSuccess && captured) {
        captured = false;
        why = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(ended);
    }
    std::optional<GraphExec> exec;
    if (captured) {
        cudaGraphExec_t instance = nullptr;
        const cudaError_t made = cudaGraphInstantiate(&instance, graph, 0);
        if (made == cudaSuccess) exec.emplace(instance);
        else why = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(made);
    }
    if (graph != nullptr) report_in_destructor("cudaGraphDestroy", cudaGraphDestroy(graph));
    cudaGetLastError();  // a failed capture leaves its error behind; the fallback starts clean
    return exec;
}

Timing CudaBackend::time(const std::function<void()>& work, int warmup, int repetitions) {
    DeviceGuard guard(device_);
    for (int i = 0; i < warmup; ++i) work();
    // One probe run sets how many runs a repetition holds: enough for kTimedSpan (the probe, with
    // its launch gap, overestimates a short kernel, so short ones get somewhat fewer runs).
    Event probe_start, probe_stop;
    CHECK_CUDA(cudaEventRecord(probe_start.get(), stream()));
    work();
    CHECK_CUDA(cudaEventRecord(probe_stop.get(), stream()));
    CHECK_CUDA(cudaEventSynchronize(probe_stop.get()));
    float probe_ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&probe_ms, probe_start.get(), probe_stop.get()));
    const double probe = std::max(static_cast<double>(probe_ms) * 1e-3, 1e-7);
    const int runs = static_cast<int>(std::clamp(std::ceil(kTimedSpan / probe), 1.0, static_cast<double>(kMaxRunsPerRepetition)));

    Timing out;
    out.runs_per_repetition = runs;
    std::string why;
    const std::optional<GraphExec> graph = capture(work, runs, why);
    if (!graph && !graph_fallback_reported_) {
        std::fprintf(stderr, "splitsim: cuda backend: timing without a CUDA graph (%s)\n", why.c_str());
        graph_fallback_reported_ = true;
    }
    out.method = graph ? "cuda-graph" : "cuda-events";
    std::vector<Event> start(static_cast<std::size_t>(repetitions));
    std::vector<Event> stop(static_cast<std::size_t>(repetitions));
    for (std::size_t i = 0; i < start.size(); ++i) {
        CHECK_CUDA(cudaEventRecord(start[i].get(), stream()));
        if (graph) {
            CHECK_CUDA(cudaGraphLaunch(graph->get(), stream()));
        } else {
            for (int r = 0; r < runs; ++r) work();
        }
        CHECK_CUDA(cudaEventRecord(stop[i].get(), stream()));
    }
    CHECK_CUDA(cudaStreamSynchronize(stream()));
    out.seconds = elapsed_seconds(start, stop, runs);
    return out;
}

std::unique_ptr<Marker> CudaBackend::mark() {
    DeviceGuard guard(device_);
    auto marker = std::make_unique<EventMarker>();
    CHECK_CUDA(cudaEventRecord(marker->event.get(), stream()));
    return marker;
}

double CudaBackend::seconds_between(const Marker& from, const Marker& to) {
    const auto& a = dynamic_cast<const EventMarker&>(from);
    const auto& b = dynamic_cast<const EventMarker&>(to);
    DeviceGuard guard(device_);
    CHECK_CUDA(cudaEventSynchronize(b.event.get()));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, a.event.get(), b.event.get()));
    return ms * 1e-3;
}

void* CudaBackend::scratch(std::size_t bytes) {
    DeviceAllocation& buffer = on_device_->scratch;
    if (buffer.bytes() < bytes) {
        CHECK_CUDA(cudaStreamSynchronize(stream()));  // the old buffer may still be in use
        buffer = DeviceAllocation(bytes);
    }
    return buffer.get();
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets B first, with the
// leading dimensions of the stored (row-major) matrices.
void CudaBackend::gemm(const GemmShape& s, const Tensor& a, const Tensor& b, Tensor& c) {
    require(a, device_, "A");
    require(b, device_, a.dtype(), "B");
    require(c, device_, "C");
    // C has A's type, or is fp32 under 16-bit inputs (fp32 accumulation and output, cublasGemmEx's
    // "CUDA_R_16BF, CUDA_R_16BF, CUDA_R_32F" combinations).
    if (c.dtype() != a.dtype() && !(c.dtype() == DType::fp32 && a.dtype() != DType::fp32)) {
        throw std::invalid_argument("cuda backend: C must have A's type, or fp32 under 16-bit inputs");
    }
    const auto need = [](std::int64_t rows, std::int64_t cols, std::int64_t batch) {
        return static_cast<std::size_t>(rows * cols * batch);
    };
    if (a.elements() < need(s.m, s.k, s.batch) || b.elements() < need(s.k, s.n, s.batch) ||
        c.elements() < need(s.m, s.n, s.batch)) {
        throw std::invalid_argument("cuda backend: GEMM operands smaller than the shape");
    }
    DeviceGuard guard(device_);
    const float alpha = 1.0f, beta = s.accumulate ? 1.0f : 0.0f;
    const cudaDataType_t type = cuda_type(a.dtype());
    const cudaDataType_t c_type = cuda_type(c.dtype());
    const cublasComputeType_t compute =
        a.dtype() == DType::fp32 && s.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const auto lda = static_cast<std::int64_t>(s.trans_a ? s.m : s.k);
    const auto ldb = static_cast<std::int64_t>(s.trans_b ? s.k : s.n);
    CHECK_CUBLAS(cublasGemmStridedBatchedEx(
        on_device_->cublas.get(), s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
        static_cast<int>(s.n), static_cast<int>(s.m), static_cast<int>(s.k), &alpha, b.data(), type,
        static_cast<int>(ldb), s.k * s.n, a.data(), type, static_cast<int>(lda), s.m * s.k, &beta, c.data(), c_type,
        static_cast<int>(s.n), s.m * s.n, static_cast<int>(s.batch), compute, CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::layernorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    Tensor& y, Tensor& mean, Tensor& rstd) {
    const DType t = x.dtype();
    require(x, device_, "x");
    require(gamma, device_, t, "gamma");
    require(beta, device_, t, "beta");
    require(y, device_, t, "y");
    require(mean, device_, DType::fp32, "mean");
    require(rstd, device_, DType::fp32, "rstd");
    DeviceGuard guard(device_);
    cuda::layernorm_forward(t, s, eps, x.data(), gamma.data(), beta.data(), y.data(), f32(mean), f32(rstd), stream());
}

void CudaBackend::layernorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                     const Tensor& rstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
    const DType t = x.dtype();
    require(dy, device_, t, "dy");
    require(x, device_, "x");
    require(gamma, device_, t, "gamma");
    require(mean, device_, DType::fp32, "mean");
    require(rstd, device_, DType::fp32, "rstd");
    require(dx, device_, t, "dx");
    require(dgamma, device_, DType::fp32, "dgamma");
    require(dbeta, device_, DType::fp32, "dbeta");
    DeviceGuard guard(device_);
    void* work = scratch(norm_backward_scratch(s));
    cuda::layernorm_backward(t, s, dy.data(), x.data(), gamma.data(), f32(mean), f32(rstd), dx.data(), f32(dgamma),
                             f32(dbeta), work, stream());
}

void CudaBackend::rmsnorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, Tensor& y, Tensor& rstd) {
    const DType t = x.dtype();
    require(x, device_, "x");
    require(gamma, device_, t, "gamma");
    require(y, device_, t, "y");
    require(rstd, device_, DType::fp32, "rstd");
    DeviceGuard guard(device_);
    cuda::rmsnorm_forward(t, s, eps, x.data(), gamma.data(), y.data(), f32(rstd), stream());
}

void CudaBackend::rmsnorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& rstd,
                                   Tensor& dx, Tensor& dgamma) {
    const DType t = x.dtype();
    require(dy, device_, t, "dy");
    require(x, device_, "x");
    require(gamma, device_, t, "gamma");
    require(rstd, device_, DType::fp32, "rstd");
    require(dx, device_, t, "dx");
    require(dgamma, device_, DType::fp32, "dgamma");
    DeviceGuard guard(device_);
    void* work = scratch(norm_backward_scratch(s));
    cuda::rmsnorm_backward(t, s, dy.data(), x.data(), gamma.data(), f32(rstd), dx.data(), f32(dgamma), work,
                           stream());
}

void CudaBackend::softmax_forward(const Softmax& s, const Tensor& x, Tensor& y) {
    require(x, device_, "x");
    require(y, device_, x.dtype(), "y");
    DeviceGuard guard(device_);
    cuda::softmax_forward(x.dtype(), s, x.data(), y.data(), stream());
}

void CudaBackend::softmax_backward(const Softmax& s, const Tensor& y, const Tensor& dy, Tensor& dx) {
    require(y, device_, "y");
    require(dy, device_, y.dtype(), "dy");
    require(dx, device_, y.dtype(), "dx");
    DeviceGuard guard(device_);
    cuda::softmax_backward(y.dtype(), s, y.data(), dy.data(), dx.data(), stream());
}

void CudaBackend::gelu_forward(std::int64_t n, const Tensor& x, Tensor& y) {
    require(x, device_, "x");
    require(y, device_, x.dtype(), "y");
    DeviceGuard guard(device_);
    cuda::gelu_forward(x.dtype(), n, x.data(), y.data(), stream());
}

void CudaBackend::gelu_backward(std::int64_t n, const Tensor& x, const Tensor& dy, Tensor& dx) {
    require(x, device_, "x");
    require(dy, device_, x.dtype(), "dy");
    require(dx, device_, x.dtype(), "dx");
    DeviceGuard guard(device_);
    cuda::gelu_backward(x.dtype(), n, x.data(), dy.data(), dx.data(), stream());
}

void CudaBackend::swiglu_forward(Rows s, const Tensor& x, Tensor& y) {
    require(x, device_, "x");
    require(y, device_, x.dtype(), "y");
    DeviceGuard guard(device_);
    cuda::swiglu_forward(x.dtype(), s, x.data(), y.data(), stream());
}

void CudaBackend::swiglu_backward(Rows s, const Tensor& x, const Tensor& dy, Tensor& dx) {
    require(x, device_, "x");
    require(dy, device_, x.dtype(), "dy");
    require(dx, device_, x.dtype(), "dx");
    DeviceGuard guard(device_);
    cuda::swiglu_backward(x.dtype(), s, x.data(), dy.data(), dx.data(), stream());
}

void CudaBackend::cross_entropy_forward(Rows s, const Tensor& logits, const Tensor& targets, Tensor& loss, Tensor& lse) {
    require(logits, device_, "logits");
    require(targets, device_, DType::int32, "targets");
    require(loss, device_, DType::fp32, "loss");
    require(lse, device_, DType::fp32, "lse");
    DeviceGuard guard(device_);
    cuda::cross_entropy_forward(logits.dtype(), s, logits.data(), static_cast<const std::int32_t*>(targets.data()),
                                f32(loss), f32(lse), stream());
}

void CudaBackend::cross_entropy_backward(Rows s, const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                         const Tensor& dloss, Tensor& dlogits) {
    require(logits, device_, "logits");
    require(targets, device_, DType::int32, "targets");
    require(lse, device_, DType::fp32, "lse");
    require(dloss, device_, DType::fp32, "dloss");
    require(dlogits, device_, logits.dtype(), "dlogits");
    DeviceGuard guard(device_);
    cuda::cross_entropy_backward(logits.dtype(), s, logits.data(), static_cast<const std::int32_t*>(targets.data()),
                                 f32(lse), f32(dloss), dlogits.data(), stream());
}

void CudaBackend::adam_step(std::int64_t n, const Adam& a, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v) {
    require(param, device_, DType::fp32, "param");
    require(grad, device_, DType::fp32, "grad");
    require(m, device_, DType::fp32, "m");
    require(v, device_, DType::fp32, "v");
    DeviceGuard guard(device_);
    cuda::adam_step(n, a, f32(param), f32(grad), f32(m), f32(v), stream());
}

namespace {
void require_elements(const Tensor& t, std::int64_t n, const char* what) {
    if (n < 0 || t.elements() < static_cast<std::size_t>(n)) {
        throw std::invalid_argument(std::string("cuda backend: ") + what + " is smaller than the operation");
    }
}
}  // namespace

void CudaBackend::convert(std::int64_t n, const Tensor& x, Tensor& y) {
    require(x, device_, "x");
    require(y, device_, "y");
    require_elements(x, n, "x");
    require_elements(y, n, "y");
    DeviceGuard guard(device_);
    if (x.dtype() == y.dtype()) {
        CHECK_CUDA(cudaMemcpyAsync(y.data(), x.data(), static_cast<std::size_t>(n) * size_of(x.dtype()),
                                   cudaMemcpyDeviceToDevice, stream()));
    } else {
        cuda::convert(n, x.dtype(), x.data(), y.dtype(), y.data(), stream());
    }
}

void CudaBackend::axpy(std::int64_t n, float alpha, const Tensor& x, Tensor& y) {
    require(x, device_, "x");
    require(y, device_, "y");
    require_elements(x, n, "x");
    require_elements(y, n, "y");
    DeviceGuard guard(device_);
    cuda::axpy(n, alpha, x.dtype(), x.data(), y.dtype(), y.data(), stream());
}

void CudaBackend::bias_add(Rows s, const Tensor& bias, Tensor& y) {
    require(y, device_, "y");
    require(bias, device_, y.dtype(), "bias");
    require_elements(bias, s.cols, "bias");
    require_elements(y, s.rows * s.cols, "y");
    DeviceGuard guard(device_);
    cuda::bias_add(y.dtype(), s, bias.data(), y.data(), stream());
}

void CudaBackend::column_sum(Rows s, const Tensor& x, Tensor& sum) {
    require(x, device_, "x");
    require(sum, device_, DType::fp32, "sum");
    require_elements(x, s.rows * s.cols, "x");
    require_elements(sum, s.cols, "sum");
    DeviceGuard guard(device_);
    void* work = scratch(column_sum_scratch(s));
    cuda::column_sum(x.dtype(), s, x.data(), f32(sum), work, stream());
}

void CudaBackend::permute_0213(const Dims4& dims, const Tensor& x, Tensor& y) {
    require(x, device_, "x");
    require(y, device_, x.dtype(), "y");
    const std::int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
    require_elements(x, n, "x");
    require_elements(y, n, "y");
    DeviceGuard guard(device_);
    cuda::permute_0213(x.dtype(), dims, x.data(), y.data(), stream());
}

void CudaBackend::embedding_forward(Rows s, const Tensor& tokens, const Tensor& table, std::int64_t first_row,
                                    std::int64_t table_rows, Tensor& y) {
    require(tokens, device_, DType::int32, "tokens");
    require(table, device_, "table");
    require(y, device_, table.dtype(), "y");
    require_elements(tokens, s.rows, "tokens");
    require_elements(table, table_rows * s.cols, "table");
    require_elements(y, s.rows * s.cols, "y");
    DeviceGuard guard(device_);
    cuda::embedding_forward(table.dtype(), s, static_cast<const std::int32_t*>(tokens.data()), table.data(), first_row,
                            table_rows, y.data(), stream());
}

void CudaBackend::embedding_backward(Rows s, const Tensor& tokens, const Tensor& dy, std::int64_t first_row,
                                     std::int64_t table_rows, Tensor& dtable) {
    require(tokens, device_, DType::int32, "tokens");
    require(dy, device_, "dy");
    require(dtable, device_, DType::fp32, "dtable");
    require_elements(tokens, s.rows, "tokens");
    require_elements(dy, s.rows * s.cols, "dy");
    require_elements(dtable, table_rows * s.cols, "dtable");
    DeviceGuard guard(device_);
    cuda::embedding_backward(dy.dtype(), s, static_cast<const std::int32_t*>(tokens.data()), dy.data(), first_row,
                             table_rows, f32(dtable), stream());
}

void CudaBackend::cross_entropy_shard_forward(Rows s, const Tensor& logits, const Tensor& targets,
                                              std::int64_t first_column, Tensor& shard_lse, Tensor& target_logit) {
    require(logits, device_, "logits");
    require(targets, device_, DType::int32, "targets");
    require(shard_lse, device_, DType::fp32, "shard_lse");
    require(target_logit, device_, DType::fp32, "target_logit");
    require_elements(logits, s.rows * s.cols, "logits");
    require_elements(targets, s.rows, "targets");
    require_elements(shard_lse, s.rows, "shard_lse");
    require_elements(target_logit, s.rows, "target_logit");
    DeviceGuard guard(device_);
    cuda::cross_entropy_shard_forward(logits.dtype(), s, logits.data(), static_cast<const std::int32_t*>(targets.data()),
                                      first_column, f32(shard_lse), f32(target_logit), stream());
}

void CudaBackend::cross_entropy_combine(std::int64_t rows, int shards, const Tensor& shard_lse,
                                        const Tensor& target_logit, Tensor& lse, Tensor& loss) {
    require(shard_lse, device_, DType::fp32, "shard_lse");
    require(target_logit, device_, DType::fp32, "target_logit");
    require(lse, device_, DType::fp32, "lse");
    require(loss, device_, DType::fp32, "loss");
    require_elements(shard_lse, rows * shards, "shard_lse");
    require_elements(target_logit, rows, "target_logit");
    require_elements(lse, rows, "lse");
    require_elements(loss, rows, "loss");
    DeviceGuard guard(device_);
    cuda::cross_entropy_combine(rows, shards, f32(shard_lse), f32(target_logit), f32(lse), f32(loss), stream());
}

void CudaBackend::cross_entropy_shard_backward(Rows s, const Tensor& logits, const Tensor& targets,
                                               std::int64_t first_column, const Tensor& lse, float dloss,
                                               Tensor& dlogits) {
    require(logits, device_, "logits");
    require(targets, device_, DType::int32, "targets");
    require(lse, device_, DType::fp32, "lse");
    require(dlogits, device_, logits.dtype(), "dlogits");
    require_elements(logits, s.rows * s.cols, "logits");
    require_elements(targets, s.rows, "targets");
    require_elements(lse, s.rows, "lse");
    require_elements(dlogits, s.rows * s.cols, "dlogits");
    DeviceGuard guard(device_);
    cuda::cross_entropy_shard_backward(logits.dtype(), s, logits.data(), static_cast<const std::int32_t*>(targets.data()),
                                       first_column, f32(lse), dloss, dlogits.data(), stream());
}

void CudaBackend::fill_pattern(Tensor& t, std::size_t n, int position) {
    require(t, device_, "pattern target");
    DeviceGuard guard(device_);
    cuda::fill_pattern(t.dtype(), t.data(), n, position, stream());
    CHECK_CUDA(cudaStreamSynchronize(stream()));
}

std::size_t CudaBackend::count_mismatches(const Tensor& t, std::size_t n, CollectiveKind kind, int ranks, int position) {
    require(t, device_, "checked tensor");
    DeviceGuard guard(device_);
    auto* counter = static_cast<unsigned long long*>(on_device_->counter.get());
    CHECK_CUDA(cudaMemsetAsync(counter, 0, sizeof(unsigned long long), stream()));
    cuda::count_mismatches(t.dtype(), t.data(), n, kind, ranks, position, counter, stream());
    unsigned long long bad = 0;
    CHECK_CUDA(cudaMemcpyAsync(&bad, counter, sizeof bad, cudaMemcpyDeviceToHost, stream()));
    CHECK_CUDA(cudaStreamSynchronize(stream()));
    return static_cast<std::size_t>(bad);
}

int device_count(std::string* reason) {
    int n = 0;
    const cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess) {
        if (reason != nullptr) *reason = std::string(cudaGetErrorName(rc)) + ": " + cudaGetErrorString(rc);
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return 0;
    }
    if (n == 0 && reason != nullptr) *reason = "no CUDA device";
    return n;
}

std::unique_ptr<Backend> make_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace splitsim::kernels::cuda
