// Pipeline schedules: the order in which one pipeline stage runs the forward, backward and
// weight-gradient passes of its micro-batches (and model chunks).
#pragma once

#include <vector>

#include "splitsim/plan/plan.hpp"

namespace splitsim::sim {

struct WorkItem {
    enum class Kind { forward, backward, weight_grad };
    Kind kind = Kind::forward;
    int micro_batch = 0;
    int chunk = 0;
    friend bool operator==(const WorkItem&, const WorkItem&) = default;
};

// The program of stage `stage` of `pp` for `micro_batches` micro-batches and `vpp` chunks:
//  - GPipe: every forward, then every backward (last micro-batch first).
//  - 1F1B: min(p - s - 1, m) warm-up forwards, then one forward and one backward in turn, then the
//    remaining backwards (Narayanan et al. 2021, Sec. 2.2.1).
//  - interleaved: Megatron-LM's order of virtual micro-batches k = 0 .. m v - 1: chunk (k / p) mod v
//    (reversed for backwards), micro-batch (k / (p v)) p + k mod p, with 2 (p - s - 1) + (v - 1) p
//    warm-up forwards (ibid., Sec. 2.2.2).
//  - ZB-H1: the 1F1B order with backward passes computing input gradients only; stage s runs the
//    weight gradients of micro-batch j after the backward of micro-batch j + s. Later stages pass
//    input gradients upstream first and finish their deferred weight gradients in the drain, and
//    keep at most p micro-batches' activations, as 1F1B (Qi et al. 2023, arXiv 2401.10241, Sec. 3.1).
std::vector<WorkItem> stage_program(plan::Schedule schedule, int pp, int vpp, int micro_batches, int stage);

}  // namespace splitsim::sim
