#include "splitsim/report/export.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"

namespace splitsim::report {
namespace {

using plan::Plan;
using plan::Schedule;
using model::Recompute;

// Megatron-LM (megatron/training/arguments.py).
std::string megatron(const Plan& p, const model::ModelSpec& m, plan::Framework f) {
    std::vector<std::string> a;
    auto arg = [&](const std::string& flag, auto value) {
        std::ostringstream s;
        s << flag << " " << value;
        a.push_back(s.str());
    };
    // Model.
    arg("--num-layers", m.layers);
    arg("--hidden-size", m.hidden);
    arg("--num-attention-heads", m.heads);
    arg("--seq-length", m.seq_len);
    arg("--max-position-embeddings", m.seq_len);
    arg("--ffn-hidden-size", m.ffn_hidden);
    if (m.kv_heads != m.heads) {
        a.push_back("--group-query-attention");
        arg("--num-query-groups", m.kv_heads);
    }
    if (m.activation == model::Activation::swiglu) a.push_back("--swiglu");
    if (m.norm == model::Norm::rmsnorm) arg("--normalization", "RMSNorm");
    if (m.position_embedding == model::PositionEmbedding::rotary) arg("--position-embedding-type", "rope");
    if (!m.tied_embeddings) a.push_back("--untie-embeddings-and-output-weights");
    if (!m.linear_bias) a.push_back("--disable-bias-linear");
    if (!m.dropout) {
        arg("--attention-dropout", 0);
        arg("--hidden-dropout", 0);
    }
    if (m.moe) {
        arg("--num-experts", m.moe->experts);
        arg("--moe-router-topk", m.moe->top_k);
        if (m.moe->expert_ffn_hidden != m.ffn_hidden) arg("--moe-ffn-hidden-size", m.moe->expert_ffn_hidden);
        if (m.moe->layer_frequency != 1) arg("--moe-layer-freq", m.moe->layer_frequency);
    }
    // Parallelism.
    arg("--tensor-model-parallel-size", p.tp);
    arg("--pipeline-model-parallel-size", p.pp);
    if (p.cp > 1) arg("--context-parallel-size", p.cp);
    if (p.ep > 1) arg("--expert-model-parallel-size", p.ep);
    if (p.sequence_parallel && p.tp > 1) a.push_back("--sequence-parallel");
    switch (p.schedule) {
        case Schedule::one_f_one_b: break;  // Megatron's pipeline schedule without interleaving
        case Schedule::interleaved:
            // Under an uneven split the chunks differ between stages: Megatron-Core counts them per rank.
            if (p.first_stage_layers || p.last_stage_layers) {
                arg("--num-virtual-stages-per-pipeline-rank", p.vpp);
            } else {
                arg("--num-layers-per-virtual-pipeline-stage", m.layers / (p.pp * p.vpp));
            }
            break;
        case Schedule::gpipe:
        case Schedule::zb_h1: break;  // refused by plan::require_runs_on
    }
    if (p.first_stage_layers) arg("--decoder-first-pipeline-num-layers", p.first_stage_layers);
    if (p.last_stage_layers) arg("--decoder-last-pipeline-num-layers", p.last_stage_layers);
    using plan::Dim;
    const std::array<Dim, plan::kDimCount> tp_pp_dp{Dim::tensor, Dim::context, Dim::expert, Dim::pipeline, Dim::data};
    if (p.order == tp_pp_dp) a.push_back("--use-tp-pp-dp-mapping");
    // Batch.
    arg("--micro-batch-size", p.micro_batch);
    arg("--global-batch-size", p.global_batch);
    // Memory.
    switch (p.zero) {
        case 0: break;
        case 1: a.push_back("--use-distributed-optimizer"); break;
        default: a.push_back("--use-torch-fsdp2"); break;  // zero 2 is refused by plan::require_runs_on
    }
    if (p.overlap_grad_reduce) a.push_back("--overlap-grad-reduce");
    if (p.overlap_param_gather) a.push_back("--overlap-param-gather");
    if (!p.grad_accumulation_fusion) a.push_back("--no-gradient-accumulation-fusion");
    switch (p.recompute) {
        case Recompute::none: break;
        case Recompute::selective: arg("--recompute-granularity", "selective"); break;
        case Recompute::full:
            arg("--recompute-granularity", "full");
            arg("--recompute-method", "uniform");
            arg("--recompute-num-layers", 1);
            break;
    }
    arg("--attention-backend", p.flash_attention ? "flash" : "unfused");
    // Precision.
    switch (p.precision) {
        case Precision::bf16: a.push_back("--bf16"); break;
        case Precision::fp16: a.push_back("--fp16"); break;
        case Precision::fp8:
            a.push_back("--bf16");
            arg("--fp8-format", "hybrid");
            break;
        case Precision::fp32: break;
        case Precision::tf32: break;  // PyTorch's default matmul precision on Ampere+
    }
    if (p.precision == Precision::fp16 && p.grad_precision == Precision::fp32) a.push_back("--accumulate-allreduce-grads-in-fp32");
    if (f == plan::Framework::megatron_lm) a.push_back("--use-legacy-models");
    std::string out = "# " + std::string(plan::display_name(f)) + " arguments for pretrain_gpt.py (" + std::to_string(p.gpus()) + " GPUs)\n";
    for (std::size_t i = 0; i < a.size(); ++i) out += a[i] + (i + 1 < a.size() ? " \\\n" : "\n");
    return out;
}

// DeepSpeed (deepspeed/runtime/config.py keys) with Megatron-DeepSpeed's parallelism arguments.
std::string deepspeed(const Plan& p, const model::ModelSpec& m) {
    nlohmann::json c;
    c["train_batch_size"] = p.global_batch;
    c["train_micro_batch_size_per_gpu"] = p.micro_batch;
    c["gradient_accumulation_steps"] = p.micro_batches();
    c["zero_optimization"] = {{"stage", p.zero}, {"overlap_comm", p.overlap_grad_reduce}, {"contiguous_gradients", true}};
    if (p.precision == Precision::bf16) c["bf16"] = {{"enabled", true}};
    if (p.precision == Precision::fp16) c["fp16"] = {{"enabled", true}};
    if (p.precision == Precision::bf16) c["data_types"] = {{"grad_accum_dtype", p.grad_precision == Precision::fp32 ? "fp32" : "bf16"}};
    if (p.recompute == Recompute::full) c["activation_checkpointing"] = {{"partition_activations", p.tp > 1}};
    std::ostringstream out;
    out << "# ds_config.json\n" << c.dump(2) << "\n";
    out << "# Megatron-DeepSpeed arguments\n";
    out << "--tensor-model-parallel-size " << p.tp << " \\\n--pipeline-model-parallel-size " << p.pp << " \\\n";
    if (p.sequence_parallel && p.tp > 1) out << "--sequence-parallel \\\n";
    if (p.recompute == Recompute::full) out << "--checkpoint-activations \\\n";
    if (p.pp == 1) out << "--no-pipeline-parallel \\\n";
    out << "--num-layers " << m.layers << " \\\n--hidden-size " << m.hidden << " \\\n--num-attention-heads " << m.heads
        << " \\\n--seq-length " << m.seq_len << " \\\n--micro-batch-size " << p.micro_batch << " \\\n--global-batch-size "
        << p.global_batch << " \\\n--deepspeed --deepspeed_config ds_config.json\n";
    return out.str();
}

// torchtitan (torchtitan/config/job_config.py: [training], [parallelism], [activation_checkpoint]).
std::string torchtitan(const Plan& p, const model::ModelSpec& m) {
    std::string schedule;
    switch (p.schedule) {
        case Schedule::one_f_one_b: schedule = "1F1B"; break;
        case Schedule::gpipe: schedule = "GPipe"; break;
        case Schedule::interleaved: schedule = "Interleaved1F1B"; break;
        case Schedule::zb_h1: break;  // refused by plan::require_runs_on
    }
    std::ostringstream out;
    out << "# torchtitan job configuration (" << p.gpus() << " GPUs)\n";
    out << "[training]\nlocal_batch_size = " << p.global_batch / p.dp << "\nglobal_batch_size = " << p.global_batch
        << "\nseq_len = " << m.seq_len << "\nmixed_precision_param = \"" << (p.precision == Precision::fp32 ? "float32" : "bfloat16")
        << "\"\n\n";
    out << "[parallelism]\n";
    if (p.zero == 0) {
        out << "data_parallel_replicate_degree = " << p.dp << "\ndata_parallel_shard_degree = 1\n";
    } else {
        out << "data_parallel_replicate_degree = 1\ndata_parallel_shard_degree = " << p.dp
            << "\nfsdp_reshard_after_forward = \"" << (p.zero == 2 ? "never" : "always") << "\"\n";
    }
    out << "tensor_parallel_degree = " << p.tp << "\npipeline_parallel_degree = " << p.pp << "\n";
    if (p.pp > 1) {
        out << "pipeline_parallel_schedule = \"" << schedule << "\"\npipeline_parallel_microbatch_size = " << p.micro_batch
            << "\npipeline_parallel_layers_per_stage = " << m.layers / (p.pp * p.vpp) << "\n";
    }
    out << "context_parallel_degree = " << p.cp << "\nexpert_parallel_degree = " << p.ep << "\n\n";
    out << "[activation_checkpoint]\nmode = \""
        << (p.recompute == Recompute::none ? "none" : p.recompute == Recompute::full ? "full" : "selective") << "\"\n";
    if (p.recompute == Recompute::selective) out << "selective_ac_option = \"op\"\n";
    if (p.precision == Precision::fp8) out << "\n[model]\nconverters = [\"float8\"]\n";
    return out.str();
}

}  // namespace

std::string export_plan(const plan::Plan& p, const model::ModelSpec& m, plan::Framework f) {
    plan::require_runs_on(p, m, f);
    switch (f) {
        case plan::Framework::megatron_lm:
        case plan::Framework::megatron_core: return megatron(p, m, f);
        case plan::Framework::deepspeed: return deepspeed(p, m);
        case plan::Framework::torchtitan: return torchtitan(p, m);
    }
    return {};
}

}  // namespace splitsim::report
