// Fuzzes the device reader (topologies/devices/*.json): datasheet figures with units and the
// kernel model.
#include <cmath>

#include "splitsim/hardware/device.hpp"
#include "support.hpp"

using namespace splitsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz::run_json(data, size, "device.json", [](const nlohmann::json& json) {
        const hardware::DeviceSpec d = hardware::parse_device(json, "device.json");
        FUZZ_CHECK(std::isfinite(d.memory.value()) && d.memory.value() > 0);
        FUZZ_CHECK(std::isfinite(d.memory_bandwidth.value()) && d.memory_bandwidth.value() > 0);
        bool any = false;
        for (const auto& peak : d.peak) {
            if (!peak) continue;
            any = true;
            FUZZ_CHECK(std::isfinite(peak->value()) && peak->value() > 0);
        }
        FUZZ_CHECK(any);
        if (d.interconnect) {
            FUZZ_CHECK(std::isfinite(d.interconnect->bandwidth().value()) && d.interconnect->bandwidth().value() > 0);
        }
        FUZZ_CHECK(!d.kernels.gemm_tiles.empty());
        for (const auto& tile : d.kernels.gemm_tiles) FUZZ_CHECK(tile.m >= 1 && tile.n >= 1);
        FUZZ_CHECK(d.kernels.l2_bandwidth.value() >= 0 && d.kernels.gemm_tile_overhead.value() >= 0);
        FUZZ_CHECK(std::isfinite(d.kernels.launch_overhead.value()) && d.kernels.launch_overhead.value() >= 0);
        FUZZ_CHECK(std::isfinite(d.kernels.gemm_workspace.value()) && d.kernels.gemm_workspace.value() >= 0);
    });
}
