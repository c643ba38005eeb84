#include "splitsim/validate/check.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace splitsim::validate {

void Check::merge(const Check& other) {
    if (!other.passed && passed) detail = other.detail;
    passed = passed && other.passed;
    max_error = std::max(max_error, other.max_error);
}

double tolerance(kernels::DType t) { return 8 * kernels::unit_roundoff(t) + 1e-4; }

Check compare(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
    Check c;
    if (got.size() != want.size()) {
        c.passed = false;
        c.detail = what + ": " + std::to_string(got.size()) + " values, expected " + std::to_string(want.size());
        return c;
    }
    double scale = 0;
    for (double w : want) scale = std::max(scale, std::fabs(w));
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double bound = tol * (std::fabs(want[i]) + 0.02 * scale) + 1e-300;
        const double ratio = std::fabs(got[i] - want[i]) / bound;
        if (!(ratio <= 1.0)) {  // also catches NaN
            if (c.passed) {
                std::ostringstream s;
                s << what << "[" << i << "] = " << got[i] << ", expected " << want[i];
                c.detail = s.str();
            }
            c.passed = false;
        }
        if (std::isfinite(ratio)) c.max_error = std::max(c.max_error, ratio);
    }
    return c;
}

Check check_gemm(const kernels::GemmShape& s, kernels::DType out, const Operand& a, const Operand& b,
                 std::span<const GemmEntry> entries, std::span<const float> got) {
    const std::int64_t m = s.m, n = s.n, k = s.k;
    const double u_out = kernels::unit_roundoff(out);
    const double u_in = s.tf32 ? 0x1p-11 : 0.0;  // TF32 keeps 10 mantissa bits
    Check result;
    if (got.size() != entries.size()) {
        result.passed = false;
        result.detail = std::to_string(got.size()) + " values for " + std::to_string(entries.size()) + " entries";
        return result;
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const GemmEntry& e = entries[i];
        double want = 0, magnitude = 0;
        for (std::int64_t l = 0; l < k; ++l) {
            const double av = a(e.batch * m * k + (s.trans_a ? l * m + e.row : e.row * k + l));
            const double bv = b(e.batch * k * n + (s.trans_b ? e.col * k + l : l * n + e.col));
            want += av * bv;
            magnitude += std::fabs(av * bv);
        }
        const double have = got[i];
        const double bound =
            2 * u_out * std::fabs(want) + (4 * u_in + 2.0 * static_cast<double>(k) * 0x1p-24) * magnitude + 1e-300;
        const double ratio = std::fabs(have - want) / bound;
        if (!(ratio <= 1.0) && result.passed) {
            std::ostringstream d;
            d << "C[" << e.batch << "][" << e.row << "][" << e.col << "] = " << have << ", expected " << want;
            result.detail = d.str();
            result.passed = false;
        }
        if (std::isfinite(ratio)) result.max_error = std::max(result.max_error, ratio);
    }
    return result;
}

}  // namespace splitsim::validate
