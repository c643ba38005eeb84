// Hugging Face `config.json` files read as splitsim models: the same ModelSpec (and so the same
// layer graph) as models/*.json. Each supported `model_type` has its own reader; every key of the
// file is either mapped onto the model, listed as not changing the architecture (token ids, dtype,
// initialisation, norm epsilons, rotary frequencies), or an error naming it: a value splitsim cannot
// represent (sliding-window attention shorter than the sequence, shared experts, a head_dim other
// than hidden / heads), or a key the reader does not know.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "splitsim/model/model_spec.hpp"

namespace splitsim::model {

// The prefix that marks a model argument as a Hugging Face config: "hf:models/hf/llama-3-8b.json".
inline constexpr std::string_view kHfPrefix = "hf:";

// The `model_type` values read: llama, mistral, mixtral, qwen2, gemma, deepseek, gpt2, gpt_neox, bert.
std::vector<std::string_view> hf_model_types();

// Throws InputError naming the file and the JSON pointer of the offending key.
ModelSpec parse_hf_config(const nlohmann::json& json, const std::string& file);
ModelSpec load_hf_config(const std::string& path);

}  // namespace splitsim::model
