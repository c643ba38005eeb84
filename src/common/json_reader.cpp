#include "splitsim/common/json_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace splitsim {

namespace detail {

std::string json_type_name(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null: return "null";
        case nlohmann::json::value_t::object: return "an object";
        case nlohmann::json::value_t::array: return "an array";
        case nlohmann::json::value_t::string: return "a string";
        case nlohmann::json::value_t::boolean: return "a boolean";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned: return "an integer";
        case nlohmann::json::value_t::number_float: return "a number";
        default: return "an unsupported value";
    }
}

std::string escape_pointer_token(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

namespace {
std::string expected(const char* what, const nlohmann::json& v) {
    return std::string("expected ") + what + ", got " + json_type_name(v);
}

template <class I>
std::string convert_integer(const nlohmann::json& v, I& out) {
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::floor(d) != d) return "expected an integer, got " + v.dump();
    } else if (!v.is_number_integer()) {
        return expected("an integer", v);
    }
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<I>::max())) {
        return "integer " + v.dump() + " is too large";
    }
    // The range of I is [-2^k, 2^k): both bounds are exact in a double, where max() may round up.
    const double d = v.get<double>();
    const double lowest = static_cast<double>(std::numeric_limits<I>::lowest());
    if (d < lowest || d >= -lowest) return "integer " + v.dump() + " is out of range";
    out = v.is_number_float() ? static_cast<I>(d) : v.get<I>();
    return {};
}

template <class Q>
std::string convert_quantity(const nlohmann::json& v, Q& out) {
    if (!v.is_string()) return expected("a string with a unit", v);
    try {
        out = QuantityParser<Q>::parse(v.get_ref<const std::string&>());
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return {};
}
}  // namespace

std::string convert_value(const nlohmann::json& v, bool& out) {
    if (!v.is_boolean()) return expected("true or false", v);
    out = v.get<bool>();
    return {};
}
std::string convert_value(const nlohmann::json& v, int& out) { return convert_integer(v, out); }
std::string convert_value(const nlohmann::json& v, std::int64_t& out) { return convert_integer(v, out); }
std::string convert_value(const nlohmann::json& v, double& out) {
    if (!v.is_number()) return expected("a number", v);
    out = v.get<double>();
    if (!std::isfinite(out)) return "expected a finite number";
    return {};
}
std::string convert_value(const nlohmann::json& v, std::string& out) {
    if (!v.is_string()) return expected("a string", v);
    out = v.get<std::string>();
    return {};
}
std::string convert_value(const nlohmann::json& v, Bytes& out) { return convert_quantity(v, out); }
std::string convert_value(const nlohmann::json& v, Bandwidth& out) { return convert_quantity(v, out); }
std::string convert_value(const nlohmann::json& v, FlopRate& out) { return convert_quantity(v, out); }
std::string convert_value(const nlohmann::json& v, Seconds& out) { return convert_quantity(v, out); }
std::string convert_value(const nlohmann::json& v, Flops& out) { return convert_quantity(v, out); }

}  // namespace detail

namespace {

// A first pass over the text that finds keys given twice in one object: the parser would keep the
// last silently, and a reader must not guess which one was meant. It stops at the first syntax
// error and leaves that to the parser, whose message says where it is.
class DuplicateKeyFinder : public nlohmann::json_sax<nlohmann::json> {
public:
    explicit DuplicateKeyFinder(const std::string& file) : file_(file) {}

    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override { return open(true); }
    bool key(string_t& key) override {
        Level& level = levels_.back();
        level.token = detail::escape_pointer_token(key);
        if (!level.keys.insert(key).second) throw InputError(file_, pointer(), "duplicate key");
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t) override { return open(false); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

private:
    struct Level {
        bool object = true;
        std::set<std::string, std::less<>> keys;  // objects: keys seen so far
        std::size_t next_index = 0;               // arrays: index of the next element
        std::string token;                        // the pointer token of the element being read
    };

    // A value, object or array begins inside the current level.
    void element() {
        if (levels_.empty() || levels_.back().object) return;
        Level& level = levels_.back();
        level.token = std::to_string(level.next_index++);
    }
    bool value() {
        element();
        return true;
    }
    bool open(bool object) {
        element();
        levels_.push_back(Level{object, {}, 0, {}});
        return true;
    }
    bool close() {
        levels_.pop_back();
        return true;
    }
    std::string pointer() const {
        std::string out;
        for (const Level& level : levels_) out += "/" + level.token;
        return out;
    }

    const std::string& file_;
    std::vector<Level> levels_;
};

// Levenshtein distance (insertions, deletions, substitutions), with a transposition of
// neighbours counted as one edit (optimal string alignment).
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

// The first letter of each word: "pipeline_parallel" -> "pp", "--global-batch" -> "gb".
std::string initials(std::string_view name) {
    std::string out;
    bool start = true;
    for (char c : name) {
        const bool separator = c == '_' || c == '-' || c == ' ';
        if (!separator && start) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        start = separator;
    }
    return out;
}

}  // namespace

std::string closest_name(std::string_view name, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    for (const std::string& k : known) {
        if (k == name) continue;
        if (initials(name) == k || initials(k) == name) return k;
        // Short names lie one edit from each other ("tp", "pp", "dp"): a near spelling counts for
        // names of five letters or more, within two edits (one for names under eight letters).
        const std::size_t shorter = std::min(name.size(), k.size());
        if (shorter < 5) continue;
        const std::size_t limit = shorter < 8 ? 1 : 2;
        const std::size_t d = edit_distance(name, k);
        if (d <= limit && d < best_distance) {
            best = k;
            best_distance = d;
        }
    }
    return best;
}

namespace {

struct KindInfo {
    FileKind kind;
    const char* what;   // "a model file"
    const char* where;  // where such a file belongs
};

constexpr KindInfo kKinds[] = {
    {FileKind::model, "a model file", "give it as --model"},
    {FileKind::cluster, "a cluster file", "give it as --cluster"},
    {FileKind::device, "a device file", "name it as a cluster's \"device\""},
    {FileKind::plan, "a plan file", "give it as --plan"},
    {FileKind::plan_list, "a list of plans", "give it to splitsim compare as --plans"},
    {FileKind::measurements, "measurements (splitsim-harness bench)", "give them to splitsim calibrate as --measurements"},
    {FileKind::execution, "an execution record (splitsim-harness execute)", "read it with check-execution"},
};

// What a document is, by keys that only that kind of file has.
std::optional<FileKind> recognise(const nlohmann::json& j) {
    if (j.is_array()) {
        const bool plans = !j.empty() && j.front().is_object() && j.front().contains("tp");
        return plans ? std::optional(FileKind::plan_list) : std::nullopt;
    }
    if (!j.is_object()) return std::nullopt;
    auto has = [&](const char* key) { return j.contains(key); };
    if (has("harness") && has("steps")) return FileKind::execution;
    if (has("harness") && (has("kernels") || has("collectives"))) return FileKind::measurements;
    if (has("plans")) return FileKind::plan_list;
    if (has("gpus_per_node")) return FileKind::cluster;
    if (has("layers") && has("hidden")) return FileKind::model;
    if (has("peak") && has("memory_bandwidth")) return FileKind::device;
    if (has("micro_batch") || (has("tp") && has("pp"))) return FileKind::plan;
    return std::nullopt;
}

}  // namespace

void expect_file_kind(const nlohmann::json& json, const std::string& file, FileKind expected) {
    const std::optional<FileKind> kind = recognise(json);
    if (!kind || *kind == expected) return;
    const KindInfo& is = kKinds[static_cast<std::size_t>(*kind)];
    const KindInfo& wanted = kKinds[static_cast<std::size_t>(expected)];
    throw InputError(file, "", std::string("this is ") + is.what + ", not " + wanted.what + "; " + is.where);
}

nlohmann::json parse_json_text(const std::string& text, const std::string& file) {
    try {
        DuplicateKeyFinder finder(file);
        nlohmann::json::sax_parse(text, &finder);
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        // A syntax error (parse_error) or a number beyond double's range (out_of_range.406, "1e400").
        // e.what() reads "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
        std::string what = e.what();
        const auto pos = what.find("] ");
        throw InputError(file, "", "malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
    }
}

nlohmann::json read_json_file(const std::string& path) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) throw InputError(path, "", "is a directory, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path, "", "cannot open file");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw InputError(path, "", "cannot read file");
    return parse_json_text(text.str(), path);
}

JsonObject::JsonObject(const nlohmann::json& value, std::string file, std::string pointer)
    : value_(&value), file_(std::move(file)), pointer_(std::move(pointer)) {
    if (!value.is_object()) {
        throw InputError(file_, pointer_.empty() ? "/" : pointer_, "expected an object, got " + detail::json_type_name(value));
    }
}

bool JsonObject::has(std::string_view key) const {
    asked_.emplace(key);
    return value_->contains(key);
}

void JsonObject::missing(std::string_view key) const {
    // Only keys the reader has not asked about yet can be unknown; of those, one whose initials
    // are the missing key, or (for keys long enough not to collide) a near spelling of it.
    for (const auto& [name, unused] : value_->items()) {
        if (asked_.contains(name) || read_.contains(name)) continue;
        const std::string guess = closest_name(name, {std::string(key)});
        if (!guess.empty() && (key.size() > 4 || guess.size() < name.size())) {
            fail(name, "unknown key; did you mean \"" + std::string(key) + "\"?");
        }
    }
    fail(key, "missing required key");
}

std::string JsonObject::pointer_to(std::string_view key) const {
    return pointer_ + "/" + detail::escape_pointer_token(key);
}

const nlohmann::json& JsonObject::lookup(std::string_view key) {
    read_.emplace(key);
    return value_->find(key).value();
}

const nlohmann::json& JsonObject::raw(std::string_view key) {
    if (!has(key)) missing(key);
    return lookup(key);
}

JsonObject JsonObject::object(std::string_view key) {
    if (!has(key)) missing(key);
    return JsonObject(lookup(key), file_, pointer_to(key));
}

std::optional<JsonObject> JsonObject::maybe_object(std::string_view key) {
    if (!has(key)) return std::nullopt;
    return JsonObject(lookup(key), file_, pointer_to(key));
}

JsonArray JsonObject::array(std::string_view key) {
    if (!has(key)) missing(key);
    return JsonArray(lookup(key), file_, pointer_to(key));
}

std::optional<JsonArray> JsonObject::maybe_array(std::string_view key) {
    if (!has(key)) return std::nullopt;
    return JsonArray(lookup(key), file_, pointer_to(key));
}

void JsonObject::finish() const {
    for (const auto& [key, unused] : value_->items()) {
        if (read_.contains(key)) continue;
        const std::string guess = closest_name(key, std::vector<std::string>(asked_.begin(), asked_.end()));
        fail(key, guess.empty() ? "unknown key" : "unknown key; did you mean \"" + guess + "\"?");
    }
}

void JsonObject::fail(std::string_view key, const std::string& detail) const {
    throw InputError(file_, pointer_to(key), detail);
}

void JsonObject::fail(const std::string& detail) const {
    throw InputError(file_, pointer_.empty() ? "/" : pointer_, detail);
}

JsonArray::JsonArray(const nlohmann::json& value, std::string file, std::string pointer)
    : value_(&value), file_(std::move(file)), pointer_(std::move(pointer)) {
    if (!value.is_array()) {
        throw InputError(file_, pointer_, "expected an array, got " + detail::json_type_name(value));
    }
}

std::string JsonArray::pointer_to(std::size_t index) const { return pointer_ + "/" + std::to_string(index); }

JsonObject JsonArray::object(std::size_t index) const {
    return JsonObject(value_->at(index), file_, pointer_to(index));
}

void JsonArray::fail(std::size_t index, const std::string& detail) const {
    throw InputError(file_, pointer_to(index), detail);
}

void JsonArray::fail(const std::string& detail) const { throw InputError(file_, pointer_, detail); }

}  // namespace splitsim
