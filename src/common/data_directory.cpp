#include "splitsim/common/data_directory.hpp"

#include <system_error>

namespace splitsim {

std::vector<std::filesystem::path> data_directory_candidates() {
    std::error_code error;
    // Linux names the running executable in /proc/self/exe.
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error || exe.empty()) return {};
    const std::filesystem::path prefix = exe.parent_path().parent_path();
    return {prefix / "share" / "splitsim", prefix};
}

std::optional<std::filesystem::path> find_data_directory(std::string_view entry) {
    for (const std::filesystem::path& dir : data_directory_candidates()) {
        std::error_code error;
        if (std::filesystem::exists(dir / entry, error)) return dir;
    }
    return std::nullopt;
}

}  // namespace splitsim
