// A transformer model as people describe it: the contract of models/*.json.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace splitsim::model {

// Upper bounds of a model's sizes, for every reader of models (models/*.json, Hugging Face
// configs): one to two orders of magnitude above the largest models published (Megatron-LM's 1T
// GPT: 128 layers, hidden 25600; Llama 3 405B: FFN 53248, 128k vocabulary; Switch-C: 2048
// experts; contexts of 10M tokens), so that a typo such as an extra digit is caught, and so that
// products of sizes stay within the integer types that hold them.
inline constexpr int kMaxLayers = 1 << 14;
inline constexpr int kMaxHidden = 1 << 20;
inline constexpr int kMaxFfnHidden = 1 << 22;
inline constexpr int kMaxVocab = 1 << 26;
inline constexpr int kMaxSeqLen = 1 << 26;
inline constexpr int kMaxExperts = 1 << 16;

enum class Activation { gelu, swiglu };
enum class Norm { layernorm, rmsnorm };
enum class PositionEmbedding { learned, rotary };

struct MoeSpec {
    int experts = 0;
    int top_k = 0;
    int expert_ffn_hidden = 0;  // per-projection width of one expert
    int layer_frequency = 1;    // every n-th layer is a MoE layer, starting with layer 0 (Megatron's --moe-layer-freq)
};

struct ModelSpec {
    std::string origin;  // the file it came from, for error messages
    std::string name;
    int layers = 0;
    int hidden = 0;
    int heads = 0;
    int kv_heads = 0;     // = heads for multi-head attention; fewer for GQA; 1 for MQA
    int vocab = 0;
    int seq_len = 0;
    int ffn_hidden = 0;   // MLP width; with SwiGLU the width of each of the gate and up projections
    Activation activation = Activation::gelu;
    Norm norm = Norm::layernorm;
    bool tied_embeddings = false;
    PositionEmbedding position_embedding = PositionEmbedding::learned;
    bool linear_bias = true;  // biases on the linear layers (GPT-2/Megatron GPT: yes; LLaMA: no)
    bool dropout = true;      // dropout after attention probabilities, attention and MLP outputs and embeddings
    bool causal = true;       // causal (decoder) attention; false for encoders such as BERT
    std::optional<MoeSpec> moe;

    [[nodiscard]] int head_dim() const { return hidden / heads; }
    [[nodiscard]] int kv_dim() const { return kv_heads * head_dim(); }
    [[nodiscard]] bool is_moe_layer(int layer) const {
        return moe.has_value() && layer % moe->layer_frequency == 0;
    }
    [[nodiscard]] int moe_layer_count() const;
};

// Reads and checks a model file: models/*.json, or a Hugging Face config.json named with the
// prefix "hf:" (model/import/hf_config.hpp). Throws InputError naming the file and the JSON path.
ModelSpec load_model(const std::string& path);
ModelSpec parse_model(const nlohmann::json& json, const std::string& file);

}  // namespace splitsim::model
