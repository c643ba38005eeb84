// Shared by the libFuzzer targets: every input is JSON text read as a file of the given name. The
// product's contract for bad input is an InputError that names that file in one line; anything
// else (another exception, a sanitizer report, a broken invariant below) is a finding.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/common/json_reader.hpp"

// An invariant of the product that must hold for every input it accepts; abort() makes it a finding.
#define FUZZ_CHECK(condition)                                                                       \
    do {                                                                                            \
        if (!(condition)) {                                                                         \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                           \
        }                                                                                           \
    } while (false)

namespace splitsim::fuzz {

// Bad input must fail with a one-line message that names a file.
inline void check_input_error(const InputError& e) {
    const std::string what = e.what();
    FUZZ_CHECK(what.find('\n') == std::string::npos);
    FUZZ_CHECK(!e.file().empty());
    FUZZ_CHECK(what.rfind(e.file(), 0) == 0);
}

// Parses the input as the JSON file `file` and hands it to `body`; an InputError is the expected
// outcome for bad input.
template <class Body>
int run_json(const std::uint8_t* data, std::size_t size, const std::string& file, Body body) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const nlohmann::json json = parse_json_text(text, file);
        body(json);
    } catch (const InputError& e) {
        check_input_error(e);
    }
    return 0;
}

}  // namespace splitsim::fuzz
