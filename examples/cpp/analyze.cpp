// Analyse a match with footml from C++: the RAII wrapper of footml.hpp (handles freed by
// unique_ptr deleters, error codes turned into exceptions), a lambda receiving progress
// events, and the report's per-frame tables read as arrays.
//
//   c++ -std=c++17 -I include examples/cpp/analyze.cpp -o analyze_cpp
//       -L target/release -lfootml -Wl,-rpath,"$PWD/target/release"   (one command line)
//   ./analyze_cpp config.json
//
// Prints `events: N`, `track rows: N`, `tracks: N`, `ball rows: N`.
#include <atomic>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "footml.hpp"

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " CONFIG.json\n";
        return 2;
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::cerr << "cannot read " << argv[1] << "\n";
        return 1;
    }
    std::stringstream config;
    config << in.rdbuf();
    try {
        footml::Pipeline pipeline(config.str());
        std::atomic<int> events{0};
        footml::Report report = pipeline.run([&](const char *) { events++; });
        auto [tracks, n_tracks] = report.tracks();
        std::set<uint64_t> ids;
        for (size_t i = 0; i < n_tracks; i++) ids.insert(tracks[i].track_id);
        std::cout << "events: " << events << "\n"
                  << "track rows: " << n_tracks << "\n"
                  << "tracks: " << ids.size() << "\n"
                  << "ball rows: " << report.ball().second << "\n"
                  << "json bytes: " << report.json().size() << "\n";
    } catch (const footml::Error &e) {
        std::cerr << "footml " << footml_version() << ": " << e.what() << " (code " << e.code() << ")\n";
        return 1;
    }
    return 0;
}
