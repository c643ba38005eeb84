// The kernel model (src/cost/compute.cpp): tile and wave quantization in closed form, and the
// device profiles against the published GEMM rates they were derived from.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "splitsim/cost/compute.hpp"
#include "splitsim/hardware/device.hpp"
#include "support.hpp"

using namespace splitsim;
using model::GemmShape;
using test::rel;

namespace {

hardware::DeviceSpec shipped(const char* name) {
    return hardware::load_device(test::source_root() + "/topologies/devices/" + name + ".json");
}

// A 108-SM device with one 128x128 tile and nothing but the main loop.
hardware::DeviceSpec one_tile() {
    return hardware::parse_device(nlohmann::json::parse(R"({
        "name": "g", "memory": "80 GiB", "memory_bandwidth": "2000 GB/s", "compute_units": 108,
        "peak": {"bf16": "312 TFLOP/s"},
        "kernels": {"gemm_efficiency": 0.8, "gemm_tiles": [[128, 128]], "launch_overhead": "0 us", "memory_efficiency": 0.9}})"),
                                  "g.json");
}

double tflops(const cost::ComputeModel& c, const GemmShape& s) { return c.gemm_efficiency(s) * c.gemm_peak().value() / 1e12; }

}  // namespace

TEST_CASE("ranks that time-share a device take that many times as long per kernel") {
    const hardware::DeviceSpec d = shipped("a100-80gb");
    const cost::ComputeModel alone(d, Precision::bf16), shared(d, Precision::bf16, {}, 2);
    const GemmShape s{4096, 4096, 4096, 1};
    const Flops f(2.0 * 4096 * 4096 * 4096);
    const Bytes b(3.0 * 2 * 4096 * 4096);
    CHECK(shared.kernel_time("gemm", s, f, b).value() == doctest::Approx(2 * alone.kernel_time("gemm", s, f, b).value()));
    CHECK(shared.memory_time(b).value() == doctest::Approx(2 * alone.memory_time(b).value()));
}

TEST_CASE("a kernel fit made on one pass serves that pass; a key that is neither a kind nor kind.pass is named") {
    const auto device = [](const std::string& per_kind) {
        return hardware::parse_device(nlohmann::json::parse(R"({"name": "c", "memory": "8 GiB", "memory_bandwidth": "40 GB/s",
            "compute_units": 1, "peak": {"fp32": "200 GFLOP/s"}, "kernels": {"gemm_tile": [1, 1], "per_kind": )" + per_kind + "}}"),
                                      "d.json");
    };
    const hardware::DeviceSpec d = device(R"({"gemm": {"compute_efficiency": 0.5, "launch_overhead": "0 us"},
        "gemm.backward_weight": {"compute_efficiency": 0.25, "launch_overhead": "0 us"}})");
    const cost::ComputeModel c(d, Precision::fp32);
    const GemmShape s{512, 512, 512, 1};
    const Flops f(2.0 * 512 * 512 * 512);
    const double any = c.kernel_time("gemm", s, f, Bytes(0)).value();
    CHECK(any == doctest::Approx(f.value() / (200e9 * 0.5)));
    CHECK(c.kernel_time("gemm", s, f, Bytes(0), "forward").value() == doctest::Approx(any));  // no forward fit: the kind's
    CHECK(c.kernel_time("gemm", s, f, Bytes(0), "backward_weight").value() == doctest::Approx(2 * any));
    CHECK_THROWS_WITH(device(R"({"gemm.sideways": {"compute_efficiency": 0.5, "launch_overhead": "0 us"}})"),
                      doctest::Contains("d.json: /kernels/per_kind/gemm.sideways: not a kernel kind"));
}

TEST_CASE("tile and wave quantization follow NVIDIA's Matrix Multiplication Background, Sec. 3") {
    const hardware::DeviceSpec d = one_tile();
    const cost::ComputeModel c(d, Precision::bf16);
    // 108 tiles of 128x128: one full wave.
    CHECK(c.quantization({128.0 * 108, 128, 4096}) == doctest::Approx(1.0));
    // 109 tiles need a second wave that holds one: 109 / (2 x 108).
    CHECK(c.quantization({128.0 * 109, 128, 4096}) == doctest::Approx(109.0 / 216));
    // m = 129 pads to two tile rows, 2 x 54 tiles fill one wave: 129 / 256 of it is useful
    // (tile quantization).
    CHECK(c.quantization({129, 128.0 * 54, 4096}) == doctest::Approx(129.0 / 256));
    // The time is FLOPs / (peak x efficiency x quantization).
    const GemmShape s{128.0 * 109, 128, 4096};
    const double flops = 2.0 * s.m * s.n * s.k;
    CHECK(rel(c.gemm_time(s, Bytes(0)).value(), flops / (312e12 * 0.8 * (109.0 / 216))) < 1e-12);
    // A memory-bound kernel: bytes / (bandwidth x memory_efficiency).
    CHECK(rel(c.memory_time(Bytes(1.8e9)).value(), 1.8e9 / (2000e9 * 0.9)) < 1e-12);
    // A GEMM too thin to be compute-bound is charged its bytes at the memory rate.
    CHECK(rel(c.gemm_time({8, 8, 8}, Bytes(1.8e9)).value(), 1e-3) < 1e-12);
}

TEST_CASE("device profiles reproduce the GEMM rates they were derived from") {
    // A100-SXM4-80GB: MAMF 267.9 TFLOP/s at 6912x16384x2048 (Bekman, ml-engineering,
    // compute/accelerator/README.md, CUDA 12.1), a burst on one GPU.
    {
        const hardware::DeviceSpec d = shipped("a100-80gb");
        const cost::ComputeModel c(d, Precision::bf16);
        CHECK(tflops(c, {6912, 16384, 2048}) == doctest::Approx(267.9).epsilon(0.005));
    }
    // H100 and H200 (one GH100 chip): MSMF 698.6 TFLOP/s, B200: 1426.4 TFLOP/s, sustained on all
    // eight GPUs of a node (ibid., benchmarks/README.md). The shape fills every 128x128 tile and
    // every wave: 48 x 44 = 2112 tiles, 16 waves on 132 SMs, 14 waves of 148 SMs plus a partial
    // one on B200, so the B200 figure is checked on 37 x 64 = 2368 = 16 x 148 tiles.
    for (const char* name : {"h100-sxm", "h200"}) {
        CAPTURE(name);
        const hardware::DeviceSpec d = shipped(name);
        const cost::ComputeModel c(d, Precision::bf16);
        CHECK(tflops(c, {6144, 5632, 8192}) == doctest::Approx(698.6).epsilon(0.005));
    }
    const hardware::DeviceSpec b200 = shipped("b200");
    const cost::ComputeModel c(b200, Precision::bf16);
    CHECK(tflops(c, {37.0 * 128, 64.0 * 128, 8192}) == doctest::Approx(1426.4).epsilon(0.005));
}
