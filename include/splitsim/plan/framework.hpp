// The training frameworks a plan can name (plan key `framework`): which plans each one runs, and
// (read by cost and sim) how it runs them. A plan without the key is run as splitsim's defaults
// describe it (Megatron-LM's conventions) and may use every feature the simulator models.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
