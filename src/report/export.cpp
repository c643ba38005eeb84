#include "splitsim/report/export.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"

namespace splitsim::report {
namespace {

using plan::Plan;
using plan::Schedule;
using model::Recompute;

// Command-line arguments, one per line when printed.
class Arguments {
public:
    void flag(const std::string& name) { lines_.push_back(name); }
    template <class T>
    void value(const std::string& name, const T& v) {
        std::ostringstream s;
        s << name << " " << v;
        lines_.push_back(s.str());
    }
    [[nodiscard]] std::string text() const {
        std::string out;
        for (std::size_t i = 0; i < lines_.size(); ++i) out += lines_[i] + (i + 1 < lines_.size() ? " \\\n" : "\n");
        return out;
    }

private:
    std::vector<std::string> lines_;
};

// Megatron-LM and Megatron-DeepSpeed take the vocabulary from the tokenizer (--tokenizer-type and
// its files) and pad it to a multiple of --make-vocab-size-divisible-by (128) x tp; the model's
// vocabulary is stated for the person who picks the tokenizer.
std::string vocabulary_note(const model::ModelSpec& m, const Plan& p) {
    return "# vocabulary: " + std::to_string(m.vocab) + " entries, from the tokenizer (padded to a multiple of 128 x tp = " +
           std::to_string(128 * p.tp) + ")\n";
}

// Megatron-LM (megatron/training/arguments.py, core_v0.12.0).
std::string megatron(const Plan& p, const model::ModelSpec& m, plan::Framework f) {
    Arguments a;
    // Model: every architecture key of the model file.
    a.value("--num-layers", m.layers);
    a.value("--hidden-size", m.hidden);
    a.value("--ffn-hidden-size", m.ffn_hidden);
    a.value("--num-attention-heads", m.heads);
    if (m.kv_heads != m.heads) {
        a.flag("--group-query-attention");
        a.value("--num-query-groups", m.kv_heads);
    }
    a.value("--seq-length", m.seq_len);
    a.value("--max-position-embeddings", m.seq_len);
    a.value("--position-embedding-type", m.position_embedding == model::PositionEmbedding::rotary ? "rope" : "learned_absolute");
    a.value("--normalization", m.norm == model::Norm::rmsnorm ? "RMSNorm" : "LayerNorm");
    if (m.activation == model::Activation::swiglu) a.flag("--swiglu");  // GeLU otherwise
    if (!m.tied_embeddings) a.flag("--untie-embeddings-and-output-weights");
    if (!m.linear_bias) a.flag("--disable-bias-linear");
    // Megatron's default dropout rate (arguments.py: 0.1) where the model has dropout.
    a.value("--attention-dropout", m.dropout ? 0.1 : 0);
    a.value("--hidden-dropout", m.dropout ? 0.1 : 0);
    if (m.moe) {
        a.value("--num-experts", m.moe->experts);
        a.value("--moe-router-topk", m.moe->top_k);
        a.value("--moe-ffn-hidden-size", m.moe->expert_ffn_hidden);
        // An integer N puts experts in layers 0, N, 2N, ... (moe_freq_type).
        a.value("--moe-layer-freq", m.moe->layer_frequency);
    }
    // Parallelism.
    a.value("--tensor-model-parallel-size", p.tp);
    a.value("--pipeline-model-parallel-size", p.pp);
    if (p.cp > 1) a.value("--context-parallel-size", p.cp);
    if (p.ep > 1) a.value("--expert-model-parallel-size", p.ep);
    if (p.sequence_parallel && p.tp > 1) a.flag("--sequence-parallel");
    switch (p.schedule) {
        case Schedule::one_f_one_b: break;  // Megatron's pipeline schedule without interleaving
        case Schedule::interleaved:
            // Under an uneven split the chunks differ between stages: Megatron-Core counts them per rank.
            if (p.first_stage_layers || p.last_stage_layers) {
                a.value("--num-virtual-stages-per-pipeline-rank", p.vpp);
            } else {
                a.value("--num-layers-per-virtual-pipeline-stage", m.layers / (p.pp * p.vpp));
            }
            break;
        case Schedule::gpipe:
        case Schedule::zb_h1: break;  // refused by plan::refusal
    }
    if (p.first_stage_layers) a.value("--decoder-first-pipeline-num-layers", p.first_stage_layers);
    if (p.last_stage_layers) a.value("--decoder-last-pipeline-num-layers", p.last_stage_layers);
    using plan::Dim;
    const std::array<Dim, plan::kDimCount> tp_pp_dp{Dim::tensor, Dim::context, Dim::expert, Dim::pipeline, Dim::data};
    if (p.order == tp_pp_dp) a.flag("--use-tp-pp-dp-mapping");
    // Batch.
    a.value("--micro-batch-size", p.micro_batch);
    a.value("--global-batch-size", p.global_batch);
    // Memory.
    switch (p.zero) {
        case 0: break;
        case 1: a.flag("--use-distributed-optimizer"); break;
        default: a.flag("--use-torch-fsdp2"); break;  // zero 2 is refused by plan::refusal
    }
    if (p.overlap_grad_reduce) a.flag("--overlap-grad-reduce");
    if (p.tp_comm_overlap) a.flag("--tp-comm-overlap");
    if (p.overlap_param_gather) a.flag("--overlap-param-gather");
    if (!p.grad_accumulation_fusion) a.flag("--no-gradient-accumulation-fusion");
    switch (p.recompute) {
        case Recompute::none: break;
        case Recompute::selective: a.value("--recompute-granularity", "selective"); break;
        case Recompute::full:
            a.value("--recompute-granularity", "full");
            a.value("--recompute-method", "uniform");
            a.value("--recompute-num-layers", 1);
            break;
    }
    a.value("--attention-backend", p.flash_attention ? "flash" : "unfused");
    // Precision.
    switch (p.precision) {
        case Precision::bf16: a.flag("--bf16"); break;
        case Precision::fp16: a.flag("--fp16"); break;
        case Precision::fp8:
            a.flag("--bf16");
            a.value("--fp8-format", "hybrid");
            break;
        case Precision::fp32: break;
        case Precision::tf32: break;  // PyTorch's default matmul precision on Ampere+
    }
    if (p.precision == Precision::fp16 && p.grad_precision == Precision::fp32) a.flag("--accumulate-allreduce-grads-in-fp32");
    if (f == plan::Framework::megatron_lm) a.flag("--use-legacy-models");
    return "# " + std::string(plan::display_name(f)) + " arguments for pretrain_gpt.py (" + std::to_string(p.gpus()) + " GPUs)\n" +
           vocabulary_note(m, p) + a.text();
}

// DeepSpeed (deepspeed/runtime/config.py keys, v0.16.4) with Megatron-DeepSpeed's arguments
// (megatron/arguments.py at commit f4157be).
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

    Arguments a;
    // Model: every architecture key of the model file.
    a.value("--num-layers", m.layers);
    a.value("--hidden-size", m.hidden);
    a.value("--ffn-hidden-size", m.ffn_hidden);
    a.value("--num-attention-heads", m.heads);
    a.value("--num-key-value-heads", m.kv_heads);
    a.value("--seq-length", m.seq_len);
    a.value("--max-position-embeddings", m.seq_len);
    // Rotary embeddings turn the learned positions off (validate_args).
    if (m.position_embedding == model::PositionEmbedding::rotary) a.flag("--use-rotary-position-embeddings");
    a.value("--normalization", m.norm == model::Norm::rmsnorm ? "rmsnorm" : "layernorm");
    if (m.activation == model::Activation::swiglu) a.flag("--swiglu");  // GeLU otherwise
    if (!m.tied_embeddings) a.flag("--untie-embeddings-and-output-weights");
    if (!m.linear_bias) a.flag("--disable-bias-linear");
    a.value("--attention-dropout", m.dropout ? 0.1 : 0);
    a.value("--hidden-dropout", m.dropout ? 0.1 : 0);
    if (m.moe) {  // every layer (refused otherwise by plan::refusal)
        a.value("--num-experts", m.moe->experts);
        a.value("--topk", m.moe->top_k);
        a.value("--expert-interval", 1);
    }
    // Parallelism, batch, memory.
    a.value("--tensor-model-parallel-size", p.tp);
    a.value("--pipeline-model-parallel-size", p.pp);
    if (p.pp == 1) a.flag("--no-pipeline-parallel");
    if (p.sequence_parallel && p.tp > 1) a.flag("--sequence-parallel");
    a.value("--micro-batch-size", p.micro_batch);
    a.value("--global-batch-size", p.global_batch);
    if (p.recompute == Recompute::full) {
        a.flag("--checkpoint-activations");
        a.flag("--deepspeed-activation-checkpointing");
    }
    if (p.flash_attention) a.flag("--use-flash-attn-v2");
    if (!p.async_tp_allreduce) a.flag("--no-async-tensor-model-parallel-allreduce");
    if (!p.grad_accumulation_fusion) a.flag("--no-gradient-accumulation-fusion");
    if (p.precision == Precision::bf16) a.flag("--bf16");
    if (p.precision == Precision::fp16) a.flag("--fp16");
    a.flag("--deepspeed");
    a.value("--deepspeed_config", "ds_config.json");
    return "# ds_config.json\n" + c.dump(2) + "\n# Megatron-DeepSpeed arguments for pretrain_gpt.py\n" + vocabulary_note(m, p) + a.text();
}

// The models torchtitan v0.2.2 defines for its llama3 (llama3_args in
// torchtitan/models/llama3/__init__.py; vocabulary: TransformerModelArgs' default 128256, 2048
// for the debug model). The MLP width is FeedForward's: int(2/3 x 4 dim), times
// ffn_dim_multiplier, rounded up to multiple_of (256, or as given).
struct TitanFlavor {
    const char* name;
    int layers, hidden, heads, kv_heads, ffn_hidden, vocab;
};
constexpr TitanFlavor kTitanFlavors[] = {
    {"debugmodel", 6, 256, 16, 16, 768, 2048},
    {"8B", 32, 4096, 32, 8, 14336, 128256},     // ffn_dim_multiplier 1.3, multiple_of 1024
    {"70B", 80, 8192, 64, 8, 28672, 128256},    // 1.3, 4096
    {"405B", 126, 16384, 128, 8, 53248, 128256},  // 1.2, 4096
};

// The flavor with the model's sizes; a model that matches none is refused, naming the first key
// in which the closest flavor (the one matching the most keys) differs.
const char* titan_flavor(const model::ModelSpec& m) {
    const TitanFlavor* closest = nullptr;
    const char* key = nullptr;
    int best = -1;
    for (const TitanFlavor& f : kTitanFlavors) {
        const std::pair<const char*, bool> same[] = {{"layers", m.layers == f.layers}, {"hidden", m.hidden == f.hidden},
                                                     {"heads", m.heads == f.heads},    {"kv_heads", m.kv_heads == f.kv_heads},
                                                     {"ffn_hidden", m.ffn_hidden == f.ffn_hidden}, {"vocab", m.vocab == f.vocab}};
        int matching = 0;
        const char* first_difference = nullptr;
        for (const auto& [k, equal] : same) {
            if (equal) ++matching;
            else if (!first_difference) first_difference = k;
        }
        if (!first_difference) return f.name;
        if (matching > best) {
            best = matching;
            closest = &f;
            key = first_difference;
        }
    }
    throw InputError(m.origin.empty() ? "model" : m.origin, std::string("/") + key,
                     "no model torchtitan v0.2.2 defines has these sizes (llama3 flavors debugmodel, 8B, 70B, 405B; the closest is " +
                         std::string(closest->name) + "); add one to llama3_args in torchtitan/models/llama3/__init__.py");
}

// torchtitan v0.2.2 (torchtitan/config/job_config.py: [model], [training], [parallelism],
// [activation_checkpoint]).
std::string torchtitan(const Plan& p, const model::ModelSpec& m) {
    const char* flavor = titan_flavor(m);
    std::string schedule;
    switch (p.schedule) {
        case Schedule::one_f_one_b: schedule = "1F1B"; break;
        case Schedule::gpipe: schedule = "GPipe"; break;
        case Schedule::interleaved: schedule = "Interleaved1F1B"; break;
        case Schedule::zb_h1: break;  // refused by plan::refusal
    }
    std::ostringstream out;
    out << "# torchtitan job configuration (" << p.gpus() << " GPUs)\n";
    // The model: torchtitan's llama3 of the model's sizes (its architecture is refused otherwise).
    out << "[model]\nname = \"llama3\"\nflavor = \"" << flavor << "\"\n";
    if (p.precision == Precision::fp8) out << "converters = [\"quantize.linear.float8\"]\n";
    out << "\n[training]\nlocal_batch_size = " << p.global_batch / p.dp << "\nglobal_batch_size = " << p.global_batch
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
    // Asynchronous tensor parallelism is a torch.compile pass (torchtitan v0.2.2 refuses it uncompiled).
    if (p.tp_comm_overlap) out << "enable_async_tensor_parallel = true\n";
    if (p.pp > 1) {
        out << "pipeline_parallel_schedule = \"" << schedule << "\"\npipeline_parallel_microbatch_size = " << p.micro_batch
            << "\npipeline_parallel_layers_per_stage = " << m.layers / (p.pp * p.vpp) << "\n";
    }
    out << "context_parallel_degree = " << p.cp << "\nexpert_parallel_degree = " << p.ep << "\n\n";
    out << "[activation_checkpoint]\nmode = \""
        << (p.recompute == Recompute::none ? "none" : p.recompute == Recompute::full ? "full" : "selective") << "\"\n";
    if (p.recompute == Recompute::selective) out << "selective_ac_option = \"op\"\n";
    if (p.tp_comm_overlap) out << "\n[compile]\nenable = true\ncomponents = [\"model\"]\n";
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
