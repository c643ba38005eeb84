#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"
#include "support.hpp"

using namespace splitsim;
using model::Recompute;
using model::Shard;
using test::gpt;
using test::rel;

namespace {

// Rows of Narayanan et al. 2021 (arXiv 2104.04473), Table 1, copied with their source into
// validate/published/megatron-2021-weak-scaling.json.
nlohmann::json weak_scaling() {
    std::ifstream in(test::source_root() + "/validate/published/megatron-2021-weak-scaling.json");
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
}

// The shipped model file a row names (models/gpt-*.json), checked against the row's shape.
model::ModelSpec row_model(const nlohmann::json& row) {
    const std::string file = test::source_root() + "/models/" + row["model"].get<std::string>() + ".json";
    const model::ModelSpec m = model::load_model(file);
    CAPTURE(file);
    REQUIRE(m.layers == row["layers"].get<int>());
    REQUIRE(m.hidden == row["hidden"].get<int>());
    REQUIRE(m.heads == row["heads"].get<int>());
    REQUIRE(m.vocab == 51200);
    REQUIRE(m.seq_len == 2048);
    return m;
}

}  // namespace

TEST_CASE("parameter count reproduces Narayanan et al. 2021, Eq. 2, for every weak-scaling row") {
    const auto table = weak_scaling();
    for (const auto& row : table["rows"]) {
        const model::ModelSpec m = row_model(row);
        const double l = m.layers, h = m.hidden, V = m.vocab, s = m.seq_len;
        // P = 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h))  (arXiv 2104.04473, Eq. 2)
        const double eq2 = 12 * l * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * l * h));
        // The graph also holds the final LayerNorm (2h), which Eq. 2 leaves out.
        CAPTURE(m.name);
        CHECK(rel(model::parameter_count(m), eq2 + 2 * h) < 1e-12);
        // And the table's rounded size (in billions, one decimal).
        CHECK(std::fabs(model::parameter_count(m) / 1e9 - row["params_b"].get<double>()) < 0.06);
    }
}

TEST_CASE("FLOPs per iteration reproduce Narayanan Eq. 3 and Korthikanti Eq. 7 and 8 for every weak-scaling row") {
    const auto table = weak_scaling();
    for (const auto& row : table["rows"]) {
        const model::ModelSpec m = row_model(row);
        const double B = row["global_batch"].get<double>();
        const double l = m.layers, h = m.hidden, V = m.vocab, s = m.seq_len;
        CAPTURE(m.name);
        // Full recomputation (4 passes over the layers, 3 over the logits):
        // F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h))  (arXiv 2104.04473, Eq. 3)
        const double eq3 = 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h));
        CHECK(rel(model::iteration_flops(m, B, Recompute::full).value(), eq3) < 1e-12);
        // Model FLOPs (no recomputation): 72 B l s h^2 (1 + s/(6h) + V/(12 h l))  (arXiv 2205.05198, Eq. 7)
        const double eq7 = 72 * B * l * s * h * h * (1 + s / (6 * h) + V / (12 * h * l));
        CHECK(rel(model::iteration_flops(m, B, Recompute::none).value(), eq7) < 1e-12);
        // Selective recomputation: 72 B l s h^2 (1 + s/(3h) + V/(12 h l))  (arXiv 2205.05198, Eq. 8)
        // charges 12 B s^2 h l for re-running the attention core; the graph counts the forward of
        // QK^T and PV it executes, 4 B s^2 h l (next test case), so it is Eq. 8 less 8 B s^2 h l.
        const double eq8 = 72 * B * l * s * h * h * (1 + s / (3 * h) + V / (12 * h * l));
        CHECK(rel(model::iteration_flops(m, B, Recompute::selective).value(), eq8 - 8 * B * s * s * h * l) < 1e-12);
        // The table's iteration time is F / (GPUs x achieved TFLOP/s): check our F against it.
        const double derived = eq3 / (row["gpus"].get<double>() * row["tflops_per_gpu"].get<double>() * 1e12);
        CHECK(rel(derived, row["iteration_time_s"].get<double>()) < 0.005);
    }
}

TEST_CASE("selective recomputation re-runs the forward of the attention core only") {
    const model::ModelSpec m = gpt(96, 12288, 96);
    const double B = 1536, l = 96, h = 12288, V = 51200, s = 2048;
    const double eq7 = 72 * B * l * s * h * h * (1 + s / (6 * h) + V / (12 * h * l));
    // QK^T and softmax(.)V forward: 4 B s^2 h l more FLOPs.
    const double counted = eq7 + 4 * B * s * s * h * l;
    CHECK(rel(model::iteration_flops(m, B, Recompute::selective).value(), counted) < 1e-12);
    // Korthikanti Eq. 8 writes the hardware FLOPs as 72 B l s h^2 (1 + s/(3h) + V/(12hl)), i.e. it
    // charges 12 B s^2 h l for the recomputation, three times the forward of QK^T and PV. The
    // graph counts what is executed; the difference is exactly 8 B s^2 h l.
    const double eq8 = 72 * B * l * s * h * h * (1 + s / (3 * h) + V / (12 * h * l));
    CHECK(rel(eq8 - model::iteration_flops(m, B, Recompute::selective).value(), 8 * B * s * s * h * l) < 1e-9);
}

TEST_CASE("activations per layer reproduce Korthikanti et al. 2022, Table 2") {
    // The 22B model of Korthikanti Table 3: a = 64, h = 6144, s = 2048; micro-batch b = 4, t = 8.
    const model::ModelSpec m = gpt(48, 6144, 64);
    const double s = 2048, b = 4, h = 6144, a = 64, t = 8;
    const double sbh = s * b * h;
    auto layer = [&](Shard shard) { return model::totals(model::expand(m, shard).dense); };

    Shard none;
    none.micro_batch = 4;
    // no parallelism: s b h (34 + 5 a s / h)
    CHECK(rel(layer(none).saved.value(), sbh * (34 + 5 * a * s / h)) < 1e-12);

    Shard tp = none;
    tp.tensor = 8;
    // tensor parallel: s b h (10 + 24/t + 5 a s/(h t))
    CHECK(rel(layer(tp).saved.value(), sbh * (10 + 24 / t + 5 * a * s / (h * t))) < 1e-12);
    // tensor parallel + selective recomputation: s b h (10 + 24/t)
    CHECK(rel(layer(tp).saved_selective.value(), sbh * (10 + 24 / t)) < 1e-12);

    Shard sp = tp;
    sp.sequence = true;
    // tensor + sequence parallel: s b h (34/t + 5 a s/(h t))
    CHECK(rel(layer(sp).saved.value(), sbh * (34 / t + 5 * a * s / (h * t))) < 1e-12);
    // tensor + sequence parallel + selective recomputation: s b h 34/t
    CHECK(rel(layer(sp).saved_selective.value(), sbh * 34 / t) < 1e-12);

    // full recomputation keeps the layer input, 2 s b h
    CHECK(rel(model::expand(m, tp).layer_input.value(), 2 * sbh) < 1e-12);
    CHECK(rel(model::expand(m, sp).layer_input.value(), 2 * sbh / t) < 1e-12);

    // Outside the layers (Korthikanti Sec. 4.3): embedding dropout mask s b h / t per in-flight
    // micro-batch; final LayerNorm 2 s b h / t, output-layer input 2 s b h / t, fp32 logits 4 s b V / t.
    const model::LayerGraph g = model::expand(m, sp);
    CHECK(rel(model::totals(g.embedding).saved.value(), sbh / t) < 1e-12);
    CHECK(rel(model::totals(g.head).saved.value(), 2 * sbh / t + 2 * sbh / t + 4 * s * b * 51200 / t) < 1e-12);
}

TEST_CASE("attention breakdown of Korthikanti Sec. 4.1: 11 sbh + 5 a s^2 b, MLP 19 sbh, norms 4 sbh") {
    const model::ModelSpec m = gpt(2, 1024, 16, 512);
    const double s = 512, b = 1, h = 1024, a = 16;
    const model::LayerGraph g = model::expand(m);
    double attention = 0, mlp = 0, norms = 0;
    bool in_mlp = false;
    for (const auto& op : g.dense) {
        if (op.kind == model::OpKind::norm) {
            norms += op.saved.value();
            in_mlp = op.name == "mlp_norm";
            continue;
        }
        (in_mlp ? mlp : attention) += op.saved.value();
    }
    CHECK(rel(attention, 11 * s * b * h + 5 * a * s * s * b) < 1e-12);
    CHECK(rel(mlp, 19 * s * b * h) < 1e-12);
    CHECK(rel(norms, 4 * s * b * h) < 1e-12);
}

TEST_CASE("LLaMA-style models: GQA, SwiGLU, RMSNorm, untied embeddings") {
    // Llama 3 8B (arXiv 2407.21783 Table 3; HF config): 8,030,261,248 parameters.
    model::ModelSpec m;
    m.name = "llama3-8b";
    m.layers = 32;
    m.hidden = 4096;
    m.heads = 32;
    m.kv_heads = 8;
    m.vocab = 128256;
    m.seq_len = 8192;
    m.ffn_hidden = 14336;
    m.activation = model::Activation::swiglu;
    m.norm = model::Norm::rmsnorm;
    m.position_embedding = model::PositionEmbedding::rotary;
    m.linear_bias = false;
    m.dropout = false;
    // per layer: q 4096^2 + k,v 2 x 4096 x 1024 + o 4096^2 + 3 x 4096 x 14336 + 2 x 4096 norms;
    // embedding and output 2 x 128256 x 4096; final norm 4096.
    const double per_layer = 4096.0 * 4096 + 2 * 4096.0 * 1024 + 4096.0 * 4096 + 3 * 4096.0 * 14336 + 2 * 4096.0;
    CHECK(model::parameter_count(m) == 32 * per_layer + 2 * 128256.0 * 4096 + 4096);
    CHECK(model::parameter_count(m) == 8030261248.0);
}

TEST_CASE("MoE: Mixtral 8x7B has 46.7B parameters, and top-2 routing doubles the expert FLOPs") {
    model::ModelSpec m;
    m.name = "mixtral";
    m.layers = 32;
    m.hidden = 4096;
    m.heads = 32;
    m.kv_heads = 8;
    m.vocab = 32000;
    m.seq_len = 4096;
    m.ffn_hidden = 14336;
    m.activation = model::Activation::swiglu;
    m.norm = model::Norm::rmsnorm;
    m.position_embedding = model::PositionEmbedding::rotary;
    m.linear_bias = false;
    m.dropout = false;
    m.moe = model::MoeSpec{8, 2, 14336, 1};
    // Mistral AI reports 46.7B total parameters (arXiv 2401.04088, Sec. 2): 46,702,792,704 in the HF checkpoint.
    CHECK(model::parameter_count(m) == 46702792704.0);
    const model::LayerGraph g = model::expand(m);
    double expert_flops = 0;
    for (const auto& op : g.moe) {
        if (op.expert) expert_flops += op.forward_flops.value();
    }
    // 2 (top-k) x 3 projections x 2 s h f
    CHECK(rel(expert_flops, 2 * 3 * 2.0 * 4096 * 4096 * 14336) < 1e-12);
}

TEST_CASE("model files: every file in models/ loads, and bad ones are rejected with the path") {
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(test::source_root() + "/models")) {
        if (entry.path().extension() != ".json") continue;
        CAPTURE(entry.path().string());
        CHECK_NOTHROW(model::load_model(entry.path().string()));
        ++files;
    }
    CHECK(files >= 24);
    const auto bad = nlohmann::json::parse(R"({"name": "x", "layers": 2, "hidden": 100, "heads": 3, "vocab": 10, "seq_len": 8})");
    CHECK_THROWS_WITH_AS(model::parse_model(bad, "m.json"), "m.json: /heads: 3 does not divide hidden (100)", InputError);
    const auto gqa = nlohmann::json::parse(
        R"({"name": "x", "layers": 2, "hidden": 96, "heads": 8, "kv_heads": 3, "vocab": 10, "seq_len": 8})");
    CHECK_THROWS_WITH_AS(model::parse_model(gqa, "m.json"), "m.json: /kv_heads: 3 does not divide heads (8)", InputError);
}
