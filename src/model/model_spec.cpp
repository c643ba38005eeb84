#include "splitsim/model/model_spec.hpp"

#include "splitsim/common/data_directory.hpp"
#include "splitsim/common/json_reader.hpp"
#include "splitsim/model/import/hf_config.hpp"

namespace splitsim::model {

int ModelSpec::moe_layer_count() const {
    if (!moe) return 0;
    return (layers + moe->layer_frequency - 1) / moe->layer_frequency;
}

ModelSpec parse_model(const nlohmann::json& json, const std::string& file) {
    JsonObject o(json, file);
    ModelSpec m;
    m.origin = file;
    m.name = o.required<std::string>("name");
    (void)o.optional<std::string>("source", "");  // citation of the configuration, for people
    m.layers = o.required<int>("layers", between(1, kMaxLayers));
    m.hidden = o.required<int>("hidden", between(1, kMaxHidden));
    m.heads = o.required<int>("heads", between(1, m.hidden));
    m.vocab = o.required<int>("vocab", between(1, kMaxVocab));
    m.seq_len = o.required<int>("seq_len", between(1, kMaxSeqLen));
    m.kv_heads = o.optional<int>("kv_heads", m.heads, between(1, m.heads));
    m.ffn_hidden = o.optional<int>("ffn_hidden", 4 * m.hidden, between(1, kMaxFfnHidden));
    m.activation = o.choice<Activation>("activation", {{"gelu", Activation::gelu}, {"swiglu", Activation::swiglu}},
                                        Activation::gelu);
    m.norm = o.choice<Norm>("norm", {{"layernorm", Norm::layernorm}, {"rmsnorm", Norm::rmsnorm}}, Norm::layernorm);
    m.tied_embeddings = o.optional<bool>("tied_embeddings", false);
    m.position_embedding = o.choice<PositionEmbedding>(
        "position_embedding", {{"learned", PositionEmbedding::learned}, {"rotary", PositionEmbedding::rotary}},
        PositionEmbedding::learned);
    m.linear_bias = o.optional<bool>("linear_bias", true);
    m.dropout = o.optional<bool>("dropout", true);
    m.causal = o.optional<bool>("causal", true);

    if (m.hidden % m.heads != 0) {
        o.fail("heads", std::to_string(m.heads) + " does not divide hidden (" + std::to_string(m.hidden) + ")");
    }
    if (m.heads % m.kv_heads != 0) {
        o.fail("kv_heads", std::to_string(m.kv_heads) + " does not divide heads (" + std::to_string(m.heads) + ")");
    }

    if (auto moe = o.maybe_object("moe")) {
        MoeSpec s;
        s.experts = moe->required<int>("experts", between(1, kMaxExperts));
        s.top_k = moe->required<int>("top_k", between(1, s.experts));
        s.expert_ffn_hidden = moe->optional<int>("expert_ffn_hidden", m.ffn_hidden, between(1, kMaxFfnHidden));
        s.layer_frequency = moe->optional<int>("layer_frequency", 1, between(1, m.layers));
        moe->finish();
        m.moe = s;
    }
    o.finish();
    return m;
}

ModelSpec load_model(const std::string& named) {
    if (named.starts_with(kHfPrefix)) return load_hf_config(named.substr(kHfPrefix.size()));
    const std::string path = resolve_input_file(named);
    const nlohmann::json json = read_json_file(path);
    expect_file_kind(json, path, FileKind::model);
    return parse_model(json, path);
}

}  // namespace splitsim::model
