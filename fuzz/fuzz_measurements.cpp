// Fuzzes the checker of measurements.json (check-measurements): any JSON becomes a list of
// problems, never an exception or a crash.
#include "splitsim/validate/measurements_check.hpp"
#include "support.hpp"

using namespace splitsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz::run_json(data, size, "measurements.json", [](const nlohmann::json& json) {
        const validate::MeasurementsCheck check = validate::check_measurements(json, 1, 1);
        for (const std::string& p : check.problems) FUZZ_CHECK(!p.empty() && p.front() == '/');
    });
}
