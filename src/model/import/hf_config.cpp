// Readers of Hugging Face config.json files, one per model_type. The keys and their defaults are
// those of the configuration classes of huggingface/transformers (src/transformers/models/<type>/
// configuration_<type>.py, release v4.44): a key a file leaves out takes the class's default.
#include "splitsim/model/import/hf_config.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <optional>

#include "splitsim/common/data_directory.hpp"
#include "splitsim/common/json_reader.hpp"

namespace splitsim::model {
namespace {

// Keys of every transformers PretrainedConfig that describe tokens, storage, the library or the
// tasks heads, not the network splitsim simulates.
constexpr std::array kGenericIgnored = {
    "_name_or_path", "transformers_version", "torch_dtype", "dtype", "bos_token_id", "eos_token_id",
    "pad_token_id", "sep_token_id", "use_cache", "initializer_range", "output_attentions",
    "output_hidden_states", "return_dict", "gradient_checkpointing", "auto_map", "tokenizer_class",
    "id2label", "label2id", "task_specific_params", "problem_type", "tie_encoder_decoder",
};

// Keys that change numbers but no shape, FLOP or byte count: norm epsilons, rotary frequencies and
// their scaling, the router's losses and noise, attention scaling and the precision of the
// softmax, the tensor-parallel slicing of the original pretraining.
constexpr std::array kNumericIgnored = {
    "rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon", "rope_theta", "rope_scaling", "rotary_emb_base",
    "pretraining_tp", "initializer_factor", "router_aux_loss_coef", "output_router_logits",
    "router_jitter_noise", "aux_loss_alpha", "seq_aux", "norm_topk_prob", "scoring_func",
    "scale_attn_weights", "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "classifier_dropout",
    "attention_softmax_in_fp32",
};

// A key whose value may be null: null reads as absent.
template <class T>
std::optional<T> maybe_nullable(JsonObject& o, std::string_view key) {
    if (o.has(key) && o.raw(key).is_null()) return std::nullopt;
    return o.maybe<T>(key);
}

void ignore(JsonObject& o, std::string_view key) {
    if (o.has(key)) (void)o.raw(key);
}

// `architectures`: the model classes the checkpoint was saved from; only language-model heads
// have the output layer splitsim simulates.
void check_architectures(JsonObject& o, std::initializer_list<std::string_view> known) {
    if (!o.has("architectures") || o.raw("architectures").is_null()) return;
    const JsonArray list = o.array("architectures");
    std::string names;
    for (std::string_view k : known) names += (names.empty() ? "" : " | ") + std::string(k);
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto name = list.get<std::string>(i);
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            list.fail(i, "\"" + name + "\" is not a language-model class splitsim simulates (" + names + ")");
        }
    }
}

// The activation: a name transformers' ACT2FN knows and splitsim costs as `allowed` does.
std::string activation_name(JsonObject& o, std::string_view key, const std::string& fallback,
                            std::initializer_list<std::string_view> allowed) {
    const auto name = maybe_nullable<std::string>(o, key).value_or(fallback);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        std::string names;
        for (std::string_view a : allowed) names += (names.empty() ? "" : " | ") + std::string(a);
        o.fail(key, "\"" + name + "\" is not an activation splitsim models for this model type (" + names + ")");
    }
    return name;
}

// Dropout anywhere: splitsim models dropout as one switch (ModelSpec::dropout).
bool any_dropout(JsonObject& o, std::initializer_list<std::string_view> keys, double fallback) {
    bool any = false;
    for (std::string_view k : keys) {
        const double p = maybe_nullable<double>(o, k).value_or(fallback);
        if (p < 0 || p >= 1) o.fail(k, "dropout probability must be in [0, 1)");
        any = any || p > 0;
    }
    return any;
}

// The attention shape: heads, kv_heads and an explicit head_dim, which must be hidden / heads.
void read_heads(JsonObject& o, ModelSpec& m, std::string_view heads_key, std::optional<std::string_view> kv_key) {
    m.heads = o.required<int>(heads_key, between(1, m.hidden));
    m.kv_heads = m.heads;
    if (kv_key) {
        if (const auto kv = maybe_nullable<int>(o, *kv_key)) {
            if (*kv < 1 || *kv > m.heads || m.heads % *kv != 0) {
                o.fail(*kv_key, std::to_string(*kv) + " does not divide " + std::string(heads_key) + " (" + std::to_string(m.heads) + ")");
            }
            m.kv_heads = *kv;
        }
    }
    if (m.hidden % m.heads != 0) {
        o.fail(heads_key, std::to_string(m.heads) + " does not divide the hidden size (" + std::to_string(m.hidden) + ")");
    }
    if (const auto head_dim = maybe_nullable<int>(o, "head_dim")) {
        if (*head_dim != m.hidden / m.heads) {
            o.fail("head_dim", std::to_string(*head_dim) + " x " + std::to_string(m.heads) + " heads = " +
                                   std::to_string(*head_dim * m.heads) + " is not the hidden size (" +
                                   std::to_string(m.hidden) + "): attention wider or narrower than the model is not modelled");
        }
    }
}

// Sliding-window attention changes the attention's cost only where the window is shorter than the
// sequence; splitsim models full attention.
void check_sliding_window(JsonObject& o, const ModelSpec& m, bool applies) {
    if (!o.has("sliding_window")) return;
    const auto window = maybe_nullable<int>(o, "sliding_window");
    if (applies && window && *window < m.seq_len) {
        o.fail("sliding_window", "sliding-window attention (" + std::to_string(*window) + " tokens, shorter than the sequence of " +
                                     std::to_string(m.seq_len) + ") is not modelled");
    }
}

// A key that splitsim can represent only at its neutral value.
template <class T>
void require_neutral(JsonObject& o, std::string_view key, T neutral, const std::string& what) {
    const auto v = maybe_nullable<T>(o, key);
    if (v && *v != neutral) o.fail(key, what + " is not modelled");
}

// Decoders of the LLaMA lineage: pre-norm RMSNorm, rotary positions, a gated MLP (gate, up and
// down projections), no dropout but the attention probabilities'.
struct LlamaLike {
    std::initializer_list<std::string_view> architectures;
    std::initializer_list<std::string_view> activations;  // transformers' names of the gate's activation
    bool tied_default = false;                            // tie_word_embeddings when absent
    bool has_mlp_bias = false;                             // the config has attention_bias and mlp_bias
};

ModelSpec read_llama_like(JsonObject& o, const std::string& type, const LlamaLike& f) {
    ModelSpec m;
    check_architectures(o, f.architectures);
    m.hidden = o.required<int>("hidden_size", between(1, kMaxHidden));
    m.layers = o.required<int>("num_hidden_layers", between(1, kMaxLayers));
    read_heads(o, m, "num_attention_heads", "num_key_value_heads");
    m.ffn_hidden = o.required<int>("intermediate_size", between(1, kMaxFfnHidden));
    m.vocab = o.required<int>("vocab_size", between(1, kMaxVocab));
    m.seq_len = o.required<int>("max_position_embeddings", between(1, kMaxSeqLen));
    // The gated MLP: splitsim's "swiglu" is the structure (gate and up projections, their product,
    // the down projection); GeGLU (Gemma) has the same shapes, FLOPs and bytes.
    const std::string act = activation_name(o, "hidden_act", "silu", f.activations);
    if (type == "gemma" && o.has("hidden_activation")) (void)activation_name(o, "hidden_activation", act, f.activations);
    m.activation = Activation::swiglu;
    m.norm = Norm::rmsnorm;
    m.position_embedding = PositionEmbedding::rotary;
    m.tied_embeddings = maybe_nullable<bool>(o, "tie_word_embeddings").value_or(f.tied_default);
    m.dropout = any_dropout(o, {"attention_dropout"}, 0.0);
    m.linear_bias = false;
    if (f.has_mlp_bias) {
        const bool attention = maybe_nullable<bool>(o, "attention_bias").value_or(false);
        const bool mlp = type == "llama" ? maybe_nullable<bool>(o, "mlp_bias").value_or(false) : attention;
        if (attention != mlp) o.fail("attention_bias", "biases on the attention but not the MLP (or the reverse) are not modelled");
        m.linear_bias = attention;
    }
    // Qwen2 has biases on the query, key and value projections only (transformers'
    // modeling_qwen2.py, v4.44); splitsim's biases are all or none, so they are left out:
    // (hidden + 2 kv_dim) per layer, 0.002% of Qwen2-7B.
    if (type == "qwen2") {
        const bool windowed = maybe_nullable<bool>(o, "use_sliding_window").value_or(false);
        check_sliding_window(o, m, windowed);
        ignore(o, "max_window_layers");  // which layers the window applies to, with use_sliding_window only
        if (windowed && !o.has("sliding_window")) o.fail("use_sliding_window", "sliding-window attention is not modelled");
    } else if (type == "mistral" || type == "mixtral") {
        check_sliding_window(o, m, true);
    }
    if (type == "mixtral") {
        MoeSpec moe;
        moe.experts = o.optional<int>("num_local_experts", 8, between(1, kMaxExperts));
        moe.top_k = o.optional<int>("num_experts_per_tok", 2, between(1, moe.experts));
        moe.expert_ffn_hidden = m.ffn_hidden;
        m.moe = moe;
    }
    if (type == "deepseek") {
        // DeepSeekMoE (arXiv 2401.06066): routed experts on every moe_layer_freq-th layer from
        // first_k_dense_replace on, plus shared experts every token passes through. splitsim's MoE
        // layers are every layer_frequency-th from layer 0, all routed.
        const auto experts = maybe_nullable<int>(o, "n_routed_experts");
        if (experts) {
            if (*experts < 1 || *experts > kMaxExperts) o.fail("n_routed_experts", "must be between 1 and " + std::to_string(kMaxExperts));
            MoeSpec moe;
            moe.experts = *experts;
            moe.top_k = o.optional<int>("num_experts_per_tok", 1, between(1, moe.experts));
            moe.expert_ffn_hidden = o.optional<int>("moe_intermediate_size", 1407, between(1, kMaxFfnHidden));
            moe.layer_frequency = o.optional<int>("moe_layer_freq", 1, between(1, m.layers));
            require_neutral<int>(o, "first_k_dense_replace", 0,
                                 "dense layers before the first MoE layer (MoE layers are every moe_layer_freq-th from layer 0 in splitsim)");
            require_neutral<int>(o, "n_shared_experts", 0, "a shared expert beside the routed ones");
            m.moe = moe;
        } else {
            for (const char* k : {"num_experts_per_tok", "moe_intermediate_size", "moe_layer_freq", "first_k_dense_replace", "n_shared_experts"}) {
                ignore(o, k);  // no routed experts: a dense model
            }
        }
        ignore(o, "topk_method");
    }
    return m;
}

ModelSpec read_gpt2(JsonObject& o) {
    ModelSpec m;
    check_architectures(o, {"GPT2LMHeadModel", "GPT2DoubleHeadsModel"});
    m.hidden = o.optional<int>("n_embd", 768, between(1, kMaxHidden));
    m.layers = o.optional<int>("n_layer", 12, between(1, kMaxLayers));
    if (!o.has("n_head")) o.required<int>("n_head");
    read_heads(o, m, "n_head", std::nullopt);
    m.ffn_hidden = maybe_nullable<int>(o, "n_inner").value_or(4 * m.hidden);
    if (m.ffn_hidden < 1 || m.ffn_hidden > kMaxFfnHidden) o.fail("n_inner", "must be between 1 and " + std::to_string(kMaxFfnHidden));
    m.vocab = o.optional<int>("vocab_size", 50257, between(1, kMaxVocab));
    m.seq_len = o.optional<int>("n_positions", 1024, between(1, kMaxSeqLen));
    ignore(o, "n_ctx");  // the old name of n_positions, kept in the original files
    (void)activation_name(o, "activation_function", "gelu_new", {"gelu_new", "gelu", "gelu_fast", "gelu_pytorch_tanh"});
    m.activation = Activation::gelu;
    m.norm = Norm::layernorm;
    m.position_embedding = PositionEmbedding::learned;
    m.linear_bias = true;
    m.tied_embeddings = maybe_nullable<bool>(o, "tie_word_embeddings").value_or(true);
    m.dropout = any_dropout(o, {"attn_pdrop", "resid_pdrop", "embd_pdrop"}, 0.1);
    require_neutral<bool>(o, "add_cross_attention", false, "cross-attention to an encoder");
    // The multiple-choice head of GPT2DoubleHeadsModel.
    for (const char* k : {"summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels", "summary_first_dropout"}) {
        ignore(o, k);
    }
    return m;
}

ModelSpec read_gpt_neox(JsonObject& o) {
    ModelSpec m;
    check_architectures(o, {"GPTNeoXForCausalLM"});
    m.hidden = o.required<int>("hidden_size", between(1, kMaxHidden));
    m.layers = o.required<int>("num_hidden_layers", between(1, kMaxLayers));
    read_heads(o, m, "num_attention_heads", std::nullopt);
    m.ffn_hidden = o.required<int>("intermediate_size", between(1, kMaxFfnHidden));
    m.vocab = o.required<int>("vocab_size", between(1, kMaxVocab));
    m.seq_len = o.required<int>("max_position_embeddings", between(1, kMaxSeqLen));
    (void)activation_name(o, "hidden_act", "gelu", {"gelu", "gelu_fast", "gelu_new", "gelu_pytorch_tanh"});
    m.activation = Activation::gelu;
    m.norm = Norm::layernorm;
    m.position_embedding = PositionEmbedding::rotary;
    // Rotary embedding on a fraction of each head (rotary_pct): the same projections and
    // parameters; only the element-wise rotation touches fewer values.
    const double pct = maybe_nullable<double>(o, "rotary_pct").value_or(0.25);
    if (!(pct > 0 && pct <= 1)) o.fail("rotary_pct", "must be in (0, 1]");
    // use_parallel_residual: attention and MLP read the same input and their outputs are added;
    // the same operators as in sequence.
    (void)maybe_nullable<bool>(o, "use_parallel_residual");
    if (const auto bias = maybe_nullable<bool>(o, "attention_bias"); bias && !*bias) {
        o.fail("attention_bias", "biases on the MLP but not the attention are not modelled");
    }
    m.linear_bias = true;
    m.tied_embeddings = maybe_nullable<bool>(o, "tie_word_embeddings").value_or(false);
    m.dropout = any_dropout(o, {"hidden_dropout", "attention_dropout", "hidden_dropout_prob", "attention_probs_dropout_prob"}, 0.0);
    return m;
}

ModelSpec read_bert(JsonObject& o) {
    ModelSpec m;
    check_architectures(o, {"BertForMaskedLM", "BertForPreTraining"});
    m.hidden = o.optional<int>("hidden_size", 768, between(1, kMaxHidden));
    m.layers = o.optional<int>("num_hidden_layers", 12, between(1, kMaxLayers));
    if (!o.has("num_attention_heads")) o.required<int>("num_attention_heads");
    read_heads(o, m, "num_attention_heads", std::nullopt);
    m.ffn_hidden = o.optional<int>("intermediate_size", 3072, between(1, kMaxFfnHidden));
    m.vocab = o.optional<int>("vocab_size", 30522, between(1, kMaxVocab));
    m.seq_len = o.optional<int>("max_position_embeddings", 512, between(1, kMaxSeqLen));
    (void)activation_name(o, "hidden_act", "gelu", {"gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh"});
    m.activation = Activation::gelu;
    m.norm = Norm::layernorm;
    m.position_embedding = PositionEmbedding::learned;
    const auto positions = maybe_nullable<std::string>(o, "position_embedding_type").value_or("absolute");
    if (positions != "absolute") o.fail("position_embedding_type", "\"" + positions + "\": relative position embeddings are not modelled");
    // The token-type (segment) embedding, type_vocab_size x hidden parameters (2,048 in BERT-Large)
    // and one lookup, is not modelled, as in models/bert-large.json; nor the pooler of the NSP head.
    const int types = o.optional<int>("type_vocab_size", 2, between(0, 16));
    (void)types;
    m.linear_bias = true;
    m.tied_embeddings = maybe_nullable<bool>(o, "tie_word_embeddings").value_or(true);
    m.dropout = any_dropout(o, {"hidden_dropout_prob", "attention_probs_dropout_prob"}, 0.1);
    m.causal = false;
    require_neutral<bool>(o, "is_decoder", false, "BERT as a decoder");
    require_neutral<bool>(o, "add_cross_attention", false, "cross-attention to an encoder");
    return m;
}

using Reader = std::function<ModelSpec(JsonObject&, const std::string&)>;

const std::vector<std::pair<std::string_view, Reader>>& readers() {
    static const std::vector<std::pair<std::string_view, Reader>> table = {
        {"llama", [](JsonObject& o, const std::string& t) {
             return read_llama_like(o, t, {{"LlamaForCausalLM"}, {"silu"}, false, true});
         }},
        {"mistral", [](JsonObject& o, const std::string& t) {
             return read_llama_like(o, t, {{"MistralForCausalLM"}, {"silu"}, false, false});
         }},
        {"mixtral", [](JsonObject& o, const std::string& t) {
             return read_llama_like(o, t, {{"MixtralForCausalLM"}, {"silu"}, false, false});
         }},
        {"qwen2", [](JsonObject& o, const std::string& t) {
             return read_llama_like(o, t, {{"Qwen2ForCausalLM"}, {"silu"}, false, false});
         }},
        {"gemma", [](JsonObject& o, const std::string& t) {
             return read_llama_like(o, t, {{"GemmaForCausalLM"}, {"gelu", "gelu_pytorch_tanh", "gelu_new"}, true, true});
         }},
        {"deepseek", [](JsonObject& o, const std::string& t) {
             return read_llama_like(o, t, {{"DeepseekForCausalLM"}, {"silu"}, false, true});
         }},
        {"gpt2", [](JsonObject& o, const std::string&) { return read_gpt2(o); }},
        {"gpt_neox", [](JsonObject& o, const std::string&) { return read_gpt_neox(o); }},
        {"bert", [](JsonObject& o, const std::string&) { return read_bert(o); }},
    };
    return table;
}

// The model's name: the checkpoint's (_name_or_path) where the file states it, else the file's
// name, or its folder's for a file named config.json.
std::string model_name(const nlohmann::json& json, const std::string& file) {
    if (const auto it = json.find("_name_or_path"); it != json.end() && it->is_string() && !it->get<std::string>().empty()) {
        return it->get<std::string>();
    }
    const std::filesystem::path p(file);
    if (p.stem() == "config" && !std::filesystem::absolute(p).parent_path().filename().empty()) {
        return std::filesystem::absolute(p).parent_path().filename().string();
    }
    return p.stem().string();
}

}  // namespace

std::vector<std::string_view> hf_model_types() {
    std::vector<std::string_view> out;
    for (const auto& [type, reader] : readers()) out.push_back(type);
    return out;
}

ModelSpec parse_hf_config(const nlohmann::json& json, const std::string& file) {
    JsonObject o(json, file);
    const auto type = o.required<std::string>("model_type");
    const auto& table = readers();
    const auto it = std::find_if(table.begin(), table.end(), [&](const auto& r) { return r.first == type; });
    if (it == table.end()) {
        std::string names;
        for (const auto& [t, r] : table) names += (names.empty() ? "" : " | ") + std::string(t);
        o.fail("model_type", "\"" + type + "\" is not a model type splitsim reads (" + names + ")");
    }
    ModelSpec m = it->second(o, type);
    for (const char* k : kGenericIgnored) ignore(o, k);
    for (const char* k : kNumericIgnored) ignore(o, k);
    o.finish();
    m.origin = file;
    m.name = model_name(json, file);
    return m;
}

ModelSpec load_hf_config(const std::string& named) {
    const std::string path = resolve_input_file(named);
    return parse_hf_config(read_json_file(path), path);
}

}  // namespace splitsim::model
