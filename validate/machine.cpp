#include "machine.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <utility>

#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"

namespace splitsim::validate {

void validate_plan(plan::Plan& p, const model::ModelSpec& m) {
    if (p.dp == 0) throw InputError(p.origin, "/dp", "missing: the harness has no cluster to derive dp from");
    // Each degree may be up to 2^31, so the product is checked as it is formed.
    std::int64_t ranks = 1;
    for (const auto& [key, degree] : {std::pair{"tp", p.tp}, {"pp", p.pp}, {"cp", p.cp}, {"dp", p.dp}}) {
        ranks *= degree;
        if (ranks > kMaxPlanRanks) {
            throw InputError(p.origin, std::string("/") + key, "tp x pp x cp x dp exceeds " + std::to_string(kMaxPlanRanks) + " ranks");
        }
    }
    hardware::ClusterSpec stand_in;
    stand_in.name = "harness";
    stand_in.nodes = 1;
    stand_in.gpus_per_node = static_cast<int>(ranks);
    stand_in.device.name = "the measured device";
    for (auto& peak : stand_in.device.peak) peak = FlopRate(1);
    plan::validate(p, m, stand_in);
}

int processors() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

namespace {

// Physical memory of this machine in bytes, 0 when the system does not say.
double physical_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

}  // namespace

void require_memory(double needed, const std::string& what, const std::string& advice, const std::string& file,
                    const std::string& pointer) {
    const double available = physical_memory_bytes();
    if (available <= 0 || needed <= available / 2) return;
    char amounts[96];
    std::snprintf(amounts, sizeof amounts, "about %.3g GiB, more than half of this machine's %.3g GiB", needed / 1073741824.0,
                  available / 1073741824.0);
    throw InputError(file, pointer, what + " need " + amounts + " (" + advice + ")");
}

std::string hostname() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "unknown";
    return name;
}

std::string utc_timestamp() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

int local_rank_from_environment(int world_rank) {
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
        if (const char* v = std::getenv(name)) return std::atoi(v);
    }
    return world_rank;
}

}  // namespace splitsim::validate
