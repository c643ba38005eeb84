// Text in the HTML reports (html.cpp, planning_html.cpp): numbers with a fixed number of digits and
// strings escaped for element text and for attributes in either kind of quotes. Private to report.
#pragma once

#include <cstdio>
#include <string>

namespace splitsim::report {

inline std::string fmt(double v, int digits = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

inline std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace splitsim::report
