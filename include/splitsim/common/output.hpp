// Writing result files: the whole text or nothing.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace splitsim {

// Refuses a path named twice (InputError naming it), then writes each (path, text) through
// path + ".partial" and renames them into place only once all are
// written, so a reader never sees half a file and a command that fails on one output leaves none;
// on failure the partial files this call created are removed and an InputError names the path.
void write_text_files(const std::vector<std::pair<std::string, std::string>>& files);
void write_text_file(const std::string& path, const std::string& text);

}  // namespace splitsim
