// Reading JSON input files into plain structs. The schema lives next to each reader: a reader asks
// for every key it knows, and finish() rejects any key it did not ask for. Every error names the file
// and the JSON pointer of the offending value. No JSON object travels past the reader.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/common/units.hpp"

namespace splitsim {

// Parses a whole file; malformed JSON becomes an InputError naming the file, line and column.
nlohmann::json read_json_file(const std::string& path);
nlohmann::json parse_json_text(const std::string& text, const std::string& file);

// The kinds of file splitsim reads, each recognised by keys only that kind has.
enum class FileKind { model, cluster, device, plan, plan_list, measurements, execution };
// Throws InputError when `json` is recognisably another kind of file than `expected` (a model
// given as --cluster, a list of plans given as --plan), naming what it is and where it belongs,
// so that a file in the wrong place is not reported as a missing key.
void expect_file_kind(const nlohmann::json& json, const std::string& file, FileKind expected);

// The name among `known` that `name` most likely misspells or abbreviates ("tpp" for "tp",
// "pipeline_parallel" for "pp", "--modle" for "--model"), or "" when none is close.
std::string closest_name(std::string_view name, const std::vector<std::string>& known);

// Inclusive bounds for a number read from JSON.
template <class T>
struct Range {
    T min = std::numeric_limits<T>::lowest();
    T max = std::numeric_limits<T>::max();
};
template <class T>
constexpr Range<T> at_least(T min) { return Range<T>{min, std::numeric_limits<T>::max()}; }
template <class T>
constexpr Range<T> between(T min, T max) { return Range<T>{min, max}; }

template <class E>
using Choices = std::initializer_list<std::pair<std::string_view, E>>;
template <class E>
using ChoiceSpan = std::span<const std::pair<std::string_view, E>>;

class JsonArray;

// One JSON object being read. Copies share nothing; each tracks the keys it handed out.
class JsonObject {
public:
    // Throws InputError unless `value` is an object.
    JsonObject(const nlohmann::json& value, std::string file, std::string pointer = "");

    [[nodiscard]] bool has(std::string_view key) const;
    [[nodiscard]] const std::string& file() const { return file_; }
    [[nodiscard]] const std::string& pointer() const { return pointer_; }
    [[nodiscard]] std::string pointer_to(std::string_view key) const;

    // Supported T: bool, int, std::int64_t, double, std::string, Bytes, Bandwidth, FlopRate, Seconds,
    // Flops. Quantities are read from strings with units ("80 GiB").
    template <class T>
    T required(std::string_view key);
    template <class T>
    T optional(std::string_view key, T fallback);
    template <class T>
    std::optional<T> maybe(std::string_view key);

    // Numbers with bounds; the message names the bound.
    template <class T>
    T required(std::string_view key, Range<T> range);
    template <class T>
    T optional(std::string_view key, T fallback, Range<T> range);

    // A string from a fixed set of names, mapped to an enum.
    template <class E>
    E choice(std::string_view key, ChoiceSpan<E> choices);
    template <class E>
    E choice(std::string_view key, ChoiceSpan<E> choices, E fallback);
    template <class E>
    E choice(std::string_view key, Choices<E> choices) {
        return choice(key, ChoiceSpan<E>(choices.begin(), choices.size()));
    }
    template <class E>
    E choice(std::string_view key, Choices<E> choices, E fallback) {
        return choice(key, ChoiceSpan<E>(choices.begin(), choices.size()), fallback);
    }

    JsonObject object(std::string_view key);
    std::optional<JsonObject> maybe_object(std::string_view key);
    JsonArray array(std::string_view key);
    std::optional<JsonArray> maybe_array(std::string_view key);
    // The raw value, for fields that may take more than one type (a name or an inline object).
    const nlohmann::json& raw(std::string_view key);
    // Every key and value, for objects whose keys are names chosen by the file (maps).
    [[nodiscard]] const nlohmann::json& raw_items() const { return *value_; }

    // Rejects every key that was not read, naming the key it most likely misspells. Call once all
    // keys are read.
    void finish() const;

    [[noreturn]] void fail(std::string_view key, const std::string& detail) const;
    [[noreturn]] void fail(const std::string& detail) const;

private:
    const nlohmann::json& lookup(std::string_view key);
    // A required key is absent: an unknown key that abbreviates or misspells it is named first
    // ("/pipeline_parallel: unknown key; did you mean \"pp\"?"), else the key is missing.
    [[noreturn]] void missing(std::string_view key) const;
    template <class T>
    T convert(const nlohmann::json& value, std::string_view key) const;
    template <class T>
    T bounded(T value, std::string_view key, Range<T> range) const;

    const nlohmann::json* value_;
    std::string file_;
    std::string pointer_;
    std::set<std::string, std::less<>> read_;
    mutable std::set<std::string, std::less<>> asked_;  // every key the reader asked about
};

// One JSON array being read; elements are addressed by index in error paths.
class JsonArray {
public:
    JsonArray(const nlohmann::json& value, std::string file, std::string pointer);

    [[nodiscard]] std::size_t size() const { return value_->size(); }
    [[nodiscard]] std::string pointer_to(std::size_t index) const;
    JsonObject object(std::size_t index) const;
    const nlohmann::json& raw(std::size_t index) const { return value_->at(index); }
    template <class T>
    T get(std::size_t index) const;
    [[noreturn]] void fail(std::size_t index, const std::string& detail) const;
    [[noreturn]] void fail(const std::string& detail) const;
    [[nodiscard]] const std::string& file() const { return file_; }

private:
    const nlohmann::json* value_;
    std::string file_;
    std::string pointer_;
};

// ---- implementation of the templates -------------------------------------------------------------

namespace detail {
std::string json_type_name(const nlohmann::json& value);
std::string escape_pointer_token(std::string_view key);

template <class T>
struct QuantityParser;
template <>
struct QuantityParser<Bytes> { static Bytes parse(std::string_view s) { return parse_bytes(s); } };
template <>
struct QuantityParser<Bandwidth> { static Bandwidth parse(std::string_view s) { return parse_bandwidth(s); } };
template <>
struct QuantityParser<FlopRate> { static FlopRate parse(std::string_view s) { return parse_flop_rate(s); } };
template <>
struct QuantityParser<Seconds> { static Seconds parse(std::string_view s) { return parse_seconds(s); } };
template <>
struct QuantityParser<Flops> { static Flops parse(std::string_view s) { return parse_flops(s); } };

// Convert a JSON value, returning an error text on mismatch (empty on success).
std::string convert_value(const nlohmann::json& v, bool& out);
std::string convert_value(const nlohmann::json& v, int& out);
std::string convert_value(const nlohmann::json& v, std::int64_t& out);
std::string convert_value(const nlohmann::json& v, double& out);
std::string convert_value(const nlohmann::json& v, std::string& out);
std::string convert_value(const nlohmann::json& v, Bytes& out);
std::string convert_value(const nlohmann::json& v, Bandwidth& out);
std::string convert_value(const nlohmann::json& v, FlopRate& out);
std::string convert_value(const nlohmann::json& v, Seconds& out);
std::string convert_value(const nlohmann::json& v, Flops& out);
}  // namespace detail

template <class T>
T JsonObject::convert(const nlohmann::json& value, std::string_view key) const {
    T out{};
    if (std::string err = detail::convert_value(value, out); !err.empty()) fail(key, err);
    return out;
}

template <class T>
T JsonObject::bounded(T value, std::string_view key, Range<T> range) const {
    if (value < range.min || value > range.max) {
        std::string detail = "value " + nlohmann::json(value).dump();
        if (range.max == std::numeric_limits<T>::max()) {
            detail += " must be at least " + nlohmann::json(range.min).dump();
        } else {
            detail += " must be between " + nlohmann::json(range.min).dump() + " and " +
                      nlohmann::json(range.max).dump();
        }
        fail(key, detail);
    }
    return value;
}

template <class T>
T JsonObject::required(std::string_view key) {
    if (!has(key)) missing(key);
    return convert<T>(lookup(key), key);
}

template <class T>
T JsonObject::optional(std::string_view key, T fallback) {
    if (!has(key)) return fallback;
    return convert<T>(lookup(key), key);
}

template <class T>
std::optional<T> JsonObject::maybe(std::string_view key) {
    if (!has(key)) return std::nullopt;
    return convert<T>(lookup(key), key);
}

template <class T>
T JsonObject::required(std::string_view key, Range<T> range) {
    return bounded(required<T>(key), key, range);
}

template <class T>
T JsonObject::optional(std::string_view key, T fallback, Range<T> range) {
    if (!has(key)) return fallback;
    return bounded(convert<T>(lookup(key), key), key, range);
}

template <class E>
E JsonObject::choice(std::string_view key, ChoiceSpan<E> choices) {
    if (!has(key)) missing(key);
    const auto name = convert<std::string>(lookup(key), key);
    std::string names;
    for (const auto& [n, e] : choices) {
        if (n == name) return e;
        names += (names.empty() ? "" : " | ") + std::string(n);
    }
    fail(key, "\"" + name + "\" is not one of " + names);
}

template <class E>
E JsonObject::choice(std::string_view key, ChoiceSpan<E> choices, E fallback) {
    if (!has(key)) return fallback;
    return choice(key, choices);
}

template <class T>
T JsonArray::get(std::size_t index) const {
    T out{};
    if (std::string err = detail::convert_value(value_->at(index), out); !err.empty()) fail(index, err);
    return out;
}

}  // namespace splitsim
