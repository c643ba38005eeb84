// The CUDA backend (built with -Dcuda=enabled, or auto where nvcc is found): cuBLAS GEMMs and the
// project's kernels (kernels/cuda/kernels.cu) on one GPU, queued on the backend's own stream.
#pragma once

#include <memory>
#include <string>

#include "splitsim/kernels/backend.hpp"

namespace splitsim::kernels::cuda {

// GPUs this process sees; 0 when there is no driver or no device (`reason` then says why).
int device_count(std::string* reason = nullptr);

// A backend on GPU `device` (a CUDA ordinal), with its own stream, cuBLAS handle and workspace.
std::unique_ptr<Backend> make_backend(int device);

}  // namespace splitsim::kernels::cuda
