// The subcommands of the splitsim command line. Each registers its options on the application and
// returns the function that runs it once the command line is parsed.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "splitsim/report/simulation.hpp"

namespace splitsim::cli {

struct Subcommand {
    CLI::App* app = nullptr;
    std::function<void()> run;
};

Subcommand add_simulate(CLI::App& app);
Subcommand add_collective(CLI::App& app);
Subcommand add_search(CLI::App& app);
Subcommand add_compare(CLI::App& app);
Subcommand add_export(CLI::App& app);
Subcommand add_calibrate(CLI::App& app);
Subcommand add_validate_published(CLI::App& app);

// The --format option every report command takes: table | json | csv | md.
CLI::Option* add_format_option(CLI::App& app, std::string& format);
report::Format parse_format(const std::string& name);

// Writes `text` to `path` ("-" for standard output) only once it is complete, so a failure leaves
// no partial file behind.
void write_output(const std::string& path, const std::string& text);

}  // namespace splitsim::cli
