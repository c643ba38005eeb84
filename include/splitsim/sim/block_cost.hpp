// Costs of one block of work (a transformer layer, the embedding or the head) for one micro-batch
// on one rank, as the analytical tier sums them.
#pragma once

#include "splitsim/common/units.hpp"
#include "splitsim/sim/prediction.hpp"

namespace splitsim::sim {

struct BlockCost {
    Seconds forward;
    Seconds backward;        // recomputation included
    Seconds weight_grad;     // the weight-gradient part of backward
    PerDim<Seconds> comm{};  // exposed communication, forward + backward (+ recomputed forward)
    Seconds forward_comm;    // exposed communication of the forward pass, all dimensions
    Seconds backward_comm;   // of the backward pass, the recomputed forward's included
    PerDim<Bytes> bytes{};   // bytes sent
};

struct BlockCosts {
    BlockCost embedding;
    BlockCost dense;
    BlockCost moe;
    BlockCost head;
};

}  // namespace splitsim::sim
