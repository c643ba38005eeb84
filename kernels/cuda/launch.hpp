// Host entry points of the project's CUDA kernels (kernels.cu). Pointers are device pointers of
// the named DType (activations: fp32, fp16 or bf16); statistics, targets and optimizer state are
// fp32/int32 as backend.hpp states. Every launcher checks its launch and returns without waiting.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "splitsim/common/collective.hpp"
#include "splitsim/kernels/backend.hpp"

namespace splitsim::kernels::cuda {

// Bytes of scratch the backward norms need for their partial column sums.
std::size_t norm_backward_scratch(Rows s);

void layernorm_forward(DType t, Rows s, float eps, const void* x, const void* gamma, const void* beta, void* y,
                       float* mean, float* rstd, cudaStream_t stream);
void layernorm_backward(DType t, Rows s, const void* dy, const void* x, const void* gamma, const float* mean,
                        const float* rstd, void* dx, float* dgamma, float* dbeta, void* scratch, cudaStream_t stream);
void rmsnorm_forward(DType t, Rows s, float eps, const void* x, const void* gamma, void* y, float* rstd,
                     cudaStream_t stream);
void rmsnorm_backward(DType t, Rows s, const void* dy, const void* x, const void* gamma, const float* rstd, void* dx,
                      float* dgamma, void* scratch, cudaStream_t stream);
void softmax_forward(DType t, const Softmax& s, const void* x, void* y, cudaStream_t stream);
void softmax_backward(DType t, const Softmax& s, const void* y, const void* dy, void* dx, cudaStream_t stream);
void gelu_forward(DType t, std::int64_t n, const void* x, void* y, cudaStream_t stream);
void gelu_backward(DType t, std::int64_t n, const void* x, const void* dy, void* dx, cudaStream_t stream);
void swiglu_forward(DType t, Rows s, const void* x, void* y, cudaStream_t stream);
void swiglu_backward(DType t, Rows s, const void* x, const void* dy, void* dx, cudaStream_t stream);
void cross_entropy_forward(DType t, Rows s, const void* logits, const std::int32_t* targets, float* loss, float* lse,
                           cudaStream_t stream);
void cross_entropy_backward(DType t, Rows s, const void* logits, const std::int32_t* targets, const float* lse,
                            const float* dloss, void* dlogits, cudaStream_t stream);
void adam_step(std::int64_t n, const Adam& a, float* param, const float* grad, float* m, float* v, cudaStream_t stream);

// Bytes of scratch column_sum needs for its partial sums.
std::size_t column_sum_scratch(Rows s);

void convert(std::int64_t n, DType tx, const void* x, DType ty, void* y, cudaStream_t stream);
void axpy(std::int64_t n, float alpha, DType tx, const void* x, DType ty, void* y, cudaStream_t stream);
void bias_add(DType t, Rows s, const void* bias, void* y, cudaStream_t stream);
void column_sum(DType t, Rows s, const void* x, float* sum, void* scratch, cudaStream_t stream);
void permute_0213(DType t, const Dims4& dims, const void* x, void* y, cudaStream_t stream);
void embedding_forward(DType t, Rows s, const std::int32_t* tokens, const void* table, std::int64_t first_row,
                       std::int64_t table_rows, void* y, cudaStream_t stream);
void embedding_backward(DType t, Rows s, const std::int32_t* tokens, const void* dy, std::int64_t first_row,
                        std::int64_t table_rows, float* dtable, cudaStream_t stream);
void cross_entropy_shard_forward(DType t, Rows s, const void* logits, const std::int32_t* targets,
                                 std::int64_t first_column, float* shard_lse, float* target_logit, cudaStream_t stream);
void cross_entropy_combine(std::int64_t rows, int shards, const float* shard_lse, const float* target_logit, float* lse,
                           float* loss, cudaStream_t stream);
void cross_entropy_shard_backward(DType t, Rows s, const void* logits, const std::int32_t* targets,
                                  std::int64_t first_column, const float* lse, float dloss, void* dlogits,
                                  cudaStream_t stream);

// Backend::fill_uniform over n elements (fill.hpp).
void fill_uniform(DType t, void* x, std::size_t n, std::uint64_t seed, float lo, float hi, cudaStream_t stream);
// out[i width + j] = x[offsets[i] + j] as fp32, for i < count and j < width (offsets in device memory).
void gather(DType t, const void* x, const std::int64_t* offsets, std::int64_t count, std::int64_t width, float* out,
            cudaStream_t stream);

void fill_pattern(DType t, void* x, std::size_t n, int position, cudaStream_t stream);
// Adds the mismatches to *count (device memory, zeroed by the caller).
void count_mismatches(DType t, const void* x, std::size_t n, CollectiveKind kind, int ranks, int position,
                      unsigned long long* count, cudaStream_t stream);

}  // namespace splitsim::kernels::cuda
