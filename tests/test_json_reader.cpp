#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "splitsim/common/json_reader.hpp"

using namespace splitsim;

namespace {
nlohmann::json parse(const char* text) { return nlohmann::json::parse(text); }
}  // namespace

TEST_CASE("errors name the file and the JSON pointer") {
    const auto j = parse(R"({"a": {"b": [1, {"c": "x"}]}})");
    JsonObject o(j, "f.json");
    JsonObject a = o.object("a");
    JsonArray b = a.array("b");
    JsonObject c = b.object(1);
    CHECK_THROWS_WITH_AS(c.required<int>("c"), "f.json: /a/b/1/c: expected an integer, got a string", InputError);
    CHECK_THROWS_WITH_AS(c.required<int>("d"), "f.json: /a/b/1/d: missing required key", InputError);
}

TEST_CASE("unknown keys are errors") {
    const auto j = parse(R"({"tp": 2, "tpp": 4})");
    JsonObject o(j, "plan.json");
    CHECK(o.required<int>("tp") == 2);
    CHECK_THROWS_WITH_AS(o.finish(), "plan.json: /tpp: unknown key", InputError);
}

TEST_CASE("ranges, integers and choices") {
    const auto j = parse(R"({"n": 0, "x": 2.5, "big": 1e12, "kind": "ring", "q": "3 GiB"})");
    JsonObject o(j, "f.json");
    CHECK_THROWS_WITH_AS(o.required<int>("n", at_least(1)), "f.json: /n: value 0 must be at least 1", InputError);
    CHECK_THROWS_WITH_AS(o.required<int>("x"), "f.json: /x: expected an integer, got 2.5", InputError);
    CHECK_THROWS_WITH_AS(o.required<int>("big"), doctest::Contains("out of range"), InputError);
    enum class K { ring, tree };
    CHECK(o.choice<K>("kind", {{"ring", K::ring}, {"tree", K::tree}}) == K::ring);
    CHECK(o.required<Bytes>("q").value() == 3.0 * 1024 * 1024 * 1024);
    JsonObject o2(j, "f.json");
    CHECK_THROWS_WITH_AS(o2.choice<K>("q", {{"ring", K::ring}, {"tree", K::tree}}),
                         "f.json: /q: \"3 GiB\" is not one of ring | tree", InputError);
}

TEST_CASE("a quantity needs a string with a unit") {
    const auto j = parse(R"({"m": 80, "n": "80 parsecs"})");
    JsonObject o(j, "d.json");
    CHECK_THROWS_WITH_AS(o.required<Bytes>("m"), "d.json: /m: expected a string with a unit, got an integer", InputError);
    CHECK_THROWS_WITH_AS(o.required<Bytes>("n"), doctest::Contains("d.json: /n: unknown unit"), InputError);
}

TEST_CASE("malformed JSON names the line") {
    CHECK_THROWS_WITH_AS(parse_json_text("{\n  \"a\": 1,\n}", "x.json"), doctest::Contains("x.json: malformed JSON"),
                         InputError);
    CHECK_THROWS_WITH_AS(parse_json_text("{\n  \"a\": 1,\n}", "x.json"), doctest::Contains("line 3"), InputError);
    CHECK_THROWS_WITH_AS(read_json_file("/nonexistent/file.json"), "/nonexistent/file.json: cannot open file",
                         InputError);
    CHECK_THROWS_WITH_AS(JsonObject(parse("[1]"), "y.json"), "y.json: /: expected an object, got an array", InputError);
}
