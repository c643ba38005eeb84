// Fuzzes the two readers of measurements.json: the checker (check-measurements), which turns any
// JSON into a list of problems, never an exception or a crash; and calibrate's loader and fit,
// which accept it or name the file and JSON path, and fit only finite, non-negative coefficients.
#include <cmath>

#include "splitsim/calibrate/calibrate.hpp"
#include "splitsim/validate/measurements_check.hpp"
#include "support.hpp"

using namespace splitsim;

namespace {

const hardware::ClusterSpec& cluster() {
    static const hardware::ClusterSpec c = hardware::load_cluster(SPLITSIM_SOURCE_ROOT "/topologies/localhost-cpu.json");
    return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz::run_json(data, size, "measurements.json", [](const nlohmann::json& json) {
        const validate::MeasurementsCheck check = validate::check_measurements(json, 1, 1);
        for (const std::string& p : check.problems) FUZZ_CHECK(!p.empty() && p.front() == '/');
        const calibrate::Calibration c = calibrate::calibrate(calibrate::parse_measurements(json, "measurements.json"), cluster());
        for (const auto& r : c.residuals) FUZZ_CHECK(std::isfinite(r.after.value()) && r.after.value() >= 0);
    });
}
