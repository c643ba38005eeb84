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
// "plan.json: /tp: 7 does not divide heads (96)". It is always one line: control characters that
// came from the input (a key or value with a newline) are written as escapes (\n, \u001b).
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
        std::string out = one_line(file.empty() ? std::string("input") : file);
        out += ": ";
        if (!pointer.empty()) out += one_line(pointer) + ": ";
        out += one_line(detail);
        return out;
    }

    static std::string one_line(const std::string& text) {
        std::string out;
        out.reserve(text.size());
        for (const char c : text) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '\n') {
                out += "\\n";
            } else if (c == '\r') {
                out += "\\r";
            } else if (c == '\t') {
                out += "\\t";
            } else if (u < 0x20 || u == 0x7f) {
                static constexpr char kHex[] = "0123456789abcdef";
                out += "\\u00";
                out += kHex[u >> 4];
                out += kHex[u & 0xf];
            } else {
                out += c;
            }
        }
        return out;
    }

    std::string file_;
    std::string pointer_;
    std::string detail_;
};

}  // namespace splitsim
