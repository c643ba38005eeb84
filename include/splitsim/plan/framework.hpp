// The training frameworks a plan can name (plan key `framework`): which plans each one runs, and
// (read by cost and sim) how it runs them. A plan without the key is run as splitsim's defaults
// describe it (Megatron-LM's conventions) and may use every feature the simulator models.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"

namespace splitsim::plan {

struct Plan;

enum class Framework {
    megatron_lm,    // Megatron-LM's legacy GPT model (megatron/legacy), the 2021-2022 papers' code
    megatron_core,  // Megatron-LM with Megatron-Core models and Transformer Engine (--use-mcore-models)
    deepspeed,      // DeepSpeed's engine and pipeline engine with Megatron-DeepSpeed's model
    torchtitan,     // torchtitan: FSDP2, DTensor tensor parallelism, torch.distributed.pipelining
};

inline constexpr Framework kAllFrameworks[] = {Framework::megatron_lm, Framework::megatron_core,
                                               Framework::deepspeed, Framework::torchtitan};

// The plan-file spelling: "megatron-lm", "megatron-core", "deepspeed", "torchtitan".
std::string_view to_string(Framework f);
// A person's name for it: "Megatron-LM", "Megatron-Core", "DeepSpeed", "torchtitan".
std::string_view display_name(Framework f);
std::optional<Framework> framework_from_string(std::string_view name);

// How a framework runs sharded data parallelism (ZeRO-3, FSDP): what one all-gather fetches, how
// far ahead of use, and how the gradients are reduce-scattered.
struct ShardedParameters {
    enum class Unit {
        layer,   // a transformer block's parameters together (FSDP2's fully_shard per block)
        module,  // each module's own parameters (DeepSpeed ZeRO-3 hooks every nn.Module: each linear)
    };
    Unit unit = Unit::layer;
    // Units gathered ahead of the one computing: the all-gather of unit u starts when unit
    // u - prefetch starts computing (0: when unit u is needed).
    int prefetch_units = 1;
    // Parameters gathered ahead instead, as many units as fit (at least one); 0: prefetch_units.
    double prefetch_parameters = 0;
    // Each fetch first waits for the whole device, compute included (no overlap at all).
    bool synchronous_fetch = false;
    // Parameters of at most this many elements are never sharded (their all-gather is skipped).
    double persistence_threshold = 0;
    // Gradient elements per reduce-scatter; 0: one reduce-scatter per unit.
    double reduce_bucket_parameters = 0;
    // The collectives take one tensor per rank (c10d's tensor-list all_gather / reduce_scatter),
    // which copies each rank's chunk with its own kernel: ranks x launch overhead per collective.
    bool tensor_list_collectives = false;
};

// How a framework runs a plan, where that changes time: data the cost models and the schedules
// read. Every value cites the framework's source at a named release (framework.cpp).
struct FrameworkBehaviour {
    ShardedParameters sharded;
};

// The behaviour of the plan's framework (and framework_version); splitsim's defaults for a plan
// without one.
FrameworkBehaviour behaviour(const Plan& plan);

// The releases whose behaviour differs that a plan may name as framework_version (the first is
// the default): DeepSpeed "0.19" (v0.19.5) and "0.3" (v0.3.13-0.3.16, the first ZeRO-3 releases).
std::vector<std::string_view> framework_versions(Framework framework);

// Why a framework cannot run a plan: the file and JSON pointer of the key at fault (a plan key, or
// a model key the framework's model cannot express) and the reason.
struct Refusal {
    std::string file;
    std::string pointer;
    std::string why;
};

// What keeps `framework` from running the plan on the model, or nothing when it runs it (e.g.
// "/schedule: DeepSpeed's pipeline engine runs its own 1F1B schedule", "/activation: torchtitan's
// llama3 model uses SwiGLU"). Cheap where it accepts: the search filters candidates with it. The
// plan must have been validated (dp known).
std::optional<Refusal> refusal(const Plan& plan, const model::ModelSpec& model, Framework framework);
// Throws InputError with the refusal, if there is one.
void require_runs_on(const Plan& plan, const model::ModelSpec& model, Framework framework);

// Sets the switches a search chooses freely (the overlap of gradient reduction and parameter
// gathering, gradient-accumulation fusion) to what `framework` runs with the plan's ZeRO stage,
// and names the framework in the plan.
void adopt(Plan& plan, Framework framework);

}  // namespace splitsim::plan

// ---- Memory: how each framework allocates -------------------------------------------------------

namespace splitsim::plan {

// The memory conventions of a framework: the bytes its optimizer keeps, the tensors its modules
// save for the backward pass, the working copies its loss makes of the logits, how it shards and
// gathers parameters under ZeRO-3 / FSDP, and the buffers it allocates. Every value is what the
// framework's source does at the release named in src/plan/framework.cpp; cost/memory reads them.
struct FrameworkMemory {
    // Bytes per parameter the optimizer adds for an fp32 copy of 16-bit main gradients (the step
    // reads fp32 gradients): with fp16 gradients 20 bytes per parameter instead of 16.
    double fp32_copy_of_16bit_grads = 0;
    // ZeRO-3 / FSDP shards the fp32 master parameters themselves (no separate 16-bit copy): 4 bytes
    // of weights per parameter and 8 of Adam moments, sharded; 16-bit copies only while gathered.
    bool fp32_sharded_parameters = false;
    model::SavedTensors saved;
    // The loss over one micro-batch's logits, as the allocations and frees it makes in order (the
    // forward pass from the 16-bit logits on, then the backward pass down to the logits' gradient),
    // in bytes per logit. The tensor the forward pass keeps for the backward pass is the fp32
    // softmax (or log-softmax) the layer graph counts (4 bytes per logit).
    struct LossStep {
        double allocate = 0;  // bytes per logit of a new tensor, or
        int free = -1;        // the tensor allocated by step `free` is released
    };
    std::vector<LossStep> loss;
    // The same under tensor parallelism, when the loss runs on vocabulary shards some other way
    // (empty: as `loss`).
    std::vector<LossStep> vocab_parallel_loss;
    [[nodiscard]] const std::vector<LossStep>& loss_steps(int tp) const {
        return tp > 1 && !vocab_parallel_loss.empty() ? vocab_parallel_loss : loss;
    }
    // Bytes per logit alive at once at the loss's peak, forward or backward; with `keep_logits`
    // the 16-bit logits (the first tensor) are not released.
    [[nodiscard]] double loss_peak_per_logit(int tp = 1, bool keep_logits = false) const;
    // ZeRO-3 / FSDP (the units and their prefetch are FrameworkBehaviour::sharded): whether the
    // embedding, final norm and output layer form one root unit gathered from the first forward to
    // the last backward, its unsharded gradients held until the end of the backward pass.
    bool root_unit = false;
    // Gradients of a gathered unit before their reduce-scatter: the unsharded 16-bit gradients
    // and the reduce-scatter's input in fp32, held for this many units at once (0: reduced in place).
    int fp32_reduce_scatter_units = 0;
    // With pipeline parallelism, FSDP keeps every unit gathered through the step and accumulates
    // unsharded gradients in fp32 across micro-batches, reduce-scattering them after the last.
    bool pipeline_keeps_unsharded = false;
    // With pipeline parallelism, every stage keeps each micro-batch's output (the last stage's are
    // the 16-bit logits, the loss's first tensor) until the step ends.
    bool pipeline_keeps_outputs = false;
    // Gradient buckets outside the main-gradient buffer, in elements (DeepSpeed's reduce bucket),
    // two when the reduction overlaps the backward pass.
    double grad_bucket_elements = 0;
    // fp8 training: bytes per GEMM parameter of fp8 weight copies cached across micro-batches
    // (Transformer Engine keeps the weight and its transpose), and the bytes per GEMM parameter
    // of gathered (FSDP) weights.
    double fp8_weight_cache_per_param = 0;
    double fp8_gathered_bytes_per_param = 2;
};

// The conventions of `framework`; without one, splitsim's defaults (Megatron-LM's).
FrameworkMemory framework_memory(std::optional<Framework> framework);

}  // namespace splitsim::plan
