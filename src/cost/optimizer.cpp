#include "splitsim/cost/optimizer.hpp"

#include <algorithm>

namespace splitsim::cost {

Seconds optimizer_step_time(const ComputeModel& compute, const plan::Plan& p, double local_parameters) {
    const double grad = element_bytes(p.grad_precision);
    const bool mixed = element_bytes(p.precision) < 4;
    const double reads = 4 + grad + 4 + 4;             // master weight, gradient, momentum, variance
    const double writes = mixed ? 4 + 4 + 4 + 2 : 4 + 4 + 4;  // the states, and the 16-bit weight
    return compute.memory_time(Bytes(local_parameters * (reads + writes)));
}

double gradient_bucket_parameters(int dp) { return std::max(40e6, 1e6 * dp); }

}  // namespace splitsim::cost
