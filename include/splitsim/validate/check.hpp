// Data checks of kernel results against the double-precision CPU reference (kernels/cpu.hpp), used
// by the bench and by the CUDA kernel tests.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "splitsim/kernels/backend.hpp"

namespace splitsim::validate {

struct Check {
    bool passed = true;
    double max_error = 0;  // largest |got - want| / bound seen; at most 1 when passed
    std::string detail;    // the first failing element

    void merge(const Check& other);
};

// Tolerance of element-wise and row-wise kernels whose output is stored as `t`: a few roundings of
// the output format plus fp32 arithmetic (fast exp and tanh, cancellation in GeLU's derivative).
double tolerance(kernels::DType t);

// Passes when |got - want| <= tol (|want| + 2% of the largest |want|) everywhere: relative where
// values are large, norm-wise where they cancel to near zero. NaN fails.
Check compare(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what);

// Entries of C = op(A) op(B) (row-major, GemmShape's layout) at the given (batch, row, col)
// positions against a double-precision dot product, within rounding of the output (`out`), fp32
// accumulation over k terms (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
// Sec. 3.1: |error| <= k u sum |a b|) and TF32 rounding of the inputs where enabled.
// The operands are read through `a` and `b` (element at a flat index of the stored matrix, as the
// kernel read it), so a check needs only the rows and columns its entries use; got[i] is C at
// entries[i].
struct GemmEntry {
    std::int64_t batch = 0;
    std::int64_t row = 0;
    std::int64_t col = 0;
};
using Operand = std::function<double(std::int64_t)>;
Check check_gemm(const kernels::GemmShape& s, kernels::DType out, const Operand& a, const Operand& b,
                 std::span<const GemmEntry> entries, std::span<const float> got);

}  // namespace splitsim::validate
