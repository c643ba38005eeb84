// Test data that a backend generates where the tensor lives (Backend::fill_uniform) and that the
// host can recompute for any element without reading the tensor back: element i of a tensor
// filled with `seed` is uniform_value(seed, i, lo, hi) rounded to the tensor's type
// (stored_value). The bench and the CUDA kernel tests check sampled entries of a kernel's output
// against a reference computed from these values, so no input travels over PCIe.
// Host and device code share these functions (kernels.cu fills on the GPU).
#pragma once

#include "splitsim/kernels/host_device.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "splitsim/kernels/tensor.hpp"


namespace splitsim::kernels {

// SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators", OOPSLA)
// used as a counter-based generator: the output for `index` is the mix of seed + (index + 1)
// golden-gamma, which is exactly the (index + 1)-th output of the sequential generator seeded with
// `seed`, so any element is computed independently of the others (as Philox does for cuRAND).
SPLITSIM_HOST_DEVICE inline std::uint64_t splitmix64(std::uint64_t seed, std::uint64_t index) {
    std::uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Uniform in [lo, hi): the top 24 bits as a float in [0, 1) (exact), then one fused multiply-add,
// correctly rounded on host and device alike, so both sides produce the same float.
SPLITSIM_HOST_DEVICE inline float uniform_value(std::uint64_t seed, std::uint64_t index, float lo, float hi) {
    const float u = static_cast<float>(splitmix64(seed, index) >> 40) * 0x1p-24f;
#if defined(__CUDA_ARCH__)
    return fmaf(u, hi - lo, lo);
#else
    return std::fma(u, hi - lo, lo);
#endif
}

// `x` as a tensor of type `t` stores it: rounded to nearest, ties to even, to fp16 (11 significant
// bits, smallest normal 2^-14) or bf16 (8 bits, smallest normal 2^-126), subnormals included,
// beyond the largest finite value infinite; the conversions of cuda_fp16.h and cuda_bf16.h
// (__float2half_rn, __float2bfloat16_rn). fp32 and int32 values are returned as they are.
inline float stored_value(DType t, float x) {
    if (t != DType::fp16 && t != DType::bf16) return x;
    if (x == 0 || !std::isfinite(x)) return x;
    if (t == DType::bf16) {
        // bf16 is the top half of an fp32: add just under half of the dropped part, plus its last
        // kept bit (ties to even), and cut; a carry into the exponent rounds up, to infinity at the top.
        std::uint32_t bits = 0;
        std::memcpy(&bits, &x, sizeof bits);
        bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
        float rounded = 0;
        std::memcpy(&rounded, &bits, sizeof rounded);
        return rounded;
    }
    constexpr int digits = 11;
    constexpr int min_exponent = -13;  // std::frexp's: x = f 2^e, f in [0.5, 1); 2^-14 is the smallest normal
    constexpr double largest = 0x1.ffcp15;
    int exponent = 0;
    (void)std::frexp(x, &exponent);
    if (exponent < min_exponent) exponent = min_exponent;
    const double ulp = std::ldexp(1.0, exponent - digits);
    const double rounded = std::nearbyint(static_cast<double>(x) / ulp) * ulp;  // exact; the default mode rounds ties to even
    if (std::fabs(rounded) > largest) return std::copysign(INFINITY, x);
    return static_cast<float>(rounded);
}

}  // namespace splitsim::kernels
