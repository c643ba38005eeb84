// Hugging Face config.json files (models/hf/, copies of the published files) read as splitsim
// models: each family's keys mapped onto the model, its parameter count against the published
// size, and every key splitsim cannot represent an error naming it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/model/import/hf_config.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"
#include "support.hpp"

using namespace splitsim;
using test::rel;

namespace {

std::string hf_file(const std::string& name) { return test::source_root() + "/models/hf/" + name + ".json"; }

nlohmann::json read(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

model::ModelSpec load(const std::string& name) { return model::load_model("hf:" + hf_file(name)); }

// The message of the InputError reading `json` throws, or "" when it reads.
std::string error_of(const nlohmann::json& json) {
    try {
        (void)model::parse_hf_config(json, "config.json");
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

void check_shape(const model::ModelSpec& m, int layers, int hidden, int heads, int kv_heads, int ffn, int vocab, int seq_len) {
    CHECK(m.layers == layers);
    CHECK(m.hidden == hidden);
    CHECK(m.heads == heads);
    CHECK(m.kv_heads == kv_heads);
    CHECK(m.ffn_hidden == ffn);
    CHECK(m.vocab == vocab);
    CHECK(m.seq_len == seq_len);
}

}  // namespace

TEST_CASE("LLaMA 2 7B and Llama 3 8B: GQA, SwiGLU, RMSNorm, rotary, no biases, untied; published sizes") {
    const model::ModelSpec l2 = load("llama-2-7b");
    check_shape(l2, 32, 4096, 32, 32, 11008, 32000, 4096);
    CHECK(l2.activation == model::Activation::swiglu);
    CHECK(l2.norm == model::Norm::rmsnorm);
    CHECK(l2.position_embedding == model::PositionEmbedding::rotary);
    CHECK_FALSE(l2.linear_bias);
    CHECK_FALSE(l2.tied_embeddings);
    CHECK_FALSE(l2.dropout);
    CHECK(l2.causal);
    CHECK_FALSE(l2.moe.has_value());
    CHECK(l2.name == "llama-2-7b");
    // 6,738,415,616 parameters in meta-llama/Llama-2-7b-hf (its model.safetensors.index.json
    // total_size 13,476,839,424 bytes / 2 bytes per fp16 value).
    CHECK(model::parameter_count(l2) == 6738415616.0);

    const model::ModelSpec l3 = load("llama-3-8b");
    check_shape(l3, 32, 4096, 32, 8, 14336, 128256, 8192);
    // 8,030,261,248 in meta-llama/Meta-Llama-3-8B (total_size 16,060,522,496 bytes in bf16); the
    // same as models/llama3-8b.json, written from the paper.
    CHECK(model::parameter_count(l3) == 8030261248.0);
    CHECK(model::parameter_count(l3) == model::parameter_count(model::load_model(test::source_root() + "/models/llama3-8b.json")));
}

TEST_CASE("Mistral 7B v0.3 and Mixtral 8x7B: GQA, full attention (sliding_window null), 8 experts top-2") {
    const model::ModelSpec mi = load("mistral-7b-v0.3");
    check_shape(mi, 32, 4096, 32, 8, 14336, 32768, 32768);
    // 7,248,023,552 parameters in mistralai/Mistral-7B-v0.3 (total_size 14,496,047,104 bytes, bf16).
    CHECK(model::parameter_count(mi) == 7248023552.0);

    const model::ModelSpec mx = load("mixtral-8x7b-v0.1");
    check_shape(mx, 32, 4096, 32, 8, 14336, 32000, 32768);
    REQUIRE(mx.moe.has_value());
    CHECK(mx.moe->experts == 8);
    CHECK(mx.moe->top_k == 2);
    CHECK(mx.moe->expert_ffn_hidden == 14336);
    CHECK(mx.moe->layer_frequency == 1);
    // 46,702,792,704: "46.7B total parameters" (Jiang et al. 2024, arXiv 2401.04088, Sec. 2).
    CHECK(model::parameter_count(mx) == 46702792704.0);

    // Mistral 7B v0.1 attends over a 4,096-token window of its 32,768 positions: not modelled.
    nlohmann::json v01 = read(hf_file("mistral-7b-v0.3"));
    v01["sliding_window"] = 4096;
    CHECK(error_of(v01) == "config.json: /sliding_window: sliding-window attention (4096 tokens, shorter than the sequence of 32768) is not modelled");
    v01["sliding_window"] = 32768;  // a window as long as the sequence is full attention
    CHECK(error_of(v01).empty());
}

TEST_CASE("Qwen2 7B: GQA 28/4, the window off (use_sliding_window false), QKV biases left out") {
    const model::ModelSpec q = load("qwen2-7b");
    check_shape(q, 28, 3584, 28, 4, 18944, 152064, 131072);
    CHECK_FALSE(q.linear_bias);
    CHECK_FALSE(q.tied_embeddings);
    // per layer: q, o 3584^2 each; k, v 3584 x 512 each; gate, up, down 3 x 3584 x 18944; two
    // norms; embedding and output 2 x 152064 x 3584; final norm.
    const double per_layer = 2 * 3584.0 * 3584 + 2 * 3584.0 * 512 + 3 * 3584.0 * 18944 + 2 * 3584.0;
    CHECK(model::parameter_count(q) == 28 * per_layer + 2 * 152064.0 * 3584 + 3584);
    // Qwen2-7B is "7.62B" (Qwen2 technical report, arXiv 2407.10671, Table 1: 7.6B); the QKV biases
    // splitsim leaves out are 28 x (3584 + 2 x 512) = 129,024 of them.
    CHECK(rel(model::parameter_count(q) + 28 * (3584.0 + 2 * 512), 7.62e9) < 0.001);

    nlohmann::json windowed = read(hf_file("qwen2-7b"));
    windowed["use_sliding_window"] = true;
    windowed["sliding_window"] = 4096;
    CHECK(error_of(windowed) == "config.json: /sliding_window: sliding-window attention (4096 tokens, shorter than the sequence of 131072) is not modelled");
}

TEST_CASE("Gemma 2B: MQA with head_dim 256, GeGLU as the gated MLP, tied embeddings by default") {
    const model::ModelSpec g = load("gemma-2b");
    check_shape(g, 18, 2048, 8, 1, 16384, 256000, 8192);
    CHECK(g.activation == model::Activation::swiglu);
    CHECK(g.tied_embeddings);  // GemmaConfig's default; the file does not set it
    // 2,506,172,416 parameters in google/gemma-2b (total_size 5,012,344,832 bytes, bf16).
    CHECK(model::parameter_count(g) == 2506172416.0);

    // Gemma 7B: 16 heads of 256 = 4096, wider than its hidden size 3072: not modelled.
    nlohmann::json g7 = read(hf_file("gemma-2b"));
    g7["hidden_size"] = 3072;
    g7["num_attention_heads"] = 16;
    g7["num_key_value_heads"] = 16;
    CHECK(error_of(g7) ==
          "config.json: /head_dim: 256 x 16 heads = 4096 is not the hidden size (3072): attention wider or narrower than the model is not modelled");
}

TEST_CASE("GPT-2 and GPT-NeoX 20B: LayerNorm, GeLU, biases; learned positions and tied embeddings vs rotary and untied") {
    const model::ModelSpec g2 = load("gpt2");
    check_shape(g2, 12, 768, 12, 12, 3072, 50257, 1024);
    CHECK(g2.activation == model::Activation::gelu);
    CHECK(g2.norm == model::Norm::layernorm);
    CHECK(g2.position_embedding == model::PositionEmbedding::learned);
    CHECK(g2.linear_bias);
    CHECK(g2.tied_embeddings);
    CHECK(g2.dropout);
    // 124,439,808 parameters in openai-community/gpt2 (model.safetensors, fp32: 497,759,232 bytes / 4).
    CHECK(model::parameter_count(g2) == 124439808.0);

    const model::ModelSpec nx = load("gpt-neox-20b");
    check_shape(nx, 44, 6144, 64, 64, 24576, 50432, 2048);
    CHECK(nx.position_embedding == model::PositionEmbedding::rotary);
    CHECK(nx.linear_bias);
    CHECK_FALSE(nx.tied_embeddings);
    CHECK_FALSE(nx.dropout);
    // "Num. parameters 20,556,201,984" (model card of EleutherAI/gpt-neox-20b); splitsim counts
    // the weights and biases of the layers (20,554,567,680), 0.008% fewer.
    CHECK(rel(model::parameter_count(nx), 20556201984.0) < 1e-4);
}

TEST_CASE("BERT-Large: a bidirectional encoder (causal false), the same model as models/bert-large.json") {
    const model::ModelSpec b = load("bert-large-uncased");
    check_shape(b, 24, 1024, 16, 16, 4096, 30522, 512);
    CHECK_FALSE(b.causal);
    CHECK(b.tied_embeddings);
    CHECK(b.dropout);
    const model::ModelSpec shipped = model::load_model(test::source_root() + "/models/bert-large.json");
    CHECK(model::parameter_count(b) == model::parameter_count(shipped));
    // BERT-Large is "340M" (Devlin et al. 2018, arXiv 1810.04805, Sec. 3); splitsim leaves out the
    // token-type embedding, the MLM head's transform and the pooler (about 3M together).
    CHECK(rel(model::parameter_count(b), 340e6) < 0.02);

    nlohmann::json relative = read(hf_file("bert-large-uncased"));
    relative["position_embedding_type"] = "relative_key";
    CHECK(error_of(relative) ==
          "config.json: /position_embedding_type: \"relative_key\": relative position embeddings are not modelled");
}

TEST_CASE("DeepSeek-MoE 16B: shared experts and a leading dense layer are errors; routed experts alone map") {
    const std::string path = test::source_root() + "/tests/data/hf/deepseek-moe-16b-base.json";
    nlohmann::json ds = read(path);
    CHECK(error_of(ds) ==
          "config.json: /first_k_dense_replace: dense layers before the first MoE layer (MoE layers are every "
          "moe_layer_freq-th from layer 0 in splitsim) is not modelled");
    ds["first_k_dense_replace"] = 0;
    CHECK(error_of(ds) == "config.json: /n_shared_experts: a shared expert beside the routed ones is not modelled");
    ds["n_shared_experts"] = nullptr;
    const model::ModelSpec m = model::parse_hf_config(ds, "config.json");
    check_shape(m, 28, 2048, 16, 16, 10944, 102400, 4096);
    REQUIRE(m.moe.has_value());
    CHECK(m.moe->experts == 64);
    CHECK(m.moe->top_k == 6);
    CHECK(m.moe->expert_ffn_hidden == 1408);
    CHECK(m.moe->layer_frequency == 1);
    // The published 16.4B (Dai et al. 2024, arXiv 2401.06066, Table 2) less what splitsim cannot
    // hold: per MoE layer the 2 shared experts (3 x 2048 x 2 x 1408 parameters), and layer 0 being
    // MoE instead of dense (64 routed experts in place of a 10944-wide MLP).
    const double shared = 28 * 3 * 2048.0 * 2 * 1408;
    const double layer0 = 64 * 3 * 2048.0 * 1408 - 3 * 2048.0 * 10944;
    CHECK(rel(model::parameter_count(m) + shared - layer0, 16.4e9) < 0.01);
}

TEST_CASE("keys: unknown keys, unknown model types and unsupported classes are errors naming the key") {
    nlohmann::json l = read(hf_file("llama-3-8b"));
    l["qk_layernorm"] = true;
    CHECK(error_of(l) == "config.json: /qk_layernorm: unknown key");
    l = read(hf_file("llama-3-8b"));
    l["architectures"] = {"LlamaForSequenceClassification"};
    CHECK(error_of(l) ==
          "config.json: /architectures/0: \"LlamaForSequenceClassification\" is not a language-model class splitsim simulates (LlamaForCausalLM)");
    l = read(hf_file("llama-3-8b"));
    l["hidden_act"] = "relu";
    CHECK(error_of(l) == "config.json: /hidden_act: \"relu\" is not an activation splitsim models for this model type (silu)");
    l = read(hf_file("llama-3-8b"));
    l["attention_bias"] = true;
    CHECK(error_of(l) == "config.json: /attention_bias: biases on the attention but not the MLP (or the reverse) are not modelled");
    l["mlp_bias"] = true;
    CHECK(error_of(l).empty());
    l = read(hf_file("llama-3-8b"));
    l["model_type"] = "deepseek_v3";
    CHECK(error_of(l) == "config.json: /model_type: \"deepseek_v3\" is not a model type splitsim reads (llama | mistral | mixtral | qwen2 | gemma | deepseek | gpt2 | gpt_neox | bert)");
    // Keys that change no shape are read and dropped: the model is the same without them.
    l = read(hf_file("llama-3-8b"));
    for (const char* k : {"bos_token_id", "eos_token_id", "torch_dtype", "rope_theta", "rms_norm_eps", "transformers_version", "use_cache"}) {
        l.erase(k);
    }
    CHECK(model::parameter_count(model::parse_hf_config(l, "config.json")) == 8030261248.0);
    // A missing file is named; "hf:" without a readable file is an error like any model path.
    CHECK_THROWS_AS(model::load_model("hf:" + test::source_root() + "/models/hf/no-such.json"), InputError);
}
