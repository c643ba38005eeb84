// What each rank of a plan holds and runs: its share of the layers (per pipeline stage and model
// chunk), its sharded operators for one micro-batch, its parameters, and the collectives each
// layer and each step needs.
#pragma once

#include <memory>
#include <vector>

#include "splitsim/common/collective.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::plan {

// One collective one rank takes part in. `bytes` is the size nccl-tests would report (see
// common/collective.hpp); `group` the ranks taking part.
struct Collective {
    CollectiveKind kind = CollectiveKind::all_reduce;
    Dim dim = Dim::tensor;
    Bytes bytes;
    int group = 1;
    int position = 0;          // forward: runs before op `position`; backward: after the backward of op `position`
    bool before = true;        // forward: before the op, otherwise after it; backward: before its backward
    bool overlapped = false;   // overlaps the op it is attached to (context-parallel ring, input re-gather)
    // Backward only: runs between the op's input-gradient and weight-gradient GEMMs and overlaps
    // the weight-gradient GEMM (the asynchronous tensor-parallel all-reduce / reduce-scatter).
    bool with_weight_grad = false;
};

// The collectives of one layer (or of the embedding or head) for one micro-batch.
struct LayerComm {
    std::vector<Collective> forward;
    std::vector<Collective> backward;
};

struct Stage {
    int index = 0;
    std::vector<std::vector<int>> chunks;  // layer indices of each model chunk, in execution order
    double dense_parameters = 0;           // parameters on one rank of this stage (tensor-sharded)
    double expert_parameters = 0;
    bool first = false;                    // holds the embedding
    bool last = false;                     // holds the output layer and loss
    [[nodiscard]] int layer_count() const;
};

// What one rank runs for one micro-batch: it depends on the shard and the parallel degrees that
// cut the layers (tp, sp, cp, ep), not on the pipeline, so many plans share one.
struct LayerPrograms {
    model::LayerGraph graph;  // one rank's operators for one micro-batch
    LayerComm embedding_comm;
    LayerComm dense_comm;
    LayerComm moe_comm;
    LayerComm head_comm;
    model::OpTotals embedding;
    model::OpTotals dense;
    model::OpTotals moe;
    model::OpTotals head;
};

struct Partition {
    std::shared_ptr<const LayerPrograms> layers;
    std::vector<Stage> stages;
    Bytes pipeline_bytes;        // activation (and its gradient) each rank sends between stages per micro-batch
    // With scatter/gather pipeline sends: the whole activation the receiving tensor-parallel group
    // all-gathers after each receive (0 without).
    Bytes pipeline_gather_bytes;
    int dense_data_group = 1;    // ranks that hold the same dense parameters: dp x cp
    int expert_data_group = 1;   // ranks that hold the same experts: dp x cp / ep

    [[nodiscard]] const model::LayerGraph& graph() const { return layers->graph; }
};

// The shard a plan gives one rank.
model::Shard shard_of(const Plan& plan);

std::shared_ptr<const LayerPrograms> layer_programs(const Plan& plan, const model::ModelSpec& model);

// Splits a validated plan. Layers are assigned to stages contiguously; with vpp chunks, chunk c of
// stage s holds layers [(c p + s) L/(p v), ...) as in Megatron-LM's interleaved schedule. Pass the
// plan's layer programs to share them.
Partition partition(const Plan& plan, const model::ModelSpec& model,
                    std::shared_ptr<const LayerPrograms> programs = nullptr);

}  // namespace splitsim::plan
