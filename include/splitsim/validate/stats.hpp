// Summaries of timed repetitions.
#pragma once

#include <vector>

namespace splitsim::validate {

struct Summary {
    double median = 0;
    double min = 0;
    double max = 0;
    double p10 = 0;
    double p90 = 0;
};

// Percentiles by linear interpolation between order statistics (numpy's default, "linear"):
// the q-quantile of n sorted samples is at position q (n - 1). `samples` must not be empty.
Summary summarize(std::vector<double> samples);

}  // namespace splitsim::validate
