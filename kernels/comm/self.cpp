// The process group of a run without a launcher: this process alone.
#include <cstdlib>
#include <vector>

#include "splitsim/kernels/comm.hpp"

namespace splitsim::kernels {
namespace {

class SelfProcessGroup final : public ProcessGroup {
public:
    [[nodiscard]] int rank() const override { return 0; }
    [[nodiscard]] int size() const override { return 1; }
    void barrier() override {}
    void quiet_barrier() override {}
    [[nodiscard]] std::vector<double> max(std::span<const double> values) override {
        return {values.begin(), values.end()};
    }
    [[nodiscard]] std::vector<double> sum(std::span<const double> values) override {
        return {values.begin(), values.end()};
    }
    [[nodiscard]] bool all(bool value) override { return value; }
    void broadcast(std::span<std::byte>, int) override {}
    [[nodiscard]] std::unique_ptr<ProcessGroup> split(int, int) override { return std::make_unique<SelfProcessGroup>(); }
    [[noreturn]] void abort(int code) override { std::_Exit(code); }
    [[nodiscard]] std::string library_version() const override { return ""; }
};

}  // namespace

std::unique_ptr<ProcessGroup> make_self_process_group() { return std::make_unique<SelfProcessGroup>(); }

}  // namespace splitsim::kernels
