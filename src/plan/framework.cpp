#include "splitsim/plan/framework.hpp"

#include <string>

#include "splitsim/common/error.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::plan {
namespace {

using model::Recompute;

[[noreturn]] void refuse(const Plan& p, const std::string& key, const std::string& why) {
    throw InputError(p.origin, p.pointer + "/" + key, why);
}

bool uneven(const Plan& p) { return p.first_stage_layers != 0 || p.last_stage_layers != 0; }
const char* uneven_key(const Plan& p) { return p.first_stage_layers ? "first_stage_layers" : "last_stage_layers"; }

// Megatron-LM (megatron/training/arguments.py, core_r0.12.0): the legacy model and Megatron-Core
// share the schedules, the rank layout and the optimizer options.
void megatron(const Plan& p, Framework f) {
    const bool core = f == Framework::megatron_core;
    const std::string name(display_name(f));
    switch (p.schedule) {
        case Schedule::one_f_one_b:
        case Schedule::interleaved: break;
        case Schedule::gpipe: refuse(p, "schedule", name + " has no GPipe schedule (it runs 1F1B)");
        case Schedule::zb_h1: refuse(p, "schedule", name + " has no ZB-H1 schedule");
    }
    if (!core) {
        // Context parallelism, MoE layers, the uneven pipeline split, fp8 and FSDP exist only for
        // Megatron-Core models (--use-mcore-models, Transformer Engine).
        if (p.cp > 1) refuse(p, "cp", "context parallelism needs Megatron-Core models (framework megatron-core)");
        if (p.ep > 1) refuse(p, "ep", "expert parallelism needs Megatron-Core models (framework megatron-core)");
        if (uneven(p)) refuse(p, uneven_key(p), "an uneven pipeline split needs Megatron-Core (framework megatron-core)");
        if (p.precision == Precision::fp8) refuse(p, "precision", "fp8 needs Transformer Engine (framework megatron-core)");
        if (p.zero == 3) refuse(p, "zero", "--use-torch-fsdp2 needs Megatron-Core models (framework megatron-core)");
        if (p.tp_comm_overlap) refuse(p, "tp_comm_overlap", "--tp-comm-overlap needs Transformer Engine (framework megatron-core)");
    } else if (!p.async_tp_allreduce) {
        refuse(p, "async_tp_allreduce", "Megatron-Core always overlaps the tensor-parallel input-gradient all-reduce");
    }
    // get_transformer_layer_offset divides by the stages between the first and the last.
    if (p.schedule == Schedule::interleaved && p.first_stage_layers && p.last_stage_layers && p.pp == 2) {
        refuse(p, "vpp", "Megatron-Core interleaves an uneven split only with a stage between the first and the last (pp >= 3)");
    }
    const std::array<Dim, kDimCount> tp_pp_dp{Dim::tensor, Dim::context, Dim::expert, Dim::pipeline, Dim::data};
    if (p.order == tp_pp_dp) {
        if (p.cp > 1 || p.ep > 1) refuse(p, "order", name + " maps pipeline inside data parallelism only without cp or ep");
    } else if (p.order != Plan{}.order) {
        refuse(p, "order", name + " lays ranks out as tp-cp-ep-dp-pp or tp-pp-dp");
    }
    if (p.zero == 2) {
        refuse(p, "zero", name + " shards optimizer states (zero 1, --use-distributed-optimizer) or everything (zero 3, --use-torch-fsdp2), not gradients alone");
    }
    // arguments.py forces --accumulate-allreduce-grads-in-fp32 under bf16.
    if (p.precision == Precision::bf16 && p.grad_precision != Precision::fp32) {
        refuse(p, "grad_precision", name + " accumulates and reduces gradients in fp32 under bf16");
    }
}

// DeepSpeed (deepspeed/runtime/pipe/engine.py, deepspeed/runtime/zero) with Megatron-DeepSpeed's model.
void deepspeed(const Plan& p) {
    if (p.cp > 1) refuse(p, "cp", "DeepSpeed's sequence parallelism (Ulysses) splits heads, not the ring attention of cp");
    if (p.ep > 1) refuse(p, "ep", "expert parallelism is not modelled for DeepSpeed");
    // PipelineEngine asserts zero_optimization_stage() < 2 (pipe/engine.py).
    if (p.pp > 1 && p.zero >= 2) refuse(p, "zero", "DeepSpeed's pipeline engine runs with ZeRO stage 0 or 1 only");
    if (p.pp > 1 && p.schedule != Schedule::one_f_one_b) {
        refuse(p, "schedule", "DeepSpeed's pipeline engine runs its own 1F1B schedule (TrainSchedule)");
    }
    if (p.recompute == Recompute::selective) refuse(p, "recompute", "Megatron-DeepSpeed checkpoints whole layers only");
    if (uneven(p)) refuse(p, uneven_key(p), "DeepSpeed's pipeline engine partitions the layers itself (partition_method)");
    if (p.precision == Precision::fp8) refuse(p, "precision", "DeepSpeed trains in fp32, fp16 or bf16");
    if (p.tp_comm_overlap) refuse(p, "tp_comm_overlap", "Megatron-DeepSpeed's tensor parallelism does not overlap its collectives with the GEMMs");
}

// torchtitan (torchtitan/config/job_config.py, torchtitan/distributed/parallel_dims.py).
void torchtitan(const Plan& p) {
    if (p.tp > 1 && !p.sequence_parallel) {
        refuse(p, "sequence_parallel", "torchtitan's tensor parallelism always shards norms along the sequence");
    }
    if (p.zero == 1) refuse(p, "zero", "torchtitan replicates (zero 0, DDP) or shards with FSDP (zero 2: no resharding after forward, zero 3)");
    if (uneven(p)) refuse(p, uneven_key(p), "torchtitan's pipeline_parallel_layers_per_stage splits the layers evenly");
    if (p.schedule == Schedule::zb_h1) {
        refuse(p, "schedule", "PyTorch's zero-bubble schedules are looped (InterleavedZeroBubble, ZBVZeroBubble)");
    }
    if (p.precision != Precision::bf16 && p.precision != Precision::fp32 && p.precision != Precision::fp8) {
        refuse(p, "precision", "torchtitan's mixed precision is bf16 (fp8 through its float8 converter)");
    }
}

}  // namespace

std::string_view to_string(Framework f) {
    switch (f) {
        case Framework::megatron_lm: return "megatron-lm";
        case Framework::megatron_core: return "megatron-core";
        case Framework::deepspeed: return "deepspeed";
        case Framework::torchtitan: return "torchtitan";
    }
    return "?";
}

std::string_view display_name(Framework f) {
    switch (f) {
        case Framework::megatron_lm: return "Megatron-LM";
        case Framework::megatron_core: return "Megatron-Core";
        case Framework::deepspeed: return "DeepSpeed";
        case Framework::torchtitan: return "torchtitan";
    }
    return "?";
}

std::optional<Framework> framework_from_string(std::string_view name) {
    for (Framework f : kAllFrameworks) {
        if (to_string(f) == name) return f;
    }
    return std::nullopt;
}

FrameworkBehaviour behaviour(const Plan& p) {
    FrameworkBehaviour b;
    if (!p.framework) return b;  // splitsim's defaults: FSDP-like layer units, one prefetched
    switch (*p.framework) {
        case Framework::megatron_lm:
        case Framework::megatron_core:
        case Framework::torchtitan:
            // FSDP2 (torch.distributed.fsdp.fully_shard, PyTorch 2.5-2.9), as Megatron-Core's
            // --use-torch-fsdp2 and torchtitan's apply_fsdp (torchtitan/models/llama3/infra/
            // parallelize.py) wrap each transformer block: one all-gather per block, the next
            // block's issued as the current one starts (implicit forward and backward prefetch),
            // one reduce-scatter per block (FSDPParamGroup.post_backward).
            b.sharded.unit = ShardedParameters::Unit::layer;
            b.sharded.prefetch_units = 1;
            break;
        case Framework::deepspeed:
            // DeepSpeed ZeRO-3 (deepspeed/runtime/zero/config.py and parameter_offload.py,
            // v0.19.5): hooks on every module fetch its own parameters; stage3_prefetch_bucket_size
            // 5e7 elements gathered ahead; stage3_param_persistence_threshold 1e5; reduce_bucket_size
            // 5e8 gradient elements per reduce-scatter; all_gather_into_tensor (one flat output).
            b.sharded.unit = ShardedParameters::Unit::module;
            b.sharded.prefetch_parameters = 5e7;
            b.sharded.persistence_threshold = 1e5;
            b.sharded.reduce_bucket_parameters = 5e8;
            if (p.framework_version == "0.3") {
                // v0.3.13-0.3.16 (deepspeed/runtime/zero/stage3.py, partition_parameters.py):
                // fetch_sub_module gathers parameter by parameter and ends in torch.cuda.synchronize()
                // (_allgather_param also synchronizes before each gather), so no fetch overlaps
                // compute; torch.distributed.all_gather and reduce_scatter take one tensor per rank
                // (PyTorch 1.8 c10d ProcessGroupNCCL copies each rank's chunk to or from the flat
                // buffer with its own copy_).
                b.sharded.synchronous_fetch = true;
                b.sharded.prefetch_parameters = 0;
                b.sharded.prefetch_units = 0;
                b.sharded.tensor_list_collectives = true;
            }
            break;
    }
    return b;
}

std::vector<std::string_view> framework_versions(Framework f) {
    switch (f) {
        case Framework::deepspeed: return {"0.19", "0.3"};
        case Framework::megatron_lm: return {};
        case Framework::megatron_core: return {};
        case Framework::torchtitan: return {};
    }
    return {};
}

void require_runs_on(const Plan& plan, const model::ModelSpec& /*model*/, Framework framework) {
    switch (framework) {
        case Framework::megatron_lm:
        case Framework::megatron_core: megatron(plan, framework); break;
        case Framework::deepspeed: deepspeed(plan); break;
        case Framework::torchtitan: torchtitan(plan); break;
    }
}

}  // namespace splitsim::plan
