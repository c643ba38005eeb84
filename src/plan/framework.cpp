#include "splitsim/plan/framework.hpp"

#include <algorithm>
#include <string>

#include "splitsim/common/error.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::plan {
namespace {

using model::Recompute;
using Found = std::optional<Refusal>;

Refusal plan_key(const Plan& p, const std::string& key, const std::string& why) {
    return {p.origin, p.pointer + "/" + key, why};
}
Refusal model_key(const model::ModelSpec& m, const std::string& key, const std::string& why) {
    return {m.origin.empty() ? "model" : m.origin, "/" + key, why};
}

bool uneven(const Plan& p) { return p.first_stage_layers != 0 || p.last_stage_layers != 0; }
const char* uneven_key(const Plan& p) { return p.first_stage_layers ? "first_stage_layers" : "last_stage_layers"; }
bool default_order(const Plan& p) { return p.order == Plan{}.order; }

// Every framework below trains decoders with a causal mask (Megatron's pretrain_gpt.py,
// Megatron-DeepSpeed's pretrain_gpt.py, torchtitan's llama3).
Found decoder(const model::ModelSpec& m, Framework f) {
    if (!m.causal) return model_key(m, "causal", std::string(display_name(f)) + " trains causal decoders (a GPT-style model)");
    return std::nullopt;
}

// Megatron-LM (megatron/training/arguments.py, core_v0.12.0): the legacy model and Megatron-Core
// share the schedules, the rank layout and the optimizer options.
Found megatron(const Plan& p, const model::ModelSpec& m, Framework f) {
    const bool core = f == Framework::megatron_core;
    const std::string name(display_name(f));
    if (Found r = decoder(m, f)) return r;
    switch (p.schedule) {
        case Schedule::one_f_one_b:
        case Schedule::interleaved: break;
        case Schedule::gpipe: return plan_key(p, "schedule", name + " has no GPipe schedule (it runs 1F1B)");
        case Schedule::zb_h1: return plan_key(p, "schedule", name + " has no ZB-H1 schedule");
    }
    if (!core) {
        // Context parallelism, MoE layers, the uneven pipeline split, fp8, FSDP and the overlapped
        // parameter gather exist only for Megatron-Core models (--use-mcore-models, Transformer
        // Engine). The legacy model's experts (SwitchMLP, megatron/legacy/model/transformer.py)
        // route each token to one expert in every layer, without --moe-router-topk.
        if (m.moe) return model_key(m, "moe", "MoE layers need Megatron-Core models (framework megatron-core)");
        if (p.cp > 1) return plan_key(p, "cp", "context parallelism needs Megatron-Core models (framework megatron-core)");
        if (p.ep > 1) return plan_key(p, "ep", "expert parallelism needs Megatron-Core models (framework megatron-core)");
        if (uneven(p)) return plan_key(p, uneven_key(p), "an uneven pipeline split needs Megatron-Core (framework megatron-core)");
        if (p.precision == Precision::fp8) return plan_key(p, "precision", "fp8 needs Transformer Engine (framework megatron-core)");
        if (p.zero == 3) return plan_key(p, "zero", "--use-torch-fsdp2 needs Megatron-Core models (framework megatron-core)");
        if (p.overlap_param_gather) return plan_key(p, "overlap_param_gather", "--overlap-param-gather needs Megatron-Core models");
        if (p.tp_comm_overlap) return plan_key(p, "tp_comm_overlap", "--tp-comm-overlap needs Transformer Engine (framework megatron-core)");
    } else if (!p.async_tp_allreduce) {
        return plan_key(p, "async_tp_allreduce", "Megatron-Core always overlaps the tensor-parallel input-gradient all-reduce");
    }
    // get_transformer_layer_offset divides by the stages between the first and the last.
    if (p.schedule == Schedule::interleaved && p.first_stage_layers && p.last_stage_layers && p.pp == 2) {
        return plan_key(p, "vpp", "Megatron-Core interleaves an uneven split only with a stage between the first and the last (pp >= 3)");
    }
    const std::array<Dim, kDimCount> tp_pp_dp{Dim::tensor, Dim::context, Dim::expert, Dim::pipeline, Dim::data};
    if (p.order == tp_pp_dp) {
        if (p.cp > 1 || p.ep > 1) return plan_key(p, "order", name + " maps pipeline inside data parallelism only without cp or ep");
    } else if (!default_order(p)) {
        return plan_key(p, "order", name + " lays ranks out as tp-cp-ep-dp-pp or tp-pp-dp");
    }
    if (p.zero == 2) {
        return plan_key(p, "zero", name + " shards optimizer states (zero 1, --use-distributed-optimizer) or everything (zero 3, --use-torch-fsdp2), not gradients alone");
    }
    // validate_args under --use-torch-fsdp2.
    if (p.zero == 3) {
        if (p.pp > 1) return plan_key(p, "zero", "--use-torch-fsdp2 is not supported with pipeline parallelism");
        if (p.ep > 1) return plan_key(p, "zero", "--use-torch-fsdp2 is not supported with expert parallelism");
        if (p.grad_accumulation_fusion) {
            return plan_key(p, "grad_accumulation_fusion", "--use-torch-fsdp2 is not supported with gradient accumulation fusion");
        }
        if (p.precision == Precision::fp16) return plan_key(p, "precision", "--use-torch-fsdp2 does not support fp16");
        if (m.tied_embeddings) return model_key(m, "tied_embeddings", "--use-torch-fsdp2 requires --untie-embeddings-and-output-weights");
    }
    if (p.overlap_param_gather && p.zero != 1) {
        return plan_key(p, "overlap_param_gather", "--overlap-param-gather needs the distributed optimizer (zero 1)");
    }
    if (p.overlap_param_gather && !p.overlap_grad_reduce) {
        return plan_key(p, "overlap_param_gather", "--overlap-param-gather needs --overlap-grad-reduce (overlap_grad_reduce)");
    }
    // arguments.py forces --accumulate-allreduce-grads-in-fp32 under bf16.
    if (p.precision == Precision::bf16 && p.grad_precision != Precision::fp32) {
        return plan_key(p, "grad_precision", name + " accumulates and reduces gradients in fp32 under bf16");
    }
    return std::nullopt;
}

// DeepSpeed (deepspeed/runtime/pipe/engine.py, deepspeed/runtime/zero, v0.16.4) with
// Megatron-DeepSpeed's model (megatron/arguments.py, megatron/model/transformer.py, commit f4157be).
Found deepspeed(const Plan& p, const model::ModelSpec& m) {
    if (Found r = decoder(m, Framework::deepspeed)) return r;
    if (m.moe) {
        // get_num_experts_per_layer: layer n (from 1) has experts when n % expert_interval == 0.
        if (m.moe->layer_frequency != 1) {
            return model_key(m, "moe/layer_frequency",
                             "Megatron-DeepSpeed puts experts in every --expert-interval-th layer counted from 1, not from layer 0");
        }
        if (m.moe->expert_ffn_hidden != m.ffn_hidden) {
            return model_key(m, "moe/expert_ffn_hidden", "Megatron-DeepSpeed's experts have the dense layers' --ffn-hidden-size");
        }
    }
    if (p.cp > 1) return plan_key(p, "cp", "DeepSpeed's sequence parallelism (Ulysses) splits heads, not the ring attention of cp");
    if (p.ep > 1) return plan_key(p, "ep", "expert parallelism is not modelled for DeepSpeed");
    // PipelineEngine asserts zero_optimization_stage() < 2 (pipe/engine.py).
    if (p.pp > 1 && p.zero >= 2) return plan_key(p, "zero", "DeepSpeed's pipeline engine runs with ZeRO stage 0 or 1 only");
    if (p.pp > 1 && p.schedule != Schedule::one_f_one_b) {
        return plan_key(p, "schedule", "DeepSpeed's pipeline engine runs its own 1F1B schedule (TrainSchedule)");
    }
    if (p.recompute == Recompute::selective) return plan_key(p, "recompute", "Megatron-DeepSpeed checkpoints whole layers only");
    if (uneven(p)) return plan_key(p, uneven_key(p), "DeepSpeed's pipeline engine partitions the layers itself (partition_method)");
    if (p.precision == Precision::fp8) return plan_key(p, "precision", "DeepSpeed trains in fp32, fp16 or bf16");
    // PipeModelDataParallelTopology (deepspeed/runtime/pipe/topology.py): axes pipe, data, model.
    if (!default_order(p)) return plan_key(p, "order", "DeepSpeed lays ranks out as tp-dp-pp (PipeModelDataParallelTopology)");
    if (p.tp_comm_overlap) {
        return plan_key(p, "tp_comm_overlap", "Megatron-DeepSpeed's tensor parallelism does not overlap its collectives with the GEMMs");
    }
    return std::nullopt;
}

// torchtitan v0.2.2 (torchtitan/config/job_config.py, torchtitan/distributed/parallel_dims.py) and
// the model splitsim exports to, its llama3 (torchtitan/models/llama3/model/model.py): pre-norm
// RMSNorm blocks, rotary positions, SwiGLU, no biases, an untied output layer, no dropout.
Found torchtitan(const Plan& p, const model::ModelSpec& m) {
    if (Found r = decoder(m, Framework::torchtitan)) return r;
    if (m.activation != model::Activation::swiglu) return model_key(m, "activation", "torchtitan's llama3 model uses SwiGLU");
    if (m.norm != model::Norm::rmsnorm) return model_key(m, "norm", "torchtitan's llama3 model uses RMSNorm");
    if (m.position_embedding != model::PositionEmbedding::rotary) {
        return model_key(m, "position_embedding", "torchtitan's llama3 model uses rotary positions");
    }
    if (m.linear_bias) return model_key(m, "linear_bias", "torchtitan's llama3 model has no biases (linear_bias false)");
    if (m.tied_embeddings) return model_key(m, "tied_embeddings", "torchtitan's llama3 model has an untied output layer");
    if (m.dropout) return model_key(m, "dropout", "torchtitan's llama3 model has no dropout (dropout false)");
    if (m.moe) return model_key(m, "moe", "torchtitan's llama3 model has no MoE layers");
    if (p.tp > 1 && !p.sequence_parallel) {
        return plan_key(p, "sequence_parallel", "torchtitan's tensor parallelism always shards norms along the sequence");
    }
    if (p.zero == 1) {
        return plan_key(p, "zero", "torchtitan replicates (zero 0, DDP) or shards with FSDP (zero 2: no resharding after forward, zero 3)");
    }
    if (uneven(p)) return plan_key(p, uneven_key(p), "torchtitan's pipeline_parallel_layers_per_stage splits the layers evenly");
    if (p.schedule == Schedule::zb_h1) {
        return plan_key(p, "schedule", "PyTorch's zero-bubble schedules are looped (InterleavedZeroBubble, ZBVZeroBubble)");
    }
    if (p.precision != Precision::bf16 && p.precision != Precision::fp32 && p.precision != Precision::fp8) {
        return plan_key(p, "precision", "torchtitan's mixed precision is bf16 (fp8 through its float8 converter)");
    }
    // The device mesh is laid out pp, dp_replicate, dp_shard, cp, tp, tensor parallelism innermost.
    if (!default_order(p)) return plan_key(p, "order", "torchtitan lays ranks out as tp-cp-dp-pp (its device mesh)");
    return std::nullopt;
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

std::optional<Refusal> refusal(const Plan& plan, const model::ModelSpec& model, Framework framework) {
    switch (framework) {
        case Framework::megatron_lm:
        case Framework::megatron_core: return megatron(plan, model, framework);
        case Framework::deepspeed: return deepspeed(plan, model);
        case Framework::torchtitan: return torchtitan(plan, model);
    }
    return std::nullopt;
}

void require_runs_on(const Plan& plan, const model::ModelSpec& model, Framework framework) {
    if (const std::optional<Refusal> r = refusal(plan, model, framework)) throw InputError(r->file, r->pointer, r->why);
}

void adopt(Plan& p, Framework f) {
    p.framework = f;
    const bool megatron = f == Framework::megatron_lm || f == Framework::megatron_core;
    if (megatron) {
        // Megatron-LM overlaps the parameter gather only behind its distributed optimizer, and
        // FSDP2 (zero 3) runs without gradient-accumulation fusion (arguments.py).
        p.overlap_param_gather = p.overlap_param_gather && p.zero == 1 && f == Framework::megatron_core;
        if (p.zero == 3) p.grad_accumulation_fusion = false;
    }
}

}  // namespace splitsim::plan

// ---- Memory: how each framework allocates -------------------------------------------------------

namespace splitsim::plan {

double FrameworkMemory::loss_peak_per_logit(int tp, bool keep_logits) const {
    std::vector<double> sizes;
    double live = 0, peak = 0;
    for (const LossStep& step : loss_steps(tp)) {
        if (keep_logits && step.free == 0) {
            sizes.push_back(0);
            continue;
        }
        const double change = step.free >= 0 ? -sizes[static_cast<std::size_t>(step.free)] : step.allocate;
        sizes.push_back(step.allocate);
        live += change;
        peak = std::max(peak, live);
    }
    return peak;
}

FrameworkMemory framework_memory(std::optional<Framework> framework) {
    FrameworkMemory m;
    // Megatron-LM (core_v0.12.0), also splitsim's defaults:
    //  - the optimizer steps on fp32 copies of 16-bit gradients: optimizer.py
    //    Float16OptimizerWithFloat16Params._copy_model_grads_to_main_grads and distrib_optimizer.py
    //    `shard_main_param.grad = shard_model_grad.float()`; docs/source/api-guide/dist_optimizer.md:
    //    20 bytes per parameter with fp16 parameters and gradients, 4 + 16/d distributed (18 and
    //    6 + 12/d with fp32 main gradients, where .float() copies nothing).
    //  - fused kernels save what Korthikanti et al. 2022 count (SavedTensors' defaults).
    //  - tensor_parallel/cross_entropy.py: calculate_logits_max makes an fp32 copy beside the 16-bit
    //    logits, exp and the division run in place in it and it is kept as the softmax (4 bytes);
    //    the gradient is computed in place in it and autograd casts it to the logits' 16-bit type:
    //    at most 2 + 4 bytes per logit alive at once.
    //  - fp8 (Transformer Engine 1.x, module/linear.py, the weight workspace cached across
    //    micro-batches while is_first_microbatch is False): an fp8 weight and its fp8 transpose.
    m.fp32_copy_of_16bit_grads = 4;
    // 16-bit logits, their fp32 copy (kept as the softmax), the logits freed; the 16-bit gradient
    // cast from the fp32 one, which is then released, and the 16-bit gradient used.
    m.loss = {{2, -1}, {4, -1}, {0, 0}, {2, -1}, {0, 1}, {0, 3}};
    m.fp8_weight_cache_per_param = 2;
    if (!framework) return m;
    switch (*framework) {
        case Framework::megatron_lm:
        case Framework::megatron_core: return m;
        case Framework::deepspeed:
            // DeepSpeed v0.16 (runtime/zero/stage_1_and_2.py, runtime/zero/config.py) with
            // Megatron-DeepSpeed's model and loss (Megatron's cross_entropy.py, as above):
            //  - mixed-precision Adam keeps K = 12 bytes of optimizer state per parameter (ZeRO,
            //    Rajbhandari et al. 2020, Table 1); the fp32 gradient partition exists only while
            //    the step runs;
            //  - gradients are copied into reduce buckets of reduce_bucket_size = 5e8 elements
            //    (ZERO_OPTIMIZATION_REDUCE_BUCKET_SIZE_DEFAULT), two of them under overlap_comm;
            //  - no fp8 training.
            m.fp32_copy_of_16bit_grads = 0;
            m.grad_bucket_elements = 5e8;
            m.fp8_weight_cache_per_param = 0;
            return m;
        case Framework::torchtitan:
            // torchtitan 9dec370 (2024-12-26) on torch 1963fc8 and torchao eab345c:
            //  - FSDP2 (parallelisms/parallelize_llama.py apply_fsdp, MixedPrecisionPolicy with
            //    param_dtype bf16, reduce_dtype fp32): the sharded parameters are the fp32 master
            //    copy, AdamW's moments are fp32 on the shards, gradients are reduce-scattered in
            //    fp32 (foreach_reduce copies the bf16 unsharded gradients into an fp32 input, which
            //    stays alive until the next unit's reduce-scatter is issued: two units at once);
            //    fully_shard(model) makes the embedding, final norm and output layer the root unit; with pipeline parallelism
            //    reshard_after_forward is False and torch.distributed.pipelining turns gradient
            //    synchronisation off until the last micro-batch, so FSDPParam accumulates the
            //    unsharded gradients in reduce_dtype (to_accumulated_grad_if_needed), and each
            //    stage keeps every micro-batch's output until the step ends;
            //  - eager modules (models/llama/model.py, models/norms.py): RMSNorm upcasts its input
            //    to fp32, apply_rotary_emb multiplies complex fp32 views, repeat_kv expands keys
            //    and values to every head before scaled_dot_product_attention, whose output is made
            //    contiguous for wo, and FeedForward is w2(silu(w1(x)) * w3(x));
            //  - selective activation checkpointing 'op': _save_list keeps every other matmul and
            //    the attention kernel's outputs;
            //  - tensor parallelism through DTensor (parallelize_llama.py apply_tp): ColwiseParallel
            //    linears receive the all-gathered (redistributed) input and keep it for the backward;
            //  - train.py's loss: cross_entropy(pred.float()) is log_softmax and nll_loss:
            //    bf16 logits (2), their fp32 copy (4) and the log-softmax (4, kept) in the forward;
            //    in the backward the kept log-softmax, nll_loss's gradient and log_softmax's
            //    gradient (4 + 4 + 4 bytes per logit);
            //  - Float8 with docs/float8.md's --float8.enable_fsdp_float8_all_gather: the
            //    Float8Linear weights are all-gathered in fp8 (1 byte per parameter).
            m.fp32_copy_of_16bit_grads = 0;
            m.fp32_sharded_parameters = true;
            m.saved.selective = model::SavedTensors::Selective::every_other_matmul;
            m.saved.fp32_norm = true;
            m.saved.fp32_rotary = true;
            m.saved.unfused_swiglu = true;
            m.saved.repeated_kv = true;
            m.saved.attention_output_copy = true;
            // pred (bf16), pred.float(), log_softmax; the fp32 copy and pred released (del pred);
            // nll_loss's gradient, log_softmax's gradient; the first and the kept log-softmax
            // released; the bf16 gradient of pred, the fp32 one released, the bf16 one used.
            m.loss = {{2, -1}, {4, -1}, {4, -1}, {0, 1}, {0, 0}, {4, -1}, {4, -1}, {0, 5}, {0, 2}, {2, -1}, {0, 6}, {0, 9}};
            // With tensor parallelism the loss runs under loss_parallel (torch/distributed/tensor/
            // parallel/loss.py, torch 1963fc8): _log_softmax makes the shifted logits, their exp
            // (released after the sum) and the result (kept); _nll_loss_and_log_softmax_backward
            // computes (zeros_like(x) + exp(x)) * grad_output: the zeros, the exp (released), the
            // sum and the product, alive beside the kept log-softmax (16 bytes per logit).
            m.vocab_parallel_loss = {{2, -1}, {4, -1}, {4, -1}, {4, -1}, {0, 3}, {4, -1}, {0, 2}, {0, 1}, {0, 0},
                                     {4, -1}, {4, -1}, {4, -1}, {0, 10}, {4, -1}, {0, 11}, {0, 9}, {0, 5},
                                     {2, -1}, {0, 13}, {0, 17}};
            m.saved.gathered_inputs = true;
            m.root_unit = true;
            m.fp32_reduce_scatter_units = 2;
            m.pipeline_keeps_unsharded = true;
            // torch.distributed.pipelining (stage.py, forward_one_chunk): output_chunks.append(output)
            // for every micro-batch, cleared when the next step starts.
            m.pipeline_keeps_outputs = true;
            m.fp8_weight_cache_per_param = 0;
            m.fp8_gathered_bytes_per_param = 1;
            return m;
    }
    return m;
}

}  // namespace splitsim::plan
