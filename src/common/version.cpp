#include "splitsim/common/version.hpp"

namespace splitsim {

// SPLITSIM_VERSION is meson.project_version(), passed by src/common/meson.build.
std::string_view version() { return SPLITSIM_VERSION; }

}  // namespace splitsim
