#include "splitsim/common/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace splitsim {
namespace {

struct UnitFactor {
    std::string_view unit;
    double factor;  // multiplier to base units
};

// Splits "80 GiB" into the number 80 and the unit "GiB". The space is optional ("80GiB").
std::pair<double, std::string_view> split_number(std::string_view text, std::string_view expected) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    double value = 0.0;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr == first) {
        throw std::invalid_argument("expected " + std::string(expected) + ", got \"" + std::string(text) + "\"");
    }
    if (!std::isfinite(value)) {
        throw std::invalid_argument("value \"" + std::string(text) + "\" is not a finite number");
    }
    std::string_view unit(ptr, static_cast<std::size_t>(last - ptr));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    return {value, unit};
}

template <std::size_t N>
double parse_with(std::string_view text, const std::array<UnitFactor, N>& table, std::string_view expected) {
    auto [value, unit] = split_number(text, expected);
    for (const auto& entry : table) {
        if (entry.unit != unit) continue;
        // "1e308 TB" is a finite number in a unit whose value in base units is not.
        const double scaled = value * entry.factor;
        if (!std::isfinite(scaled)) {
            throw std::invalid_argument("value \"" + std::string(text) + "\" is too large");
        }
        return scaled;
    }
    if (unit.empty()) {
        throw std::invalid_argument("\"" + std::string(text) + "\" has no unit; expected " + std::string(expected));
    }
    throw std::invalid_argument("unknown unit \"" + std::string(unit) + "\" in \"" + std::string(text) +
                                "\"; expected " + std::string(expected));
}

constexpr double kKi = 1024.0;
constexpr double kMi = kKi * 1024.0;
constexpr double kGi = kMi * 1024.0;
constexpr double kTi = kGi * 1024.0;

constexpr std::array kByteUnits{
    UnitFactor{"B", 1.0},      UnitFactor{"KB", 1e3},   UnitFactor{"kB", 1e3},  UnitFactor{"MB", 1e6},
    UnitFactor{"GB", 1e9},     UnitFactor{"TB", 1e12},  UnitFactor{"PB", 1e15}, UnitFactor{"KiB", kKi},
    UnitFactor{"MiB", kMi},    UnitFactor{"GiB", kGi},  UnitFactor{"TiB", kTi},
};

constexpr std::array kBandwidthUnits{
    UnitFactor{"B/s", 1.0},      UnitFactor{"KB/s", 1e3},    UnitFactor{"kB/s", 1e3},
    UnitFactor{"MB/s", 1e6},     UnitFactor{"GB/s", 1e9},    UnitFactor{"TB/s", 1e12},
    UnitFactor{"KiB/s", kKi},    UnitFactor{"MiB/s", kMi},   UnitFactor{"GiB/s", kGi},
    UnitFactor{"TiB/s", kTi},    UnitFactor{"b/s", 0.125},   UnitFactor{"Kb/s", 1e3 / 8},
    UnitFactor{"Mb/s", 1e6 / 8}, UnitFactor{"Gb/s", 1e9 / 8}, UnitFactor{"Tb/s", 1e12 / 8},
    UnitFactor{"Mbps", 1e6 / 8}, UnitFactor{"Gbps", 1e9 / 8}, UnitFactor{"Tbps", 1e12 / 8},
};

constexpr std::array kFlopRateUnits{
    UnitFactor{"FLOP/s", 1.0},   UnitFactor{"GFLOP/s", 1e9},  UnitFactor{"TFLOP/s", 1e12},
    UnitFactor{"PFLOP/s", 1e15}, UnitFactor{"FLOPS", 1.0},    UnitFactor{"GFLOPS", 1e9},
    UnitFactor{"TFLOPS", 1e12},  UnitFactor{"PFLOPS", 1e15},
};

constexpr std::array kTimeUnits{
    UnitFactor{"s", 1.0},   UnitFactor{"ms", 1e-3}, UnitFactor{"us", 1e-6},
    UnitFactor{"µs", 1e-6}, UnitFactor{"ns", 1e-9}, UnitFactor{"min", 60.0},
};

constexpr std::array kFlopUnits{
    UnitFactor{"FLOP", 1.0},   UnitFactor{"GFLOP", 1e9},  UnitFactor{"TFLOP", 1e12},
    UnitFactor{"PFLOP", 1e15}, UnitFactor{"EFLOP", 1e18},
};

std::string format_scaled(double value, const char* const* prefixes, int count, double step, const char* suffix) {
    int i = 0;
    double v = value;
    while (i + 1 < count && std::fabs(v) >= step) {
        v /= step;
        ++i;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f %s%s", std::fabs(v) < 10 ? 2 : 1, v, prefixes[i], suffix);
    return buf;
}

}  // namespace

Bytes parse_bytes(std::string_view text) {
    const double v = parse_with(text, kByteUnits, "a size such as \"80 GiB\" or \"40 GB\"");
    if (v < 0) throw std::invalid_argument("size \"" + std::string(text) + "\" is negative");
    return Bytes(v);
}

Bandwidth parse_bandwidth(std::string_view text) {
    return Bandwidth(parse_with(text, kBandwidthUnits, "a bandwidth such as \"2039 GB/s\" or \"200 Gb/s\""));
}

FlopRate parse_flop_rate(std::string_view text) {
    return FlopRate(parse_with(text, kFlopRateUnits, "a rate such as \"312 TFLOP/s\""));
}

Seconds parse_seconds(std::string_view text) {
    return Seconds(parse_with(text, kTimeUnits, "a time such as \"1.5 us\" or \"2 ms\""));
}

Flops parse_flops(std::string_view text) {
    return Flops(parse_with(text, kFlopUnits, "a FLOP count such as \"1.2 PFLOP\""));
}

std::string format_bytes(Bytes b) {
    static constexpr const char* kPrefixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
    return format_scaled(b.value(), kPrefixes, 6, 1024.0, "B");
}

std::string format_bandwidth(Bandwidth bw) {
    static constexpr const char* kPrefixes[] = {"", "K", "M", "G", "T", "P"};
    return format_scaled(bw.value(), kPrefixes, 6, 1000.0, "B/s");
}

std::string format_flop_rate(FlopRate r) {
    static constexpr const char* kPrefixes[] = {"", "K", "M", "G", "T", "P", "E"};
    return format_scaled(r.value(), kPrefixes, 7, 1000.0, "FLOP/s");
}

std::string format_seconds(Seconds s) {
    const double v = s.value();
    char buf[64];
    if (std::fabs(v) >= 1.0) {
        std::snprintf(buf, sizeof buf, "%.3f s", v);
    } else if (std::fabs(v) >= 1e-3) {
        std::snprintf(buf, sizeof buf, "%.2f ms", v * 1e3);
    } else if (std::fabs(v) >= 1e-6) {
        std::snprintf(buf, sizeof buf, "%.2f us", v * 1e6);
    } else {
        std::snprintf(buf, sizeof buf, "%.1f ns", v * 1e9);
    }
    return buf;
}

}  // namespace splitsim
