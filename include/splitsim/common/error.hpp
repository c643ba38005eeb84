// The three tiers of errors (after libcamera's policy):
//  1. bad states are made unconstructible by the types;
//  2. bad user input throws InputError, caught once at the command line (exit code 2, one line);
//  3. broken invariants are assert()s.
// Library code never calls exit().
#pragma once

#include <stdexcept>
#include <string>

namespace splitsim {

// Bad user input. The message reads "file: /json/pointer: what is wrong", e.g.
// "plan.json: /tp: 7 does not divide heads (96)".
class InputError : public std::runtime_error {
public:
    InputError(std::string file, std::string pointer, const std::string& detail)
        : std::runtime_error(compose(file, pointer, detail)),
          file_(std::move(file)),
          pointer_(std::move(pointer)),
          detail_(detail) {}

    [[nodiscard]] const std::string& file() const { return file_; }
    [[nodiscard]] const std::string& pointer() const { return pointer_; }
    [[nodiscard]] const std::string& detail() const { return detail_; }

private:
    static std::string compose(const std::string& file, const std::string& pointer, const std::string& detail) {
        std::string out = file.empty() ? std::string("input") : file;
        out += ": ";
        if (!pointer.empty()) out += pointer + ": ";
        out += detail;
        return out;
    }

    std::string file_;
    std::string pointer_;
    std::string detail_;
};

}  // namespace splitsim
