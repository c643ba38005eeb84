// Time of the optimizer step.
#pragma once

#include "splitsim/cost/compute.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::cost {

// Adam over the local optimizer shard, a memory-bound kernel: it reads the fp32 master weight,
// the gradient, momentum and variance, and writes the three fp32 states and the 16-bit model
// weight (mixed precision; fp32 training has no separate master copy).
Seconds optimizer_step_time(const ComputeModel& compute, const plan::Plan& plan, double local_parameters);

// Parameters per gradient bucket of Megatron-LM's distributed data parallelism:
// max(40M, 1M x dp) (distributed/param_and_grad_buffer.py).
double gradient_bucket_parameters(int dp);

}  // namespace splitsim::cost
