// The training frameworks a plan can name (plan key `framework`): which plans each one runs, and
// (read by cost and sim) how it runs them. A plan without the key is run as splitsim's defaults
// describe it (Megatron-LM's conventions) and may use every feature the simulator models.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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
