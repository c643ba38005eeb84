// The CPU kernels (Eigen, one thread) on host arrays, in float for the CPU backend and in double
// for the references the tests and the harness's data checks compare against. The CPU backend
// (make_cpu_backend) runs the float versions on host tensors.
#pragma once

#include <cstdint>
#include <memory>

#include "splitsim/kernels/backend.hpp"

namespace splitsim::kernels::cpu {

template <class S>
void gemm(const GemmShape& s, const S* a, const S* b, S* c);

template <class S>
void layernorm_forward(Rows s, S eps, const S* x, const S* gamma, const S* beta, S* y, S* mean, S* rstd);
template <class S>
void layernorm_backward(Rows s, const S* dy, const S* x, const S* gamma, const S* mean, const S* rstd, S* dx,
                        S* dgamma, S* dbeta);
template <class S>
void rmsnorm_forward(Rows s, S eps, const S* x, const S* gamma, S* y, S* rstd);
template <class S>
void rmsnorm_backward(Rows s, const S* dy, const S* x, const S* gamma, const S* rstd, S* dx, S* dgamma);

template <class S>
void softmax_forward(const Softmax& s, const S* x, S* y);
template <class S>
void softmax_backward(const Softmax& s, const S* y, const S* dy, S* dx);

template <class S>
void gelu_forward(std::int64_t n, const S* x, S* y);
template <class S>
void gelu_backward(std::int64_t n, const S* x, const S* dy, S* dx);
template <class S>
void swiglu_forward(Rows s, const S* x, S* y);
template <class S>
void swiglu_backward(Rows s, const S* x, const S* dy, S* dx);

template <class S>
void cross_entropy_forward(Rows s, const S* logits, const std::int32_t* targets, S* loss, S* lse);
template <class S>
void cross_entropy_backward(Rows s, const S* logits, const std::int32_t* targets, const S* lse, const S* dloss,
                            S* dlogits);

template <class S>
void adam_step(std::int64_t n, const Adam& a, S* param, const S* grad, S* m, S* v);

template <class S>
void axpy(std::int64_t n, S alpha, const S* x, S* y);
template <class S>
void bias_add(Rows s, const S* bias, S* y);
template <class S>
void column_sum(Rows s, const S* x, S* sum);
template <class S>
void permute_0213(const Dims4& dims, const S* x, S* y);
template <class S>
void embedding_forward(Rows s, const std::int32_t* tokens, const S* table, std::int64_t first_row,
                       std::int64_t table_rows, S* y);
template <class S>
void embedding_backward(Rows s, const std::int32_t* tokens, const S* dy, std::int64_t first_row,
                        std::int64_t table_rows, S* dtable);
template <class S>
void cross_entropy_shard_forward(Rows s, const S* logits, const std::int32_t* targets, std::int64_t first_column,
                                 S* shard_lse, S* target_logit);
template <class S>
void cross_entropy_combine(std::int64_t rows, int shards, const S* shard_lse, const S* target_logit, S* lse, S* loss);
template <class S>
void cross_entropy_shard_backward(Rows s, const S* logits, const std::int32_t* targets, std::int64_t first_column,
                                  const S* lse, S dloss, S* dlogits);

// The CPU backend: fp32 kernels above on host tensors; `device` names the CPU in DeviceInfo.
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace splitsim::kernels::cpu
