// The release of splitsim, as the Meson project() states it.
#pragma once

#include <string_view>

namespace splitsim {

[[nodiscard]] std::string_view version();

}  // namespace splitsim
