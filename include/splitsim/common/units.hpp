// Physical quantities as types (after SST's UnitAlgebra): a quantity carries the exponents of bytes,
// seconds and floating-point operations in its type, so Bytes / Bandwidth is Seconds and a byte count
// can never be added to a time. Strings such as "80 GiB" or "312 TFLOP/s" are parsed once, at the
// input boundary; inside the simulator every value is in base units (bytes, seconds, FLOPs).
#pragma once

#include <compare>
#include <string>
#include <string_view>

namespace splitsim {

template <int ByteExp, int SecondExp, int FlopExp>
class Quantity {
public:
    constexpr Quantity() = default;
    constexpr explicit Quantity(double value) : value_(value) {}

    // The value in base units: bytes, seconds, FLOPs and their products.
    [[nodiscard]] constexpr double value() const { return value_; }

    constexpr Quantity& operator+=(Quantity other) { value_ += other.value_; return *this; }
    constexpr Quantity& operator-=(Quantity other) { value_ -= other.value_; return *this; }
    constexpr Quantity& operator*=(double factor) { value_ *= factor; return *this; }
    constexpr Quantity& operator/=(double divisor) { value_ /= divisor; return *this; }

    friend constexpr Quantity operator+(Quantity a, Quantity b) { return Quantity(a.value_ + b.value_); }
    friend constexpr Quantity operator-(Quantity a, Quantity b) { return Quantity(a.value_ - b.value_); }
    friend constexpr Quantity operator-(Quantity a) { return Quantity(-a.value_); }
    friend constexpr Quantity operator*(Quantity a, double f) { return Quantity(a.value_ * f); }
    friend constexpr Quantity operator*(double f, Quantity a) { return Quantity(a.value_ * f); }
    friend constexpr Quantity operator/(Quantity a, double d) { return Quantity(a.value_ / d); }
    friend constexpr auto operator<=>(Quantity a, Quantity b) = default;

private:
    double value_ = 0.0;
};

namespace detail {
template <int B, int S, int F>
constexpr auto make_quantity(double v) {
    if constexpr (B == 0 && S == 0 && F == 0) {
        return v;  // a dimensionless ratio is a plain number
    } else {
        return Quantity<B, S, F>(v);
    }
}
}  // namespace detail

template <int B1, int S1, int F1, int B2, int S2, int F2>
constexpr auto operator*(Quantity<B1, S1, F1> a, Quantity<B2, S2, F2> b) {
    return detail::make_quantity<B1 + B2, S1 + S2, F1 + F2>(a.value() * b.value());
}
template <int B1, int S1, int F1, int B2, int S2, int F2>
constexpr auto operator/(Quantity<B1, S1, F1> a, Quantity<B2, S2, F2> b) {
    return detail::make_quantity<B1 - B2, S1 - S2, F1 - F2>(a.value() / b.value());
}
template <int B, int S, int F>
constexpr auto operator/(double a, Quantity<B, S, F> b) {
    return Quantity<-B, -S, -F>(a / b.value());
}

using Bytes = Quantity<1, 0, 0>;
using Seconds = Quantity<0, 1, 0>;
using Flops = Quantity<0, 0, 1>;
using Bandwidth = Quantity<1, -1, 0>;  // bytes per second
using FlopRate = Quantity<0, -1, 1>;   // FLOPs per second

template <int B, int S, int F>
constexpr Quantity<B, S, F> max(Quantity<B, S, F> a, Quantity<B, S, F> b) { return a < b ? b : a; }
template <int B, int S, int F>
constexpr Quantity<B, S, F> min(Quantity<B, S, F> a, Quantity<B, S, F> b) { return a < b ? a : b; }

// Literal helpers for code and tests.
constexpr Bytes bytes(double v) { return Bytes(v); }
constexpr Bytes KiB(double v) { return Bytes(v * 1024.0); }
constexpr Bytes MiB(double v) { return Bytes(v * 1024.0 * 1024.0); }
constexpr Bytes GiB(double v) { return Bytes(v * 1024.0 * 1024.0 * 1024.0); }
constexpr Bytes GB(double v) { return Bytes(v * 1e9); }
constexpr Seconds seconds(double v) { return Seconds(v); }
constexpr Seconds ms(double v) { return Seconds(v * 1e-3); }
constexpr Seconds us(double v) { return Seconds(v * 1e-6); }
constexpr Bandwidth GBps(double v) { return Bandwidth(v * 1e9); }
constexpr Bandwidth Gbps(double v) { return Bandwidth(v * 1e9 / 8.0); }
constexpr FlopRate TFLOPps(double v) { return FlopRate(v * 1e12); }

// Parsers for the unit strings people write in input files. Each throws std::invalid_argument with a
// message that says what was expected; the JSON reader adds the file and the JSON path.
//   bytes:      "80 GiB", "40 GB", "512 KiB", "4 MB", "1.5 TB", "100 B"
//   bandwidth:  "2039 GB/s", "200 Gb/s" (bits), "25 GiB/s", "400 Gbps"
//   flop rate:  "312 TFLOP/s", "989.5 TFLOPS", "19.5 TFLOP/s"
//   time:       "1.5 us", "2 ms", "700 ns", "1 s"
//   flops:      "1.2 PFLOP", "3e12 FLOP"
Bytes parse_bytes(std::string_view text);
Bandwidth parse_bandwidth(std::string_view text);
FlopRate parse_flop_rate(std::string_view text);
Seconds parse_seconds(std::string_view text);
Flops parse_flops(std::string_view text);

// Human-readable formatting with binary prefixes for sizes and decimal prefixes for rates.
std::string format_bytes(Bytes b);          // "75.3 GiB"
std::string format_bandwidth(Bandwidth bw); // "231.6 GB/s"
std::string format_seconds(Seconds s);      // "12.4 ms"
std::string format_flop_rate(FlopRate r);   // "156.0 TFLOP/s"

}  // namespace splitsim
