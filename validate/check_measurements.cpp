// check-measurements FILE [--min-kernels N] [--min-collectives N]
// Checks a measurements.json written by splitsim-harness bench: the schema calibration reads, every
// data check "passed", every number positive and the percentiles in order, busbw = algbw x the
// nccl-tests factor. Prints one line per problem and exits 1 if there is any, else prints a
// summary and exits 0. Used by the CI bench test and validate/gpu-check.sh.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/common/collective.hpp"

namespace {

using nlohmann::json;

int problems = 0;

void problem(const std::string& where, const std::string& what) {
    std::cout << where << ": " << what << "\n";
    ++problems;
}

bool has(const json& j, const std::string& where, const std::string& key, json::value_t type) {
    if (!j.is_object() || !j.contains(key)) {
        problem(where, "missing key \"" + key + "\"");
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
    if (!std::isfinite(v) || v < 0 || (!allow_zero && v == 0)) problem(where + "/" + key, "not positive: " + j.at(key).dump());
    return v;
}

void check_times(const json& e, const std::string& where) {
    if (!has(e, where, "time_s", json::value_t::object)) return;
    const json& t = e.at("time_s");
    const std::string w = where + "/time_s";
    const double mn = positive(t, w, "min"), p10 = positive(t, w, "p10"), med = positive(t, w, "median");
    const double p90 = positive(t, w, "p90"), mx = positive(t, w, "max");
    if (!(mn <= p10 && p10 <= med && med <= p90 && p90 <= mx)) problem(w, "not min <= p10 <= median <= p90 <= max");
}

void check_passed(const json& e, const std::string& where) {
    if (has(e, where, "check", json::value_t::string) && e.at("check") != "passed") {
        problem(where + "/check", e.at("check").dump() + (e.contains("check_detail") ? " " + e.at("check_detail").dump() : ""));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: check-measurements FILE [--min-kernels N] [--min-collectives N]\n";
        return 2;
    }
    std::size_t min_kernels = 1, min_collectives = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const auto value = static_cast<std::size_t>(std::strtoul(argv[i + 1], nullptr, 10));
        if (flag == "--min-kernels") min_kernels = value;
        else if (flag == "--min-collectives") min_collectives = value;
        else {
            std::cerr << "check-measurements: unknown option " << flag << "\n";
            return 2;
        }
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::cerr << argv[1] << ": cannot open file\n";
        return 2;
    }
    json doc;
    try {
        doc = json::parse(in);
    } catch (const json::parse_error& e) {
        std::cerr << argv[1] << ": malformed JSON: " << e.what() << "\n";
        return 1;
    }

    if (has(doc, "", "harness", json::value_t::object)) {
        const json& h = doc.at("harness");
        for (const char* key : {"version", "backend", "device", "hostname", "timestamp"}) has(h, "/harness", key, json::value_t::string);
        has(h, "/harness", "libraries", json::value_t::object);
        positive(h, "/harness", "ranks");
    }
    has(doc, "", "model", json::value_t::string);
    has(doc, "", "plan", json::value_t::object);

    const std::set<std::string> kinds = {"gemm", "attention_gemm", "fused_attention", "softmax", "dropout", "norm",
                                         "activation", "rotary", "embedding", "cross_entropy", "optimizer"};
    const std::set<std::string> passes = {"forward", "backward_input", "backward_weight", "backward", "step"};
    std::size_t kernel_count = 0, collective_count = 0;
    if (has(doc, "", "kernels", json::value_t::array)) {
        const json& ks = doc.at("kernels");
        kernel_count = ks.size();
        if (kernel_count < min_kernels) problem("/kernels", std::to_string(kernel_count) + " entries, expected at least " + std::to_string(min_kernels));
        for (std::size_t i = 0; i < ks.size(); ++i) {
            const json& e = ks[i];
            const std::string w = "/kernels/" + std::to_string(i);
            has(e, w, "op", json::value_t::string);
            if (has(e, w, "kind", json::value_t::string) && !kinds.contains(e.at("kind").get<std::string>())) problem(w + "/kind", "unknown kind");
            if (has(e, w, "pass", json::value_t::string) && !passes.contains(e.at("pass").get<std::string>())) problem(w + "/pass", "unknown pass");
            has(e, w, "dtype", json::value_t::string);
            if (has(e, w, "shape", json::value_t::object)) {
                const json& s = e.at("shape");
                positive(s, w + "/shape", "m");
                positive(s, w + "/shape", "n");
                positive(s, w + "/shape", "k", true);
                positive(s, w + "/shape", "batch");
            }
            positive(e, w, "elements", true);
            const double flops = positive(e, w, "flops", true);
            if (e.value("kind", "") == "gemm" && flops <= 0) problem(w + "/flops", "a GEMM has FLOPs");
            positive(e, w, "bytes");
            positive(e, w, "repetitions");
            check_passed(e, w);
            check_times(e, w);
        }
    }
    if (has(doc, "", "collectives", json::value_t::array)) {
        const json& cs = doc.at("collectives");
        collective_count = cs.size();
        if (collective_count < min_collectives) problem("/collectives", std::to_string(collective_count) + " entries, expected at least " + std::to_string(min_collectives));
        for (std::size_t i = 0; i < cs.size(); ++i) {
            const json& e = cs[i];
            const std::string w = "/collectives/" + std::to_string(i);
            std::optional<splitsim::CollectiveKind> kind;
            if (has(e, w, "op", json::value_t::string)) {
                for (splitsim::CollectiveKind k : splitsim::kAllCollectives) {
                    if (splitsim::to_string(k) == e.at("op").get<std::string>()) kind = k;
                }
                if (!kind) problem(w + "/op", "unknown collective");
            }
            const double ranks = positive(e, w, "ranks");
            if (ranks < 2) problem(w + "/ranks", "a collective needs two ranks");
            has(e, w, "group", json::value_t::string);
            has(e, w, "dtype", json::value_t::string);
            positive(e, w, "bytes");
            positive(e, w, "repetitions");
            check_passed(e, w);
            check_times(e, w);
            const double algbw = positive(e, w, "algbw_GBps");
            const double busbw = positive(e, w, "busbw_GBps");
            if (kind && algbw > 0) {
                const double factor = splitsim::bus_bandwidth_factor(*kind, static_cast<int>(ranks));
                if (std::fabs(busbw - algbw * factor) > 1e-9 * algbw) problem(w + "/busbw_GBps", "is not algbw x the nccl-tests factor");
            }
        }
    }
    if (problems > 0) {
        std::cout << argv[1] << ": " << problems << " problems\n";
        return 1;
    }
    std::cout << argv[1] << ": ok: " << kernel_count << " kernel and " << collective_count << " collective measurements, all checks passed\n";
    return 0;
}
