// SPLITSIM_HOST_DEVICE marks functions that host code and CUDA device code share (the data the
// harness generates and checks): __host__ __device__ under nvcc, nothing elsewhere.
#pragma once

#if defined(__CUDACC__)
#define SPLITSIM_HOST_DEVICE __host__ __device__
#else
#define SPLITSIM_HOST_DEVICE
#endif
