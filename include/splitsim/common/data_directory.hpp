// Where splitsim's data lives (models/, topologies/, plans/, validate/published/), found from the
// running executable rather than the working directory: a build inside the source tree
// (<root>/build/splitsim) reads <root>, an installed one (<prefix>/bin/splitsim) reads
// <prefix>/share/splitsim, wherever the prefix was moved (a DESTDIR staging copy included).
// Programs that are not splitsim's executables (the Python module inside python3) fall back on
// the folder `meson install` was configured to fill.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace splitsim {

// The folders looked in, in order: <executable's folder>/../share/splitsim, then
// <executable's folder>/.., then the configured <prefix>/<datadir>/splitsim.
std::vector<std::filesystem::path> data_directory_candidates();
// The first candidate that holds `entry` (a path relative to the data folder, e.g.
// "validate/published"), or nothing.
std::optional<std::filesystem::path> find_data_directory(std::string_view entry);
// An input file as named on the command line: the path itself where it exists or is absolute,
// else the same relative path inside the first data folder that holds it
// ("models/llama3-8b.json" from any working directory), else the path unchanged (so that the error
// names what was asked for).
std::string resolve_input_file(const std::string& path);

}  // namespace splitsim
