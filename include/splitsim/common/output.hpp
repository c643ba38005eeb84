// Writing result files: the whole text or nothing.
#pragma once

#include <string>

namespace splitsim {

// Writes text to path through path + ".partial" and a rename, so a reader never sees half a file;
// on failure the partial file this call created is removed and an InputError names the path.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace splitsim
