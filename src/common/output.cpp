#include "splitsim/common/output.hpp"

#include <cstdio>
#include <filesystem>
#include <set>
#include <fstream>

#include "splitsim/common/error.hpp"

namespace splitsim {

void write_text_files(const std::vector<std::pair<std::string, std::string>>& files) {
    // A path named for two outputs would hold only the last of them: refused before anything is
    // written. Paths are compared as the files they name ("out.json" and "./out.json" are one).
    std::set<std::filesystem::path> named;
    for (const auto& [path, text] : files) {
        std::error_code error;
        std::filesystem::path file = std::filesystem::weakly_canonical(path, error);
        if (error) file = std::filesystem::absolute(path).lexically_normal();
        if (!named.insert(file).second) {
            throw InputError(path, "", "the path is repeated: two outputs cannot share one file; give each its own");
        }
    }
    std::vector<std::string> partials;  // created by this call
    auto fail = [&](const std::string& path) {
        for (const std::string& p : partials) std::remove(p.c_str());
        throw InputError(path, "", "cannot write file");
    };
    for (const auto& [path, text] : files) {
        const std::string partial = path + ".partial";
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        if (!out) fail(path);
        partials.push_back(partial);
        out << text;
        if (!out.flush()) fail(path);
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (std::rename(partials[i].c_str(), files[i].first.c_str()) != 0) {
            partials.erase(partials.begin(), partials.begin() + static_cast<std::ptrdiff_t>(i));
            fail(files[i].first);
        }
    }
}

void write_text_file(const std::string& path, const std::string& text) { write_text_files({{path, text}}); }

}  // namespace splitsim
