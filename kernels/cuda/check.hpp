// CHECK macros for every CUDA runtime, cuBLAS and NCCL call: a failure throws std::runtime_error
// naming the call, the file, the line and the library's error string.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace splitsim::kernels::cuda {

[[noreturn]] inline void fail(const char* call, const std::string& error, const char* file, int line) {
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + error);
}

}  // namespace splitsim::kernels::cuda

#define CHECK_CUDA(call)                                                                                          \
    do {                                                                                                          \
        const cudaError_t splitsim_cuda_rc = (call);                                                              \
        if (splitsim_cuda_rc != cudaSuccess) {                                                                    \
            ::splitsim::kernels::cuda::fail(#call,                                                                \
                                            std::string(cudaGetErrorName(splitsim_cuda_rc)) + ": " +              \
                                                cudaGetErrorString(splitsim_cuda_rc),                             \
                                            __FILE__, __LINE__);                                                  \
        }                                                                                                         \
    } while (false)

// After a kernel launch: launch-configuration errors are reported by cudaGetLastError.
#define CHECK_LAUNCH() CHECK_CUDA(cudaGetLastError())

#define CHECK_CUBLAS(call)                                                                                        \
    do {                                                                                                          \
        const cublasStatus_t splitsim_cublas_rc = (call);                                                         \
        if (splitsim_cublas_rc != CUBLAS_STATUS_SUCCESS) {                                                        \
            ::splitsim::kernels::cuda::fail(#call,                                                                \
                                            std::string(cublasGetStatusName(splitsim_cublas_rc)) + ": " +         \
                                                cublasGetStatusString(splitsim_cublas_rc),                        \
                                            __FILE__, __LINE__);                                                  \
        }                                                                                                         \
    } while (false)

#define CHECK_NCCL(call)                                                                                          \
    do {                                                                                                          \
        const ncclResult_t splitsim_nccl_rc = (call);                                                             \
        if (splitsim_nccl_rc != ncclSuccess && splitsim_nccl_rc != ncclInProgress) {                              \
            ::splitsim::kernels::cuda::fail(#call,                                                                \
                                            std::string(ncclGetErrorString(splitsim_nccl_rc)) +                  \
                                                " (last error: " + ncclGetLastError(nullptr) + ")",               \
                                            __FILE__, __LINE__);                                                  \
        }                                                                                                         \
    } while (false)
