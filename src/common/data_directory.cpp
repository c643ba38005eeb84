#include "splitsim/common/data_directory.hpp"

#include <system_error>

namespace splitsim {

std::vector<std::filesystem::path> data_directory_candidates() {
    std::vector<std::filesystem::path> out;
    std::error_code error;
    // Linux names the running executable in /proc/self/exe.
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error && !exe.empty()) {
        const std::filesystem::path prefix = exe.parent_path().parent_path();
        out.push_back(prefix / "share" / "splitsim");
        out.push_back(prefix);
    }
    // SPLITSIM_INSTALL_DATA_DIR: <prefix>/<datadir>/splitsim of the build (src/common/meson.build).
    out.emplace_back(SPLITSIM_INSTALL_DATA_DIR);
    return out;
}

std::optional<std::filesystem::path> find_data_directory(std::string_view entry) {
    for (const std::filesystem::path& dir : data_directory_candidates()) {
        std::error_code error;
        if (std::filesystem::exists(dir / entry, error)) return dir;
    }
    return std::nullopt;
}

std::string resolve_input_file(const std::string& path) {
    const std::filesystem::path p(path);
    std::error_code error;
    if (path.empty() || p.is_absolute() || std::filesystem::exists(p, error)) return path;
    if (const std::optional<std::filesystem::path> dir = find_data_directory(path)) return (*dir / p).string();
    return path;
}

}  // namespace splitsim
