// splitsim: predicts iteration time, memory and communication of parallel training plans.
// Exit codes: 0 success, 2 bad input (one line naming the file and JSON path), 1 internal error.
#include <exception>
#include <iostream>
#include <vector>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/common/output.hpp"

namespace splitsim::cli {

CLI::Option* add_format_option(CLI::App& app, std::string& format) {
    return app.add_option("--format", format, "table | json | csv | md")->check(CLI::IsMember({"table", "json", "csv", "md"}));
}

CLI::Option* add_nodes_option(CLI::App& app, std::optional<int>& nodes) {
    return app.add_option("--nodes", nodes, "override the cluster's node count")->check(CLI::Range(1, 1 << 20));
}

report::Format parse_format(const std::string& name) {
    if (name == "json") return report::Format::json;
    if (name == "csv") return report::Format::csv;
    if (name == "md") return report::Format::markdown;
    return report::Format::table;
}

void write_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& [path, text] : outputs) {
        if (path != "-" && !path.empty()) files.emplace_back(path, text);
    }
    write_text_files(files);
    for (const auto& [path, text] : outputs) {
        if (path == "-" || path.empty()) std::cout << text << std::flush;
    }
}

}  // namespace splitsim::cli

int main(int argc, char** argv) {
    using namespace splitsim;
    CLI::App app{"splitsim: predicts iteration time, memory and communication of parallel training plans"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "splitsim 0.1.0");
    const std::vector<cli::Subcommand> commands{
        cli::add_simulate(app),
        cli::add_collective(app),
        cli::add_compare(app),
        cli::add_search(app),
        cli::add_export(app),
        cli::add_calibrate(app),
        cli::add_validate_published(app),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "splitsim: " << e.what() << "\n";
        return 2;
    }
    try {
        for (const cli::Subcommand& command : commands) {
            if (command.app->parsed()) command.run();
        }
    } catch (const InputError& e) {
        std::cerr << "splitsim: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "splitsim: internal error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
