// Where splitsim's data lives (models/, topologies/, plans/, validate/published/), found from the
// running executable rather than the working directory: a build inside the source tree
// (<root>/build/splitsim) reads <root>, an installed one (<prefix>/bin/splitsim) reads
// <prefix>/share/splitsim.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace splitsim {

// The folders looked in, in order: <executable's folder>/../share/splitsim, then
// <executable's folder>/.. .
std::vector<std::filesystem::path> data_directory_candidates();
// The first candidate that holds `entry` (a path relative to the data folder, e.g.
// "validate/published"), or nothing.
std::optional<std::filesystem::path> find_data_directory(std::string_view entry);

}  // namespace splitsim
