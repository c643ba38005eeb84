#include "splitsim/common/output.hpp"

#include <cstdio>
#include <fstream>

#include "splitsim/common/error.hpp"

namespace splitsim {

void write_text_file(const std::string& path, const std::string& text) {
    const std::string partial = path + ".partial";
    bool opened = false;
    bool written = false;
    {
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        opened = static_cast<bool>(out);
        if (opened) {
            out << text;
            written = static_cast<bool>(out.flush());
        }
    }
    if (!written || std::rename(partial.c_str(), path.c_str()) != 0) {
        if (opened) std::remove(partial.c_str());  // only what this call created
        throw InputError(path, "", "cannot write file");
    }
}

}  // namespace splitsim
