// The project's CUDA kernels: norms, softmax, activations, cross-entropy, AdamW, and the fill and
// check of collective buffers. Storage is fp32, fp16 or bf16; arithmetic is fp32 throughout.
// Row-wise kernels run one thread block per row (block reductions with warp shuffles); the
// weight gradients of the norms reduce columns in two passes over partial sums, as Apex's
// layer_norm_cuda_kernel.cu does (cuComputePartGradGammaBeta, then cuComputeGradGammaBeta).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <cfloat>
#include <stdexcept>

#include "check.hpp"
#include "launch.hpp"
#include "splitsim/kernels/check_pattern.hpp"
#include "splitsim/kernels/fill.hpp"

namespace splitsim::kernels::cuda {
namespace {

constexpr int kThreads = 256;        // threads per block of every kernel
constexpr int kNormRowChunks = 64;   // row chunks of the first pass of the norms' column sums

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

struct Sum {
    __device__ float operator()(float a, float b) const { return a + b; }
    static constexpr float identity = 0.0f;
};
struct Max {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
    static constexpr float identity = -FLT_MAX;
};

template <class Op>
__device__ float warp_reduce(float v, Op op) {
    for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Reduces one value per thread over the block; every thread gets the result. `shared` holds 32
// floats; the leading barrier lets consecutive reductions reuse it.
template <class Op>
__device__ float block_reduce(float v, Op op, float* shared) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = warp_reduce(v, op);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    const int warps = (blockDim.x + 31) >> 5;
    v = threadIdx.x < warps ? shared[threadIdx.x] : Op::identity;
    if (warp == 0) v = warp_reduce(v, op);
    if (threadIdx.x == 0) shared[0] = v;
    __syncthreads();
    return shared[0];
}

unsigned grid_for(std::int64_t n) {
    const std::int64_t blocks = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(std::min<std::int64_t>(std::max<std::int64_t>(blocks, 1), 65535LL * 16));
}

// Row-wise kernels run one block per row. Their launchers return before launching for no rows: a
// grid of 0 blocks is a launch error, and one block would write row 0.
unsigned rows_grid(std::int64_t rows) {
    if (rows < 1 || rows > 0x7fffffffLL) throw std::invalid_argument("rows out of range for one launch");
    return static_cast<unsigned>(rows);
}

// ---- norms -------------------------------------------------------------------------------------------

template <class T>
__global__ void layernorm_forward_kernel(std::int64_t cols, float eps, const T* x, const T* gamma, const T* beta, T* y,
                                         float* mean, float* rstd) {
    __shared__ float shared[32];
    const std::int64_t r = blockIdx.x;
    const T* xr = x + r * cols;
    float sum = 0;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += to_float(xr[c]);
    const float mu = block_reduce(sum, Sum{}, shared) / static_cast<float>(cols);
    float sq = 0;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float d = to_float(xr[c]) - mu;
        sq += d * d;
    }
    const float inv = rsqrtf(block_reduce(sq, Sum{}, shared) / static_cast<float>(cols) + eps);
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        y[r * cols + c] = from_float<T>((to_float(xr[c]) - mu) * inv * to_float(gamma[c]) + to_float(beta[c]));
    }
    if (threadIdx.x == 0) {
        mean[r] = mu;
        rstd[r] = inv;
    }
}

// dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma, xhat = (x - mean) rstd. RMSNorm
// passes mean = nullptr: xhat = x rstd and dx = rstd (g - xhat mean(g xhat)).
template <class T>
__global__ void norm_backward_dx_kernel(std::int64_t cols, const T* dy, const T* x, const T* gamma, const float* mean,
                                        const float* rstd, T* dx) {
    __shared__ float shared[32];
    const std::int64_t r = blockIdx.x;
    const float mu = mean != nullptr ? mean[r] : 0.0f;
    const float inv = rstd[r];
    float sum_g = 0;
    float sum_gx = 0;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float g = to_float(dy[r * cols + c]) * to_float(gamma[c]);
        sum_g += g;
        sum_gx += g * (to_float(x[r * cols + c]) - mu) * inv;
    }
    const float mean_g = mean != nullptr ? block_reduce(sum_g, Sum{}, shared) / static_cast<float>(cols) : 0.0f;
    const float mean_gx = block_reduce(sum_gx, Sum{}, shared) / static_cast<float>(cols);
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float g = to_float(dy[r * cols + c]) * to_float(gamma[c]);
        const float xhat = (to_float(x[r * cols + c]) - mu) * inv;
        dx[r * cols + c] = from_float<T>(inv * (g - mean_g - xhat * mean_gx));
    }
}

// First pass of dgamma = sum_r dy xhat and dbeta = sum_r dy: block (column tile, row chunk) sums
// its rows into partial[chunk][column]. Consecutive threads read consecutive columns.
template <class T>
__global__ void norm_backward_partial_kernel(std::int64_t rows, std::int64_t cols, const T* dy, const T* x,
                                             const float* mean, const float* rstd, float* partial_gamma,
                                             float* partial_beta) {
    const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const std::int64_t chunk = (rows + gridDim.y - 1) / gridDim.y;
    const std::int64_t begin = blockIdx.y * chunk;
    const std::int64_t end = begin + chunk < rows ? begin + chunk : rows;
    float g = 0;
    float b = 0;
    for (std::int64_t r = begin; r < end; ++r) {
        const float d = to_float(dy[r * cols + c]);
        const float mu = mean != nullptr ? mean[r] : 0.0f;
        g += d * (to_float(x[r * cols + c]) - mu) * rstd[r];
        b += d;
    }
    partial_gamma[blockIdx.y * cols + c] = g;
    if (partial_beta != nullptr) partial_beta[blockIdx.y * cols + c] = b;
}

__global__ void norm_backward_final_kernel(std::int64_t cols, int chunks, const float* partial_gamma,
                                           const float* partial_beta, float* dgamma, float* dbeta) {
    const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float g = 0;
    float b = 0;
    for (int k = 0; k < chunks; ++k) {
        g += partial_gamma[k * cols + c];
        if (partial_beta != nullptr) b += partial_beta[k * cols + c];
    }
    dgamma[c] = g;
    if (dbeta != nullptr) dbeta[c] = b;
}

template <class T>
__global__ void rmsnorm_forward_kernel(std::int64_t cols, float eps, const T* x, const T* gamma, T* y, float* rstd) {
    __shared__ float shared[32];
    const std::int64_t r = blockIdx.x;
    const T* xr = x + r * cols;
    float sq = 0;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float v = to_float(xr[c]);
        sq += v * v;
    }
    const float inv = rsqrtf(block_reduce(sq, Sum{}, shared) / static_cast<float>(cols) + eps);
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        y[r * cols + c] = from_float<T>(to_float(xr[c]) * inv * to_float(gamma[c]));
    }
    if (threadIdx.x == 0) rstd[r] = inv;
}

// ---- softmax -------------------------------------------------------------------------------------------

__device__ std::int64_t visible_keys(std::int64_t row, std::int64_t queries, std::int64_t keys, bool causal) {
    if (!causal) return keys;
    const std::int64_t v = row % queries + keys - queries + 1;
    return v < 0 ? 0 : (v > keys ? keys : v);
}

template <class T>
__global__ void softmax_forward_kernel(std::int64_t queries, std::int64_t keys, float scale, bool causal, const T* x,
                                       T* y) {
    __shared__ float shared[32];
    const std::int64_t r = blockIdx.x;
    const std::int64_t visible = visible_keys(r, queries, keys, causal);
    const T* xr = x + r * keys;
    float mx = -FLT_MAX;
    for (std::int64_t c = threadIdx.x; c < visible; c += blockDim.x) mx = fmaxf(mx, scale * to_float(xr[c]));
    mx = block_reduce(mx, Max{}, shared);
    float sum = 0;
    for (std::int64_t c = threadIdx.x; c < visible; c += blockDim.x) sum += __expf(scale * to_float(xr[c]) - mx);
    const float inv = 1.0f / block_reduce(sum, Sum{}, shared);
    for (std::int64_t c = threadIdx.x; c < keys; c += blockDim.x) {
        y[r * keys + c] = from_float<T>(c < visible ? __expf(scale * to_float(xr[c]) - mx) * inv : 0.0f);
    }
}

template <class T>
__global__ void softmax_backward_kernel(std::int64_t keys, float scale, const T* y, const T* dy, T* dx) {
    __shared__ float shared[32];
    const std::int64_t r = blockIdx.x;
    float dot = 0;
    for (std::int64_t c = threadIdx.x; c < keys; c += blockDim.x) dot += to_float(y[r * keys + c]) * to_float(dy[r * keys + c]);
    dot = block_reduce(dot, Sum{}, shared);
    for (std::int64_t c = threadIdx.x; c < keys; c += blockDim.x) {
        const float yv = to_float(y[r * keys + c]);
        dx[r * keys + c] = from_float<T>(scale * yv * (to_float(dy[r * keys + c]) - dot));
    }
}

// ---- activations -----------------------------------------------------------------------------------

// sqrt(2/pi) and the cubic coefficient of GeLU's tanh form (Hendrycks & Gimpel 2016, arXiv 1606.08415).
constexpr float kGeluScale = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

template <class T>
__global__ void gelu_forward_kernel(std::int64_t n, const T* x, T* y) {
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const float v = to_float(x[i]);
        const float t = tanhf(kGeluScale * (v + kGeluCubic * v * v * v));
        y[i] = from_float<T>(0.5f * v * (1.0f + t));
    }
}

template <class T>
__global__ void gelu_backward_kernel(std::int64_t n, const T* x, const T* dy, T* dx) {
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const float v = to_float(x[i]);
        const float t = tanhf(kGeluScale * (v + kGeluCubic * v * v * v));
        const float grad = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluScale * (1.0f + 3.0f * kGeluCubic * v * v);
        dx[i] = from_float<T>(to_float(dy[i]) * grad);
    }
}

template <class T>
__global__ void swiglu_forward_kernel(std::int64_t rows, std::int64_t cols, const T* x, T* y) {
    const std::int64_t n = rows * cols;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const std::int64_t r = i / cols;
        const std::int64_t c = i % cols;
        const float gate = to_float(x[r * 2 * cols + c]);
        const float up = to_float(x[r * 2 * cols + cols + c]);
        y[i] = from_float<T>(gate / (1.0f + __expf(-gate)) * up);
    }
}

template <class T>
__global__ void swiglu_backward_kernel(std::int64_t rows, std::int64_t cols, const T* x, const T* dy, T* dx) {
    const std::int64_t n = rows * cols;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const std::int64_t r = i / cols;
        const std::int64_t c = i % cols;
        const float gate = to_float(x[r * 2 * cols + c]);
        const float up = to_float(x[r * 2 * cols + cols + c]);
        const float d = to_float(dy[i]);
        const float sig = 1.0f / (1.0f + __expf(-gate));
        dx[r * 2 * cols + c] = from_float<T>(d * up * sig * (1.0f + gate * (1.0f - sig)));
        dx[r * 2 * cols + cols + c] = from_float<T>(d * gate * sig);
    }
}

// ---- cross-entropy -------------------------------------------------------------------------------------

template <class T>
__global__ void cross_entropy_forward_kernel(std::int64_t vocab, const T* logits, const std::int32_t* targets,
                                             float* loss, float* lse) {
    __shared__ float shared[32];
    const std::int64_t r = blockIdx.x;
    const T* l = logits + r * vocab;
    float mx = -FLT_MAX;
    for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) mx = fmaxf(mx, to_float(l[c]));
    mx = block_reduce(mx, Max{}, shared);
    float sum = 0;
    for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) sum += __expf(to_float(l[c]) - mx);
    const float log_sum = mx + __logf(block_reduce(sum, Sum{}, shared));
    if (threadIdx.x == 0) {
        lse[r] = log_sum;
        loss[r] = log_sum - to_float(l[targets[r]]);
    }
}

template <class T>
__global__ void cross_entropy_backward_kernel(std::int64_t vocab, const T* logits, const std::int32_t* targets,
                                              const float* lse, const float* dloss, T* dlogits) {
    const std::int64_t r = blockIdx.x;
    const float log_sum = lse[r];
    const float d = dloss[r];
    const std::int32_t target = targets[r];
    for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) {
        const float p = __expf(to_float(logits[r * vocab + c]) - log_sum);
        dlogits[r * vocab + c] = from_float<T>((p - (c == target ? 1.0f : 0.0f)) * d);
    }
}

// ---- optimizer ---------------------------------------------------------------------------------------

__global__ void adam_kernel(std::int64_t n, float lr, float beta1, float beta2, float eps, float decay, float bc1,
                            float bc2, float* param, const float* grad, float* m, float* v) {
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const float g = grad[i];
        const float mi = beta1 * m[i] + (1.0f - beta1) * g;
        const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * (1.0f - lr * decay) - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}

// ---- element-wise, layout and embedding ------------------------------------------------------------

template <class X, class Y>
__global__ void convert_kernel(std::int64_t n, const X* x, Y* y) {
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        y[i] = from_float<Y>(to_float(x[i]));
    }
}

template <class X, class Y>
__global__ void axpy_kernel(std::int64_t n, float alpha, const X* x, Y* y) {
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        y[i] = from_float<Y>(to_float(y[i]) + alpha * to_float(x[i]));
    }
}

template <class T>
__global__ void bias_add_kernel(std::int64_t rows, std::int64_t cols, const T* bias, T* y) {
    const std::int64_t n = rows * cols;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        y[i] = from_float<T>(to_float(y[i]) + to_float(bias[i % cols]));
    }
}

// First pass of a column sum: block (column tile, row chunk) sums its rows into partial[chunk][column].
template <class T>
__global__ void column_partial_kernel(std::int64_t rows, std::int64_t cols, const T* x, float* partial) {
    const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const std::int64_t chunk = (rows + gridDim.y - 1) / gridDim.y;
    const std::int64_t begin = blockIdx.y * chunk;
    const std::int64_t end = begin + chunk < rows ? begin + chunk : rows;
    float sum = 0;
    for (std::int64_t r = begin; r < end; ++r) sum += to_float(x[r * cols + c]);
    partial[blockIdx.y * cols + c] = sum;
}

__global__ void column_final_kernel(std::int64_t cols, int chunks, const float* partial, float* sum) {
    const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float s = 0;
    for (int k = 0; k < chunks; ++k) s += partial[k * cols + c];
    sum[c] += s;
}

// y[a][c][b][e] = x[a][b][c][e]: one thread per output element.
template <class T>
__global__ void permute_0213_kernel(std::int64_t d0, std::int64_t d1, std::int64_t d2, std::int64_t d3, const T* x,
                                    T* y) {
    const std::int64_t n = d0 * d1 * d2 * d3;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const std::int64_t e = i % d3;
        const std::int64_t b = i / d3 % d1;
        const std::int64_t c = i / (d3 * d1) % d2;
        const std::int64_t a = i / (d3 * d1 * d2);
        y[i] = x[((a * d1 + b) * d2 + c) * d3 + e];
    }
}

template <class T>
__global__ void embedding_forward_kernel(std::int64_t cols, const std::int32_t* tokens, const T* table,
                                         std::int64_t first_row, std::int64_t table_rows, T* y) {
    const std::int64_t r = blockIdx.x;
    const std::int64_t t = static_cast<std::int64_t>(tokens[r]) - first_row;
    const bool local = t >= 0 && t < table_rows;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        y[r * cols + c] = local ? table[t * cols + c] : from_float<T>(0.0f);
    }
}

// Rows of the same token add into the same table row: atomics, so the order of those additions
// (and the last bits of the sum) may vary from run to run, as with PyTorch's embedding backward.
template <class T>
__global__ void embedding_backward_kernel(std::int64_t cols, const std::int32_t* tokens, const T* dy,
                                          std::int64_t first_row, std::int64_t table_rows, float* dtable) {
    const std::int64_t r = blockIdx.x;
    const std::int64_t t = static_cast<std::int64_t>(tokens[r]) - first_row;
    if (t < 0 || t >= table_rows) return;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) atomicAdd(&dtable[t * cols + c], to_float(dy[r * cols + c]));
}

template <class T>
__global__ void cross_entropy_shard_forward_kernel(std::int64_t cols, const T* logits, const std::int32_t* targets,
                                                   std::int64_t first_column, float* shard_lse, float* target_logit) {
    __shared__ float shared[32];
    const std::int64_t r = blockIdx.x;
    const T* l = logits + r * cols;
    float mx = -FLT_MAX;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) mx = fmaxf(mx, to_float(l[c]));
    mx = block_reduce(mx, Max{}, shared);
    float sum = 0;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += __expf(to_float(l[c]) - mx);
    const float log_sum = mx + __logf(block_reduce(sum, Sum{}, shared));
    if (threadIdx.x == 0) {
        const std::int64_t t = static_cast<std::int64_t>(targets[r]) - first_column;
        shard_lse[r] = log_sum;
        target_logit[r] = t >= 0 && t < cols ? to_float(l[t]) : 0.0f;
    }
}

__global__ void cross_entropy_combine_kernel(std::int64_t rows, int shards, const float* shard_lse,
                                             const float* target_logit, float* lse, float* loss) {
    for (std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; r < rows;
         r += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        float mx = shard_lse[r];
        for (int p = 1; p < shards; ++p) mx = fmaxf(mx, shard_lse[p * rows + r]);
        float sum = 0;
        for (int p = 0; p < shards; ++p) sum += expf(shard_lse[p * rows + r] - mx);
        lse[r] = mx + logf(sum);
        loss[r] = lse[r] - target_logit[r];
    }
}

template <class T>
__global__ void cross_entropy_shard_backward_kernel(std::int64_t cols, const T* logits, const std::int32_t* targets,
                                                    std::int64_t first_column, const float* lse, float dloss,
                                                    T* dlogits) {
    const std::int64_t r = blockIdx.x;
    const float log_sum = lse[r];
    const std::int64_t target = static_cast<std::int64_t>(targets[r]) - first_column;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float p = __expf(to_float(logits[r * cols + c]) - log_sum);
        dlogits[r * cols + c] = from_float<T>((p - (c == target ? 1.0f : 0.0f)) * dloss);
    }
}

// ---- test data -----------------------------------------------------------------------------------------

template <class T>
__global__ void fill_uniform_kernel(T* x, std::size_t n, std::uint64_t seed, float lo, float hi) {
    for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        x[i] = from_float<T>(uniform_value(seed, i, lo, hi));
    }
}

template <class T>
__global__ void gather_kernel(const T* x, const std::int64_t* offsets, std::int64_t count, std::int64_t width,
                              float* out) {
    const std::int64_t n = count * width;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        out[i] = to_float(x[offsets[i / width] + i % width]);
    }
}

// ---- collective data check -------------------------------------------------------------------------

template <class T>
__global__ void fill_pattern_kernel(T* x, std::size_t n, int position) {
    for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        x[i] = from_float<T>(pattern_value(position, i));
    }
}

template <class T>
__global__ void count_mismatches_kernel(const T* x, std::size_t n, CollectiveKind kind, int ranks, int position,
                                        unsigned long long* count) {
    unsigned long long bad = 0;
    for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        bad += to_float(x[i]) != expected_value(kind, ranks, position, n, i) ? 1 : 0;
    }
    if (bad != 0) atomicAdd(count, bad);
}

// Calls f with a null pointer of the storage type of `t`.
template <class F>
void dispatch(DType t, F&& f) {
    switch (t) {
        case DType::fp32: f(static_cast<float*>(nullptr)); return;
        case DType::fp16: f(static_cast<__half*>(nullptr)); return;
        case DType::bf16: f(static_cast<__nv_bfloat16*>(nullptr)); return;
        case DType::int32: break;
    }
    throw std::invalid_argument("CUDA kernels take fp32, fp16 or bf16 activations");
}

template <class T>
const T* as(const void* p) {
    return static_cast<const T*>(p);
}
template <class T>
T* as(void* p) {
    return static_cast<T*>(p);
}

// Calls f with null pointers of the storage types of `x` and `y`.
template <class F>
void dispatch2(DType x, DType y, F&& f) {
    dispatch(x, [&](auto* xt) { dispatch(y, [&](auto* yt) { f(xt, yt); }); });
}

int norm_chunks(Rows s) { return static_cast<int>(std::min<std::int64_t>(kNormRowChunks, std::max<std::int64_t>(s.rows, 1))); }

}  // namespace

std::size_t norm_backward_scratch(Rows s) {
    return 2 * static_cast<std::size_t>(norm_chunks(s)) * static_cast<std::size_t>(s.cols) * sizeof(float);
}

void layernorm_forward(DType t, Rows s, float eps, const void* x, const void* gamma, const void* beta, void* y,
                       float* mean, float* rstd, cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        layernorm_forward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(s.cols, eps, as<T>(x), as<T>(gamma),
                                                                                 as<T>(beta), as<T>(y), mean, rstd);
    });
    CHECK_LAUNCH();
}

namespace {
template <class T>
void norm_weight_grads(Rows s, const T* dy, const T* x, const float* mean, const float* rstd, float* dgamma,
                       float* dbeta, void* scratch, cudaStream_t stream) {
    if (s.cols == 0) return;
    // With no rows the partial sums are 0, so dgamma and dbeta come out 0 (the sums over no rows).
    const int chunks = norm_chunks(s);
    float* partial_gamma = static_cast<float*>(scratch);
    float* partial_beta = dbeta != nullptr ? partial_gamma + static_cast<std::size_t>(chunks) * s.cols : nullptr;
    const dim3 grid(static_cast<unsigned>((s.cols + kThreads - 1) / kThreads), static_cast<unsigned>(chunks));
    norm_backward_partial_kernel<T><<<grid, kThreads, 0, stream>>>(s.rows, s.cols, dy, x, mean, rstd, partial_gamma,
                                                                   partial_beta);
    CHECK_LAUNCH();
    norm_backward_final_kernel<<<static_cast<unsigned>((s.cols + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        s.cols, chunks, partial_gamma, partial_beta, dgamma, dbeta);
    CHECK_LAUNCH();
}
}  // namespace

void layernorm_backward(DType t, Rows s, const void* dy, const void* x, const void* gamma, const float* mean,
                        const float* rstd, void* dx, float* dgamma, float* dbeta, void* scratch, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        if (s.rows > 0) {
            norm_backward_dx_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(
                s.cols, as<T>(dy), as<T>(x), as<T>(gamma), mean, rstd, as<T>(dx));
            CHECK_LAUNCH();
        }
        norm_weight_grads<T>(s, as<T>(dy), as<T>(x), mean, rstd, dgamma, dbeta, scratch, stream);
    });
}

void rmsnorm_forward(DType t, Rows s, float eps, const void* x, const void* gamma, void* y, float* rstd,
                     cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        rmsnorm_forward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(s.cols, eps, as<T>(x), as<T>(gamma),
                                                                               as<T>(y), rstd);
    });
    CHECK_LAUNCH();
}

void rmsnorm_backward(DType t, Rows s, const void* dy, const void* x, const void* gamma, const float* rstd, void* dx,
                      float* dgamma, void* scratch, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        if (s.rows > 0) {
            norm_backward_dx_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(
                s.cols, as<T>(dy), as<T>(x), as<T>(gamma), nullptr, rstd, as<T>(dx));
            CHECK_LAUNCH();
        }
        norm_weight_grads<T>(s, as<T>(dy), as<T>(x), nullptr, rstd, dgamma, nullptr, scratch, stream);
    });
}

void softmax_forward(DType t, const Softmax& s, const void* x, void* y, cudaStream_t stream) {
    if (s.rows() == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        softmax_forward_kernel<T><<<rows_grid(s.rows()), kThreads, 0, stream>>>(s.queries, s.keys, s.scale, s.causal,
                                                                                 as<T>(x), as<T>(y));
    });
    CHECK_LAUNCH();
}

void softmax_backward(DType t, const Softmax& s, const void* y, const void* dy, void* dx, cudaStream_t stream) {
    if (s.rows() == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        softmax_backward_kernel<T><<<rows_grid(s.rows()), kThreads, 0, stream>>>(s.keys, s.scale, as<T>(y), as<T>(dy),
                                                                                  as<T>(dx));
    });
    CHECK_LAUNCH();
}

void gelu_forward(DType t, std::int64_t n, const void* x, void* y, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        gelu_forward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, as<T>(x), as<T>(y));
    });
    CHECK_LAUNCH();
}

void gelu_backward(DType t, std::int64_t n, const void* x, const void* dy, void* dx, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        gelu_backward_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, as<T>(x), as<T>(dy), as<T>(dx));
    });
    CHECK_LAUNCH();
}

void swiglu_forward(DType t, Rows s, const void* x, void* y, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        swiglu_forward_kernel<T><<<grid_for(s.rows * s.cols), kThreads, 0, stream>>>(s.rows, s.cols, as<T>(x), as<T>(y));
    });
    CHECK_LAUNCH();
}

void swiglu_backward(DType t, Rows s, const void* x, const void* dy, void* dx, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        swiglu_backward_kernel<T><<<grid_for(s.rows * s.cols), kThreads, 0, stream>>>(s.rows, s.cols, as<T>(x),
                                                                                       as<T>(dy), as<T>(dx));
    });
    CHECK_LAUNCH();
}

void cross_entropy_forward(DType t, Rows s, const void* logits, const std::int32_t* targets, float* loss, float* lse,
                           cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        cross_entropy_forward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(s.cols, as<T>(logits), targets, loss,
                                                                                      lse);
    });
    CHECK_LAUNCH();
}

void cross_entropy_backward(DType t, Rows s, const void* logits, const std::int32_t* targets, const float* lse,
                            const float* dloss, void* dlogits, cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        cross_entropy_backward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(s.cols, as<T>(logits), targets, lse,
                                                                                       dloss, as<T>(dlogits));
    });
    CHECK_LAUNCH();
}

void adam_step(std::int64_t n, const Adam& a, float* param, const float* grad, float* m, float* v, cudaStream_t stream) {
    const float bc1 = 1.0f - std::pow(a.beta1, static_cast<float>(a.step));
    const float bc2 = 1.0f - std::pow(a.beta2, static_cast<float>(a.step));
    adam_kernel<<<grid_for(n), kThreads, 0, stream>>>(n, a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, bc1, bc2, param,
                                                      grad, m, v);
    CHECK_LAUNCH();
}

std::size_t column_sum_scratch(Rows s) {
    return static_cast<std::size_t>(norm_chunks(s)) * static_cast<std::size_t>(s.cols) * sizeof(float);
}

void convert(std::int64_t n, DType tx, const void* x, DType ty, void* y, cudaStream_t stream) {
    dispatch2(tx, ty, [&](auto* xt, auto* yt) {
        using X = std::remove_pointer_t<decltype(xt)>;
        using Y = std::remove_pointer_t<decltype(yt)>;
        convert_kernel<X, Y><<<grid_for(n), kThreads, 0, stream>>>(n, as<X>(x), as<Y>(y));
    });
    CHECK_LAUNCH();
}

void axpy(std::int64_t n, float alpha, DType tx, const void* x, DType ty, void* y, cudaStream_t stream) {
    dispatch2(tx, ty, [&](auto* xt, auto* yt) {
        using X = std::remove_pointer_t<decltype(xt)>;
        using Y = std::remove_pointer_t<decltype(yt)>;
        axpy_kernel<X, Y><<<grid_for(n), kThreads, 0, stream>>>(n, alpha, as<X>(x), as<Y>(y));
    });
    CHECK_LAUNCH();
}

void bias_add(DType t, Rows s, const void* bias, void* y, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        bias_add_kernel<T><<<grid_for(s.rows * s.cols), kThreads, 0, stream>>>(s.rows, s.cols, as<T>(bias), as<T>(y));
    });
    CHECK_LAUNCH();
}

void column_sum(DType t, Rows s, const void* x, float* sum, void* scratch, cudaStream_t stream) {
    if (s.cols == 0) return;
    const int chunks = norm_chunks(s);
    auto* partial = static_cast<float*>(scratch);
    const auto tiles = static_cast<unsigned>((s.cols + kThreads - 1) / kThreads);
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        column_partial_kernel<T><<<dim3(tiles, static_cast<unsigned>(chunks)), kThreads, 0, stream>>>(s.rows, s.cols,
                                                                                                      as<T>(x), partial);
    });
    CHECK_LAUNCH();
    column_final_kernel<<<tiles, kThreads, 0, stream>>>(s.cols, chunks, partial, sum);
    CHECK_LAUNCH();
}

void permute_0213(DType t, const Dims4& d, const void* x, void* y, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        permute_0213_kernel<T><<<grid_for(d[0] * d[1] * d[2] * d[3]), kThreads, 0, stream>>>(d[0], d[1], d[2], d[3],
                                                                                            as<T>(x), as<T>(y));
    });
    CHECK_LAUNCH();
}

void embedding_forward(DType t, Rows s, const std::int32_t* tokens, const void* table, std::int64_t first_row,
                       std::int64_t table_rows, void* y, cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        embedding_forward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(s.cols, tokens, as<T>(table), first_row,
                                                                                 table_rows, as<T>(y));
    });
    CHECK_LAUNCH();
}

void embedding_backward(DType t, Rows s, const std::int32_t* tokens, const void* dy, std::int64_t first_row,
                        std::int64_t table_rows, float* dtable, cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        embedding_backward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(s.cols, tokens, as<T>(dy), first_row,
                                                                                  table_rows, dtable);
    });
    CHECK_LAUNCH();
}

void cross_entropy_shard_forward(DType t, Rows s, const void* logits, const std::int32_t* targets,
                                 std::int64_t first_column, float* shard_lse, float* target_logit, cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        cross_entropy_shard_forward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(
            s.cols, as<T>(logits), targets, first_column, shard_lse, target_logit);
    });
    CHECK_LAUNCH();
}

void cross_entropy_combine(std::int64_t rows, int shards, const float* shard_lse, const float* target_logit, float* lse,
                           float* loss, cudaStream_t stream) {
    cross_entropy_combine_kernel<<<grid_for(rows), kThreads, 0, stream>>>(rows, shards, shard_lse, target_logit, lse,
                                                                          loss);
    CHECK_LAUNCH();
}

void cross_entropy_shard_backward(DType t, Rows s, const void* logits, const std::int32_t* targets,
                                  std::int64_t first_column, const float* lse, float dloss, void* dlogits,
                                  cudaStream_t stream) {
    if (s.rows == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        cross_entropy_shard_backward_kernel<T><<<rows_grid(s.rows), kThreads, 0, stream>>>(
            s.cols, as<T>(logits), targets, first_column, lse, dloss, as<T>(dlogits));
    });
    CHECK_LAUNCH();
}

void fill_uniform(DType t, void* x, std::size_t n, std::uint64_t seed, float lo, float hi, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        fill_uniform_kernel<T><<<grid_for(static_cast<std::int64_t>(n)), kThreads, 0, stream>>>(as<T>(x), n, seed, lo, hi);
    });
    CHECK_LAUNCH();
}

void gather(DType t, const void* x, const std::int64_t* offsets, std::int64_t count, std::int64_t width, float* out,
            cudaStream_t stream) {
    if (count * width == 0) return;
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        gather_kernel<T><<<grid_for(count * width), kThreads, 0, stream>>>(as<T>(x), offsets, count, width, out);
    });
    CHECK_LAUNCH();
}

void fill_pattern(DType t, void* x, std::size_t n, int position, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        fill_pattern_kernel<T><<<grid_for(static_cast<std::int64_t>(n)), kThreads, 0, stream>>>(as<T>(x), n, position);
    });
    CHECK_LAUNCH();
}

void count_mismatches(DType t, const void* x, std::size_t n, CollectiveKind kind, int ranks, int position,
                      unsigned long long* count, cudaStream_t stream) {
    dispatch(t, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        count_mismatches_kernel<T><<<grid_for(static_cast<std::int64_t>(n)), kThreads, 0, stream>>>(
            as<T>(x), n, kind, ranks, position, count);
    });
    CHECK_LAUNCH();
}

}  // namespace splitsim::kernels::cuda
