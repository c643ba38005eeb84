#include "splitsim/model/model_spec.hpp"

#include "splitsim/common/json_reader.hpp"

namespace splitsim::model {

int ModelSpec::moe_layer_count() const {
    if (!moe) return 0;
    return (layers + moe->layer_frequency - 1) / moe->layer_frequency;
}

ModelSpec parse_model(const nlohmann::json& json, const std::string& file) {
    JsonObject o(json, file);
    ModelSpec m;
    m.name = o.required<std::string>("name");
    (void)o.optional<std::string>("source", "");  // citation of the configuration, for people
    m.layers = o.required<int>("layers", at_least(1));
    m.hidden = o.required<int>("hidden", at_least(1));
    m.heads = o.required<int>("heads", at_least(1));
    m.vocab = o.required<int>("vocab", at_least(1));
    m.seq_len = o.required<int>("seq_len", at_least(1));
    m.kv_heads = o.optional<int>("kv_heads", m.heads, between(1, m.heads));
    m.ffn_hidden = o.optional<int>("ffn_hidden", 4 * m.hidden, at_least(1));
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
        s.experts = moe->required<int>("experts", at_least(1));
        s.top_k = moe->required<int>("top_k", between(1, s.experts));
        s.expert_ffn_hidden = moe->optional<int>("expert_ffn_hidden", m.ffn_hidden, at_least(1));
        s.layer_frequency = moe->optional<int>("layer_frequency", 1, between(1, m.layers));
        moe->finish();
        m.moe = s;
    }
    o.finish();
    return m;
}

ModelSpec load_model(const std::string& path) { return parse_model(read_json_file(path), path); }

}  // namespace splitsim::model
