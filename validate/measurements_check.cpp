#include "splitsim/validate/measurements_check.hpp"

#include <cmath>
#include <optional>
#include <set>

#include "splitsim/common/collective.hpp"

namespace splitsim::validate {
namespace {

using nlohmann::json;

// Largest rank count a collective entry may state (the harness runs far fewer).
constexpr double kMaxRanks = 1 << 24;

class Checker {
public:
    std::vector<std::string> problems;

    void problem(const std::string& where, const std::string& what) { problems.push_back(where + ": " + what); }

    bool has(const json& j, const std::string& where, const std::string& key, json::value_t type) {
        if (!j.is_object() || !j.contains(key)) {
            problem(where.empty() ? "/" : where, "missing key \"" + key + "\"");
            return false;
        }
        const json& v = j.at(key);
        const bool number = type == json::value_t::number_float;
        if (number ? !v.is_number() : v.type() != type) {
            problem(where + "/" + key, "wrong type");
            return false;
        }
        return true;
    }

    double positive(const json& j, const std::string& where, const std::string& key, bool allow_zero = false) {
        if (!has(j, where, key, json::value_t::number_float)) return 0;
        const double v = j.at(key).get<double>();
        if (!std::isfinite(v) || v < 0 || (!allow_zero && v == 0)) {
            problem(where + "/" + key, "not positive: " + j.at(key).dump());
            return 0;
        }
        return v;
    }

    void check_times(const json& e, const std::string& where, const std::string& key = "time_s") {
        if (!has(e, where, key, json::value_t::object)) return;
        const json& t = e.at(key);
        const std::string w = where + "/" + key;
        const double mn = positive(t, w, "min"), p10 = positive(t, w, "p10"), med = positive(t, w, "median");
        const double p90 = positive(t, w, "p90"), mx = positive(t, w, "max");
        if (!(mn <= p10 && p10 <= med && med <= p90 && p90 <= mx)) problem(w, "not min <= p10 <= median <= p90 <= max");
    }

    void check_passed(const json& e, const std::string& where) {
        if (!has(e, where, "check", json::value_t::string) || e.at("check") == "passed") return;
        std::string detail = e.at("check").dump();
        if (e.contains("check_detail")) detail += " " + e.at("check_detail").dump();
        problem(where + "/check", detail);
    }

    // The string at `key`, or nullopt (with a problem) when it is missing or not a string.
    std::optional<std::string> string(const json& e, const std::string& where, const std::string& key) {
        if (!has(e, where, key, json::value_t::string)) return std::nullopt;
        return e.at(key).get<std::string>();
    }
};

}  // namespace

MeasurementsCheck check_measurements(const json& doc, std::size_t min_kernels, std::size_t min_collectives) {
    Checker c;
    MeasurementsCheck out;
    if (!doc.is_object()) {
        c.problem("/", "expected an object");
        out.problems = std::move(c.problems);
        return out;
    }
    if (c.has(doc, "", "harness", json::value_t::object)) {
        const json& h = doc.at("harness");
        for (const char* key : {"version", "backend", "device", "hostname", "timestamp"}) c.has(h, "/harness", key, json::value_t::string);
        c.has(h, "/harness", "libraries", json::value_t::object);
        c.positive(h, "/harness", "ranks");
    }
    c.has(doc, "", "model", json::value_t::string);
    c.has(doc, "", "plan", json::value_t::object);

    const std::set<std::string> kinds = {"gemm", "attention_gemm", "fused_attention", "softmax", "dropout", "norm",
                                         "activation", "rotary", "embedding", "cross_entropy", "optimizer"};
    const std::set<std::string> passes = {"forward", "backward_input", "backward_weight", "backward", "step"};
    const std::set<std::string> methods = {"cuda-graph", "cuda-events", "steady-clock"};
    if (c.has(doc, "", "kernels", json::value_t::array)) {
        const json& ks = doc.at("kernels");
        out.kernels = ks.size();
        if (out.kernels < min_kernels) {
            c.problem("/kernels", std::to_string(out.kernels) + " entries, expected at least " + std::to_string(min_kernels));
        }
        for (std::size_t i = 0; i < ks.size(); ++i) {
            const json& e = ks[i];
            const std::string w = "/kernels/" + std::to_string(i);
            c.has(e, w, "op", json::value_t::string);
            const std::optional<std::string> kind = c.string(e, w, "kind");
            if (kind && !kinds.contains(*kind)) c.problem(w + "/kind", "unknown kind");
            const std::optional<std::string> pass = c.string(e, w, "pass");
            if (pass && !passes.contains(*pass)) c.problem(w + "/pass", "unknown pass");
            c.has(e, w, "dtype", json::value_t::string);
            if (c.has(e, w, "shape", json::value_t::object)) {
                const json& s = e.at("shape");
                c.positive(s, w + "/shape", "m");
                c.positive(s, w + "/shape", "n");
                c.positive(s, w + "/shape", "k", true);
                c.positive(s, w + "/shape", "batch");
            }
            c.positive(e, w, "elements", true);
            const double flops = c.positive(e, w, "flops", true);
            if (kind == "gemm" && flops <= 0) c.problem(w + "/flops", "a GEMM has FLOPs");
            c.positive(e, w, "bytes");
            c.positive(e, w, "repetitions");
            if (c.has(e, w, "timing", json::value_t::object)) {
                const json& t = e.at("timing");
                const std::optional<std::string> method = c.string(t, w + "/timing", "method");
                if (method && !methods.contains(*method)) c.problem(w + "/timing/method", "unknown method");
                c.positive(t, w + "/timing", "runs_per_repetition");
            }
            c.check_passed(e, w);
            c.check_times(e, w);                  // sustained: every processor busy
            c.check_times(e, w, "burst_time_s");  // alone
        }
    }
    if (c.has(doc, "", "collectives", json::value_t::array)) {
        const json& cs = doc.at("collectives");
        out.collectives = cs.size();
        if (out.collectives < min_collectives) {
            c.problem("/collectives",
                      std::to_string(out.collectives) + " entries, expected at least " + std::to_string(min_collectives));
        }
        for (std::size_t i = 0; i < cs.size(); ++i) {
            const json& e = cs[i];
            const std::string w = "/collectives/" + std::to_string(i);
            std::optional<CollectiveKind> kind;
            if (const std::optional<std::string> op = c.string(e, w, "op")) {
                for (CollectiveKind k : kAllCollectives) {
                    if (to_string(k) == *op) kind = k;
                }
                if (!kind) c.problem(w + "/op", "unknown collective");
            }
            const double ranks = c.positive(e, w, "ranks");
            const bool whole_ranks = ranks >= 2 && ranks <= kMaxRanks && std::floor(ranks) == ranks;
            if (!whole_ranks) c.problem(w + "/ranks", "a collective needs a whole number of ranks, at least two");
            c.has(e, w, "group", json::value_t::string);
            c.has(e, w, "dtype", json::value_t::string);
            c.positive(e, w, "bytes");
            c.positive(e, w, "repetitions");
            c.check_passed(e, w);
            c.check_times(e, w);
            const double algbw = c.positive(e, w, "algbw_GBps");
            const double busbw = c.positive(e, w, "busbw_GBps");
            if (kind && whole_ranks && algbw > 0) {
                const double factor = bus_bandwidth_factor(*kind, static_cast<int>(ranks));
                if (std::fabs(busbw - algbw * factor) > 1e-9 * algbw) c.problem(w + "/busbw_GBps", "is not algbw x the nccl-tests factor");
            }
        }
    }
    out.problems = std::move(c.problems);
    return out;
}

}  // namespace splitsim::validate
