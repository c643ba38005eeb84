// Checks a measurements.json written by splitsim-harness bench: the schema calibration reads, every
// data check "passed", every number positive and finite, the percentiles in order, busbw = algbw x
// the nccl-tests factor. Any JSON document may be given: whatever it holds becomes problems, never
// an exception. Used by validate/check_measurements.cpp (the check-measurements program).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace splitsim::validate {

struct MeasurementsCheck {
    std::vector<std::string> problems;  // "JSON pointer: what is wrong", in document order
    std::size_t kernels = 0;            // entries of /kernels
    std::size_t collectives = 0;        // entries of /collectives
};

MeasurementsCheck check_measurements(const nlohmann::json& doc, std::size_t min_kernels, std::size_t min_collectives);

}  // namespace splitsim::validate
