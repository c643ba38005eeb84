#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "splitsim/common/data_directory.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/report/published.hpp"

namespace splitsim::cli {
namespace {

struct ValidateOptions {
    std::string root;  // default: the data folder next to the executable
    std::string format = "table";
    std::string tier = "analytical";
    std::string out = "-";
};

}  // namespace

Subcommand add_validate_published(CLI::App& app) {
    auto opts = std::make_shared<ValidateOptions>();
    CLI::App* sub = app.add_subcommand("validate-published",
                                       "Replay the published training runs of validate/published/ and compare predicted with published");
    sub->add_option("--root", opts->root,
                    "folder holding validate/published, models and topologies (default: the source tree the executable was "
                    "built in, or the installed share/splitsim)");
    sub->add_option("--format", opts->format, "table | json")->check(CLI::IsMember({"table", "json"}));
    sub->add_option("--tier", opts->tier, "analytical (default: closed forms) | event (the iterations played out as events)")
        ->check(CLI::IsMember({"event", "analytical"}));
    sub->add_option("--out", opts->out, "write the report to this file instead of standard output");
    return {sub, [opts] {
        std::string root = opts->root;
        if (root.empty()) {
            const std::optional<std::filesystem::path> found = find_data_directory("validate/published");
            if (!found) {
                std::string looked;
                for (const auto& dir : data_directory_candidates()) looked += (looked.empty() ? "" : ", ") + dir.string();
                throw InputError("command line", "--root",
                                 "no validate/published next to the executable (looked in " + looked + "); give --root");
            }
            root = found->string();
        }
        const report::PublishedValidation v =
            report::validate_published(root, opts->tier == "event" ? sim::Tier::event : sim::Tier::analytical);
        write_outputs({{opts->out, report::render(v, opts->format == "json" ? report::Format::json : report::Format::table)}});
    }};
}

}  // namespace splitsim::cli
