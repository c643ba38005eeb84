#include "splitsim/common/output.hpp"

#include <cstdio>
#include <fstream>

#include "splitsim/common/error.hpp"

namespace splitsim {

void write_text_files(const std::vector<std::pair<std::string, std::string>>& files) {
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
