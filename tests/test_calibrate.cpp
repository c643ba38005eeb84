// Calibration: the fit itself, then the whole loop on this machine: the CPU harness bench under
// mpirun (gpt-tiny, tp 2 x dp 2), splitsim calibrate on its measurements, and the calibrated
// profile's predictions against what was measured.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <utility>
#include <vector>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "splitsim/calibrate/calibrate.hpp"

using namespace splitsim;

TEST_CASE("relative least squares recovers exact coefficients and keeps them non-negative") {
    // t = 3 us + x / 0.5: launch 3e-6, slope 2.
    std::vector<double> x{1e-6, 2e-6, 5e-6, 1e-5, 4e-5}, t;
    for (double v : x) t.push_back(3e-6 + 2 * v);
    auto c = calibrate::fit_relative({x}, t);
    CHECK(c[0] == doctest::Approx(3e-6).epsilon(1e-9));
    CHECK(c[1] == doctest::Approx(2.0).epsilon(1e-9));
    // Two terms: t = 1 us + 4 x1 + 0.5 x2.
    std::vector<double> x1{1e-6, 3e-6, 2e-6, 8e-6, 1e-6}, x2{4e-6, 1e-6, 9e-6, 2e-6, 20e-6};
    t.clear();
    for (std::size_t i = 0; i < x1.size(); ++i) t.push_back(1e-6 + 4 * x1[i] + 0.5 * x2[i]);
    c = calibrate::fit_relative({x1, x2}, t);
    CHECK(c[0] == doctest::Approx(1e-6).epsilon(1e-9));
    CHECK(c[1] == doctest::Approx(4.0).epsilon(1e-9));
    CHECK(c[2] == doctest::Approx(0.5).epsilon(1e-9));
    // Data a negative intercept would fit best: the intercept is held at zero.
    c = calibrate::fit_relative({{1.0, 2.0, 3.0}}, {0.5, 1.6, 2.7});
    CHECK(c[0] >= 0);
    CHECK(c[1] > 0);
}

TEST_CASE("piecewise alpha-beta: one line stays one piece, a protocol switch is found") {
    std::vector<double> bytes, t;
    for (double b = 1024; b <= 1 << 20; b *= 2) bytes.push_back(b);
    // One protocol: 5 us + bytes / 4 GB/s.
    for (double b : bytes) t.push_back(5e-6 + b / 4e9);
    auto pieces = calibrate::fit_pieces(bytes, t);
    REQUIRE(pieces.size() == 1);
    CHECK(pieces[0].latency == doctest::Approx(5e-6).epsilon(1e-6));
    CHECK(pieces[0].seconds_per_byte == doctest::Approx(1 / 4e9).epsilon(1e-6));
    // Eager sends up to 4 KiB (2 us + bytes / 1 GB/s), rendezvous above (12 us + bytes / 4 GB/s),
    // with 1% alternating noise.
    t.clear();
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const double b = bytes[i];
        t.push_back((b <= 4096 ? 2e-6 + b / 1e9 : 12e-6 + b / 4e9) * (i % 2 ? 1.01 : 0.99));
    }
    pieces = calibrate::fit_pieces(bytes, t);
    REQUIRE(pieces.size() == 2);
    CHECK(pieces[0].min_bytes == 0);
    CHECK(pieces[1].min_bytes == 8192);
    CHECK(pieces[1].latency == doctest::Approx(12e-6).epsilon(0.05));
    CHECK(1 / pieces[1].seconds_per_byte == doctest::Approx(4e9).epsilon(0.05));
}

TEST_CASE("bench, calibrate, predict: kernels within 15% and collectives within 20% (medians)") {
    const std::string mpirun = test::executable("MPIRUN"), harness = test::executable("HARNESS"),
                      splitsim = test::executable("SPLITSIM"), root = SPLITSIM_SOURCE_ROOT;
    REQUIRE(!mpirun.empty());
    test::TempDir dir;
    const std::string measurements = dir.path("measurements.json"), calibrated = dir.path("calibrated.json");
    const auto bench = test::run_command(mpirun + " -np 4 --oversubscribe --timeout 100 " + harness + " bench --model " + root +
                                         "/models/gpt-tiny.json --plan " + root + "/plans/tiny-tp2-dp2.json --backend cpu --out " +
                                         measurements + " --repetitions 20 --warmup 5 --max-bytes \"1 MiB\"");
    REQUIRE_MESSAGE(bench.exit_code == 0, bench.output);

    const auto table = test::run_command(splitsim + " calibrate --measurements " + measurements + " --cluster " + root +
                                         "/topologies/localhost-cpu.json --out " + calibrated);
    REQUIRE_MESSAGE(table.exit_code == 0, table.output);
    std::cout << "splitsim calibrate on this machine:\n" << table.output << std::flush;

    const auto json = test::run_command(splitsim + " calibrate --measurements " + measurements + " --cluster " + root +
                                        "/topologies/localhost-cpu.json --out " + calibrated + " --format json");
    REQUIRE(json.exit_code == 0);
    const auto r = nlohmann::json::parse(json.output);
    CHECK(r["kernel_median_error_after"].get<double>() <= 0.15);
    CHECK(r["collective_median_error_after"].get<double>() <= 0.20);
    CHECK(r["residuals"].size() > 200);

    // The written profile, as simulate reads it, predicts what the fit claimed: costed against the
    // same measurements its "before" errors are the fit's "after" errors.
    const auto again = test::run_command(splitsim + " calibrate --measurements " + measurements + " --cluster " + calibrated +
                                         " --out " + dir.path("again.json") + " --format json");
    REQUIRE_MESSAGE(again.exit_code == 0, again.output);
    const auto a = nlohmann::json::parse(again.output);
    CHECK(a["kernel_median_error_before"].get<double>() == doctest::Approx(r["kernel_median_error_after"].get<double>()).epsilon(1e-9));
    CHECK(a["collective_median_error_before"].get<double>() ==
          doctest::Approx(r["collective_median_error_after"].get<double>()).epsilon(1e-9));

    // simulate accepts the calibrated profile (the machine's 2 cores), and uses its fitted collectives.
    const auto sim = test::run_command(splitsim + " simulate --model " + root + "/models/gpt-tiny.json --cluster " + calibrated +
                                       " --plan " + root + "/plans/tiny-tp2-sp.json --format json");
    REQUIRE_MESSAGE(sim.exit_code == 0, sim.output);
    CHECK(nlohmann::json::parse(sim.output)["iteration_time_s"].get<double>() > 0);
    const auto coll = test::run_command(splitsim + " collective --cluster " + calibrated + " --ranks 2 --min 1K --max 1M --factor 32");
    CHECK(coll.output.find("calibrated") != std::string::npos);
}

TEST_CASE("compute under communication fits overlap_slowdown; the profile names the machine measured") {
    const std::string root = SPLITSIM_SOURCE_ROOT;
    // Two GEMMs that ran 1.4 and 1.6 times slower while all-reduces were in flight: 1 + s =
    // sum x / sum x^2 with x = alone / overlapped.
    const nlohmann::json doc = nlohmann::json::parse(R"({
        "harness": {"backend": "cpu", "device": "Test CPU", "hostname": "box", "ranks": 2, "processors": 2, "sustained_ranks": 2,
                    "device_details": {"clock_mhz": "2600"}, "libraries": {"eigen": "3.4.0"}, "rotating_bytes": 1e6},
        "model": "m", "plan": {},
        "kernels": [{"op": "fc1", "kind": "gemm", "pass": "forward", "shape": {"m": 256, "n": 512, "k": 128}, "flops": 33554432,
                     "bytes": 917504, "check": "passed", "time_s": {"median": 2e-4}, "burst_time_s": {"median": 1.9e-4}}],
        "collectives": [],
        "overlap": [
          {"op": "fc1", "collective": "all_reduce", "group": "tensor", "bytes": 262144, "check": "passed",
           "alone_time_s": {"median": 1e-4}, "time_s": {"median": 1.4e-4}},
          {"op": "fc2", "collective": "all_reduce", "group": "tensor", "bytes": 262144, "check": "passed",
           "alone_time_s": {"median": 1e-4}, "time_s": {"median": 1.6e-4}}]})");
    const calibrate::Measurements m = calibrate::parse_measurements(doc, "m.json");
    REQUIRE(m.overlaps.size() == 2);
    CHECK(m.ranks == 2);
    CHECK(m.machine == "Test CPU on box (2 processors; 2600 MHz; 2 ranks, kernels timed on 2 at once; eigen 3.4.0)");
    const hardware::ClusterSpec cluster = hardware::load_cluster(root + "/topologies/localhost-cpu.json");
    const calibrate::Calibration c = calibrate::calibrate(m, cluster);
    const double x1 = 1 / 1.4, x2 = 1 / 1.6;
    const double expected = (x1 + x2) / (x1 * x1 + x2 * x2) - 1;
    CHECK(c.cluster.device.kernels.overlap_slowdown == doctest::Approx(expected));
    REQUIRE(c.parameters.size() == 1);
    CHECK(c.parameters[0].name == "overlap_slowdown");
    CHECK(c.parameters[0].before == 0);
    CHECK(c.overlap_error_before == doctest::Approx((1 - 1 / 1.4 + 1 - 1 / 1.6) / 2));  // the median of two
    CHECK(c.overlap_error_after < 0.07);
    const nlohmann::json profile = calibrate::calibrated_cluster_file(nlohmann::json::parse(R"({"name": "x"})"), c, m);
    CHECK(profile["device"]["source"].get<std::string>().find("measured on Test CPU on box (2 processors") != std::string::npos);

    // A run of more ranks than the machine's devices is calibrated on them time-shared.
    nlohmann::json four = doc;
    four["harness"]["ranks"] = 4;
    four["collectives"] = nlohmann::json::array({{{"op", "all_reduce"}, {"group", "tensor"}, {"ranks", 2}, {"stride", 1}, {"groups", 2},
                                                  {"bytes", 1024}, {"check", "passed"}, {"time_s", {{"median", 2e-5}}}}});
    CHECK(calibrate::calibrate(calibrate::parse_measurements(four, "m4.json"), cluster).cluster.ranks_per_device == 2);
}

TEST_CASE("bad measurements are named by file and JSON path") {
    test::TempDir dir;
    const std::string root = SPLITSIM_SOURCE_ROOT;
    const std::string file = dir.write("m.json", R"({"harness": {"backend": "cpu"}, "model": "m", "plan": {},
        "kernels": [{"op": "qkv", "kind": "gemmm", "pass": "forward", "shape": {"m": 1, "n": 1, "k": 1}, "flops": 2, "bytes": 12,
                     "check": "passed", "time_s": {"median": 1e-6}}], "collectives": []})");
    const auto r = test::run_command(test::executable("SPLITSIM") + " calibrate --measurements " + file + " --cluster " + root +
                                     "/topologies/localhost-cpu.json --out " + dir.path("out.json"));
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("m.json: /kernels/0/kind: \"gemmm\" is not a kernel kind") != std::string::npos);
    CHECK_FALSE(std::ifstream(dir.path("out.json")).good());

    // Nothing that passed its data check, or a backend the harness does not have: no profile.
    const std::string kernel = R"({"op": "qkv", "kind": "gemm", "pass": "forward", "shape": {"m": 1, "n": 1, "k": 1},
                                   "flops": 2, "bytes": 12, "check": "failed"})";
    const std::string passed = R"({"op": "qkv", "kind": "gemm", "pass": "forward", "shape": {"m": 1, "n": 1, "k": 1},
                                   "flops": 2, "bytes": 12, "check": "passed", "time_s": {"median": 1e-6}})";
    for (const auto& bad_case : std::vector<std::pair<std::string, std::string>>{
             {R"({"harness": {"backend": "cpu"}, "model": "m", "plan": {}, "kernels": [)" + kernel + R"(], "collectives": []})",
              "m2.json: /: no kernel or collective passed its data check: nothing to calibrate"},
             {R"({"harness": {"backend": "cpu"}, "model": "m", "plan": {}, "kernels": [], "collectives": []})",
              "m2.json: /: no kernel or collective passed its data check: nothing to calibrate"},
             {R"({"harness": {"backend": "tpu"}, "kernels": [], "collectives": []})",
              "m2.json: /harness/backend: \"tpu\" is not one of cpu | cuda"}}) {
        const std::string& text = bad_case.first;
        const std::string& expected = bad_case.second;
        CAPTURE(text);
        const std::string bad = dir.write("m2.json", text);
        const auto b = test::run_command(test::executable("SPLITSIM") + " calibrate --measurements " + bad + " --cluster " + root +
                                         "/topologies/localhost-cpu.json --out " + dir.path("out.json"));
        CHECK(b.exit_code == 2);
        CHECK(b.output.find(expected) != std::string::npos);
        CHECK_FALSE(std::ifstream(dir.path("out.json")).good());
    }

    // GPU measurements calibrate the GPU model they were taken on.
    for (const char* device : {"NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB"}) {
        CAPTURE(device);
        const std::string gpu = dir.write("m3.json", std::string(R"({"harness": {"backend": "cuda", "device": ")") + device +
                                                         R"("}, "model": "m", "plan": {}, "kernels": [)" + passed +
                                                         R"(], "collectives": []})");
        const auto g = test::run_command(test::executable("SPLITSIM") + " calibrate --measurements " + gpu + " --cluster " + root +
                                         "/topologies/dgx-a100-superpod.json --out " + dir.path("gpu.json"));
        const bool a100 = std::string(device).find("A100") != std::string::npos;
        CHECK(g.exit_code == (a100 ? 0 : 2));
        if (!a100) {
            CHECK(g.output.find("m3.json: /harness/device: measured on \"NVIDIA H100 80GB HBM3\", not the cluster's device "
                                "A100-SXM4-80GB") != std::string::npos);
        }
        CHECK(std::ifstream(dir.path("gpu.json")).good() == a100);
    }
}
