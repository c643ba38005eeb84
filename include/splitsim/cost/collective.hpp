// Time of a collective over a group of ranks placed on a cluster.
#pragma once

#include <string>
#include <vector>

#include "splitsim/common/collective.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"

namespace splitsim::cost {

struct CollectiveEstimate {
    Seconds time;
    std::string algorithm;
};

class CollectiveModel {
public:
    explicit CollectiveModel(const hardware::ClusterSpec& cluster);

    // `ranks` are device indices; `bytes` is nccl-tests' size S (common/collective.hpp).
    [[nodiscard]] CollectiveEstimate estimate(CollectiveKind kind, Bytes bytes, const std::vector<int>& ranks) const;

private:
    const hardware::ClusterSpec* cluster_;
};

}  // namespace splitsim::cost
