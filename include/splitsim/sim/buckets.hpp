// Gradient buckets of one pipeline stage, shared by both tiers: Megatron-LM fills buckets of
// max(40M, 1M x dp) parameters in the order gradients complete (the last layer first), and
// reduces each as soon as it is full (distributed/param_and_grad_buffer.py).
#pragma once

#include <vector>

#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::sim {

struct Bucket {
    double parameters = 0;
    std::vector<int> layers;      // layers whose gradients complete the bucket
    bool head = false;            // holds the head's parameters (their gradients complete first)
    bool embedding = false;       // holds the embedding's parameters (complete at the stage's end)
};

// Buckets of the stage's dense (or expert) parameters. Without `bucketed` one bucket holds them all.
// `layers_only` / `outside_only` select the transformer layers' parameters or the rest (ZeRO-3
// gathers and reduces the layers' parameters layer by layer).
enum class BucketScope { all, layers_only, outside_only };
// With `record_layers` false the buckets carry only their sizes (the analytical tier needs no more).
std::vector<Bucket> gradient_buckets(const plan::Plan& plan, const model::ModelSpec& model, const plan::Partition& part,
                                     const plan::Stage& stage, bool expert, bool bucketed, BucketScope scope = BucketScope::all,
                                     bool record_layers = true);

}  // namespace splitsim::sim
