// Number formats of training: what a plan computes in and what a device has peak rates for.
#pragma once

#include <string_view>

namespace splitsim {

enum class Precision { fp32, tf32, bf16, fp16, fp8 };

inline constexpr Precision kAllPrecisions[] = {Precision::fp32, Precision::tf32, Precision::bf16, Precision::fp16,
                                               Precision::fp8};

constexpr std::string_view to_string(Precision p) {
    switch (p) {
        case Precision::fp32: return "fp32";
        case Precision::tf32: return "tf32";
        case Precision::bf16: return "bf16";
        case Precision::fp16: return "fp16";
        case Precision::fp8: return "fp8";
    }
    return "?";
}

// Bytes of one element of this format as it is stored in memory. tf32 values are stored as fp32.
constexpr double element_bytes(Precision p) {
    switch (p) {
        case Precision::fp32:
        case Precision::tf32: return 4;
        case Precision::bf16:
        case Precision::fp16: return 2;
        case Precision::fp8: return 1;
    }
    return 4;
}

}  // namespace splitsim
