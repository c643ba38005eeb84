#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <stdexcept>
#include <type_traits>

#include "splitsim/common/units.hpp"

using namespace splitsim;

TEST_CASE("byte sizes parse with decimal and binary prefixes") {
    CHECK(parse_bytes("80 GiB").value() == 80.0 * 1024 * 1024 * 1024);
    CHECK(parse_bytes("40 GB").value() == 40e9);
    CHECK(parse_bytes("512KiB").value() == 512.0 * 1024);
    CHECK(parse_bytes("1.5 TB").value() == 1.5e12);
    CHECK(parse_bytes("100 B").value() == 100.0);
}

TEST_CASE("bandwidths distinguish bytes from bits") {
    CHECK(parse_bandwidth("2039 GB/s").value() == 2039e9);
    // 200 Gb/s HDR InfiniBand = 25 GB/s.
    CHECK(parse_bandwidth("200 Gb/s").value() == 25e9);
    CHECK(parse_bandwidth("400 Gbps").value() == 50e9);
    CHECK(parse_bandwidth("1 GiB/s").value() == 1024.0 * 1024 * 1024);
}

TEST_CASE("flop rates, times and flop counts") {
    CHECK(parse_flop_rate("312 TFLOP/s").value() == 312e12);
    CHECK(parse_flop_rate("989.5 TFLOPS").value() == 989.5e12);
    CHECK(parse_seconds("1.5 us").value() == doctest::Approx(1.5e-6).epsilon(1e-15));
    CHECK(parse_seconds("2 ms").value() == doctest::Approx(2e-3).epsilon(1e-15));
    CHECK(parse_seconds("700 ns").value() == doctest::Approx(7e-7).epsilon(1e-15));
    CHECK(parse_flops("1.2 PFLOP").value() == doctest::Approx(1.2e15).epsilon(1e-15));
}

TEST_CASE("malformed quantities are rejected with what was expected") {
    CHECK_THROWS_WITH_AS(parse_bytes("80"), doctest::Contains("has no unit"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_bytes("eighty GiB"), doctest::Contains("expected a size"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_bytes("80 GiBs"), doctest::Contains("unknown unit \"GiBs\""), std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_bytes("-1 GB"), doctest::Contains("negative"), std::invalid_argument);
    CHECK_THROWS_AS(parse_bandwidth("25 GB"), std::invalid_argument);
    CHECK_THROWS_AS(parse_seconds("5 GB/s"), std::invalid_argument);
    CHECK_THROWS_AS(parse_flop_rate("nan TFLOP/s"), std::invalid_argument);
}

TEST_CASE("unit algebra: bytes over bandwidth is time, and ratios are plain numbers") {
    const auto t = GB(10) / GBps(20);
    static_assert(std::is_same_v<decltype(t), const Seconds>);
    CHECK(t.value() == doctest::Approx(0.5));
    const double ratio = GiB(2) / GiB(1);
    CHECK(ratio == 2.0);
    const auto flops = TFLOPps(312) * seconds(2);
    static_assert(std::is_same_v<decltype(flops), const Flops>);
    CHECK(flops.value() == doctest::Approx(624e12));
}

TEST_CASE("formatting picks a readable prefix") {
    CHECK(format_bytes(GiB(80)) == "80.0 GiB");
    CHECK(format_bytes(MiB(1.5)) == "1.50 MiB");
    CHECK(format_bandwidth(GBps(231.6)) == "231.6 GB/s");
    CHECK(format_seconds(ms(12.4)) == "12.40 ms");
    CHECK(format_seconds(us(3)) == "3.00 us");
}
