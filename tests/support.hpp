// Helpers shared by the unit tests.
#pragma once

#include <cmath>
#include <string>

#include "splitsim/model/model_spec.hpp"

namespace splitsim::test {

// A GPT model with Megatron-LM's conventions (learned positions, biases, LayerNorm, GeLU, 4h MLP,
// dropout, tied embeddings), as used by the published Megatron formulas.
inline model::ModelSpec gpt(int layers, int hidden, int heads, int seq_len = 2048, int vocab = 51200) {
    model::ModelSpec m;
    m.name = "gpt-" + std::to_string(layers) + "x" + std::to_string(hidden);
    m.layers = layers;
    m.hidden = hidden;
    m.heads = heads;
    m.kv_heads = heads;
    m.vocab = vocab;
    m.seq_len = seq_len;
    m.ffn_hidden = 4 * hidden;
    m.tied_embeddings = true;
    return m;
}

// Relative difference, for checks of closed forms computed two ways.
inline double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(a), std::fabs(b)); }

// The source tree, for tests that read the repository's data files.
inline std::string source_root() {
#ifdef SPLITSIM_SOURCE_ROOT
    return SPLITSIM_SOURCE_ROOT;
#else
    return ".";
#endif
}

}  // namespace splitsim::test
