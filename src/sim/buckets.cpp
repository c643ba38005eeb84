#include "splitsim/sim/buckets.hpp"

#include "splitsim/cost/optimizer.hpp"

namespace splitsim::sim {

std::vector<Bucket> gradient_buckets(const plan::Plan& p, const model::ModelSpec& m, const plan::Partition& part,
                                     const plan::Stage& stage, bool expert, bool bucketed, BucketScope scope, bool record_layers) {
    const plan::LayerPrograms& lp = *part.layers;
    auto layer_params = [&](int layer) {
        const model::OpTotals& t = m.is_moe_layer(layer) ? lp.moe : lp.dense;
        return expert ? t.expert_parameters : t.parameters;
    };
    // Outside the layers: the head's gradients complete first, the embedding's last (with tied
    // embeddings on a single stage, the output layer's gradient lands in the embedding).
    double head = 0, embedding = 0;
    if (!expert && scope != BucketScope::layers_only) {
        if (stage.last) head = lp.head.parameters + (stage.first ? 0.0 : lp.graph.tied_output_parameters);
        if (stage.first) embedding = lp.embedding.parameters;
    }
    const bool with_layers = scope != BucketScope::outside_only;

    std::vector<Bucket> out;
    const double size = bucketed ? cost::gradient_bucket_parameters(p.dp) : 0;
    Bucket current;
    auto flush = [&] {
        if (current.parameters > 0) out.push_back(current);
        current = Bucket{};
    };
    if (head > 0) {
        current.parameters += head;
        current.head = true;
    }
    if (with_layers) {
        for (auto c = stage.chunks.rbegin(); c != stage.chunks.rend(); ++c) {
            for (auto l = c->rbegin(); l != c->rend(); ++l) {
                current.parameters += layer_params(*l);
                if (record_layers) current.layers.push_back(*l);
                if (bucketed && current.parameters >= size) flush();
            }
        }
    }
    if (embedding > 0) {
        current.parameters += embedding;
        current.embedding = true;
    }
    flush();
    return out;
}

}  // namespace splitsim::sim
