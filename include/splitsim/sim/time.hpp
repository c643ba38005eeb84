// Simulated time: integer nanoseconds in a strong type (ns-3's Time, SST's SimTime_t), so every run
// is deterministic and bit-identical. Durations are built with the helpers below.
#pragma once

#include <cmath>
#include <compare>
#include <cstdint>
#include <stdexcept>

#include "splitsim/common/units.hpp"

namespace splitsim::sim {

class TimeNs {
public:
    constexpr TimeNs() = default;
    constexpr explicit TimeNs(std::int64_t ns) : ns_(ns) {}
    [[nodiscard]] constexpr std::int64_t count() const { return ns_; }
    [[nodiscard]] constexpr Seconds seconds() const { return Seconds(static_cast<double>(ns_) * 1e-9); }

    constexpr TimeNs& operator+=(TimeNs d) { ns_ += d.ns_; return *this; }
    friend constexpr TimeNs operator+(TimeNs a, TimeNs b) { return TimeNs(a.ns_ + b.ns_); }
    friend constexpr TimeNs operator-(TimeNs a, TimeNs b) { return TimeNs(a.ns_ - b.ns_); }
    friend constexpr auto operator<=>(TimeNs a, TimeNs b) = default;

private:
    std::int64_t ns_ = 0;
};

constexpr TimeNs ns(std::int64_t v) { return TimeNs(v); }

// The longest duration the event tier represents, 2^61 ns (73 years). Durations stay at most
// kMaxDuration and event times at most 2 kMaxDuration, so the sum of a time and a duration never
// leaves int64. Inputs that need more (a device of 1 FLOP/s) end in TimeRangeError.
inline constexpr std::int64_t kMaxDuration = std::int64_t{1} << 61;

class TimeRangeError : public std::range_error {
public:
    TimeRangeError() : std::range_error("a simulated time exceeds 2^61 ns (73 years)") {}
};

// Nanoseconds (a finite count, at most kMaxDuration in magnitude) as a duration.
inline TimeNs checked_ns(double ns) {
    if (!(std::fabs(ns) <= static_cast<double>(kMaxDuration))) throw TimeRangeError();
    return TimeNs(static_cast<std::int64_t>(ns));
}

// A duration rounded to the nearest nanosecond.
inline TimeNs to_time(Seconds s) { return checked_ns(std::round(s.value() * 1e9)); }

}  // namespace splitsim::sim
