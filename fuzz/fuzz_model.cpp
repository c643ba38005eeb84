// Fuzzes the model reader (models/*.json) and the expansion of an accepted model into operators.
#include <cmath>

#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"
#include "support.hpp"

using namespace splitsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz::run_json(data, size, "model.json", [](const nlohmann::json& json) {
        const model::ModelSpec m = model::parse_model(json, "model.json");
        FUZZ_CHECK(m.layers >= 1 && m.hidden >= m.heads && m.heads >= m.kv_heads && m.kv_heads >= 1);
        const double parameters = model::parameter_count(m);
        FUZZ_CHECK(std::isfinite(parameters) && parameters > 0);
        for (model::Recompute r : {model::Recompute::none, model::Recompute::selective, model::Recompute::full}) {
            const Flops f = model::iteration_flops(m, 8, r);
            FUZZ_CHECK(std::isfinite(f.value()) && f.value() > 0);
        }
        model::Shard shard;
        shard.sequence = true;
        shard.fused_attention = true;
        const model::LayerGraph g = model::expand(m, shard);
        FUZZ_CHECK(!g.dense.empty() || m.moe);
        FUZZ_CHECK(std::isfinite(g.stage_boundary.value()));
    });
}
