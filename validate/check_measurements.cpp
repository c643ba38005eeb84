// check-measurements FILE [--min-kernels N] [--min-collectives N]
// Checks a measurements.json written by splitsim-harness bench (validate/measurements_check.cpp).
// Prints one line per problem and exits 1 if there is any, else prints a summary and exits 0; exit
// code 2 for a file that cannot be read or is not JSON (splitsim::read_json_file), or bad options. Used by the CI bench test and
// validate/gpu-check.sh.
#include <charconv>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/common/json_reader.hpp"
#include "splitsim/validate/measurements_check.hpp"

namespace {

bool parse_count(const std::string& text, std::size_t& out) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end && !text.empty();
}

}  // namespace

int main(int argc, char** argv) {
    const char* usage = "usage: check-measurements FILE [--min-kernels N] [--min-collectives N]\n";
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
            std::cout << usage;
            return 0;
        }
    }
    if (argc < 2 || argc % 2 != 0 || argv[1][0] == '-') {
        std::cerr << usage;
        return 2;
    }
    std::size_t min_kernels = 1, min_collectives = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        std::size_t value = 0;
        if (!parse_count(argv[i + 1], value)) {
            std::cerr << "check-measurements: " << flag << ": \"" << argv[i + 1] << "\" is not a count\n";
            return 2;
        }
        if (flag == "--min-kernels") min_kernels = value;
        else if (flag == "--min-collectives") min_collectives = value;
        else {
            std::cerr << "check-measurements: unknown option " << flag << "\n";
            return 2;
        }
    }
    nlohmann::json doc;
    try {
        doc = splitsim::read_json_file(argv[1]);
    } catch (const splitsim::InputError& e) {
        std::cerr << e.what() << "\n";
        return 2;
    }
    const splitsim::validate::MeasurementsCheck check = splitsim::validate::check_measurements(doc, min_kernels, min_collectives);
    for (const std::string& p : check.problems) std::cout << p << "\n";
    if (!check.problems.empty()) {
        std::cout << argv[1] << ": " << check.problems.size() << " problems\n";
        return 1;
    }
    std::cout << argv[1] << ": ok: " << check.kernels << " kernel and " << check.collectives
              << " collective measurements, all checks passed\n";
    return 0;
}
