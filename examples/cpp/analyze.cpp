// Analyse a match with footml from C++: a small RAII wrapper over the C API (handles freed
// by unique_ptr deleters, error codes turned into exceptions), a lambda receiving progress
// events, and the report's per-frame tables read as arrays.
//
//   c++ -std=c++17 -I include examples/cpp/analyze.cpp -o analyze_cpp
//       -L target/release -lfootml -Wl,-rpath,"$PWD/target/release"   (one command line)
//   ./analyze_cpp config.json
//
// Prints `events: N`, `track rows: N`, `tracks: N`, `ball rows: N`.
#include <atomic>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "footml.h"

namespace footml {

// A failed footml call: the code and footml's message.
class Error : public std::runtime_error {
  public:
    Error(footml_result code, const std::string &detail)
        : std::runtime_error(std::string(footml_result_message(code)) + ": " + detail), code_(code) {}
    footml_result code() const { return code_; }

  private:
    footml_result code_;
};

struct PipelineDeleter {
    void operator()(footml_pipeline *p) const { footml_pipeline_free(p); }
};
struct ReportDeleter {
    void operator()(footml_report *r) const { footml_report_free(r); }
};

// A finished run's report; the tables point into it and live as long as it does.
class Report {
  public:
    explicit Report(footml_report *r) : report_(r) {}
    std::string json() const {
        const char *json = nullptr;
        check(footml_report_json(report_.get(), &json));
        return json;
    }
    std::pair<const footml_track_row *, size_t> tracks() const {
        const footml_track_row *rows = nullptr;
        size_t len = 0;
        check(footml_report_tracks(report_.get(), &rows, &len));
        return {rows, len};
    }
    std::pair<const footml_ball_row *, size_t> ball() const {
        const footml_ball_row *rows = nullptr;
        size_t len = 0;
        check(footml_report_ball(report_.get(), &rows, &len));
        return {rows, len};
    }

  private:
    static void check(footml_result rc) {
        if (rc != FOOTML_OK) throw Error(rc, "report");
    }
    std::unique_ptr<footml_report, ReportDeleter> report_;
};

// A pipeline from JSON config; run() takes any callable for the events.
class Pipeline {
  public:
    using Callback = std::function<void(const char *event_json)>;

    explicit Pipeline(const std::string &config_json) {
        footml_pipeline *p = nullptr;
        char *error = nullptr;
        footml_result rc = footml_pipeline_new(config_json.c_str(), &p, &error);
        if (rc != FOOTML_OK) {
            std::string detail = error ? error : "";
            footml_string_free(error);
            throw Error(rc, detail);
        }
        pipeline_.reset(p);
    }

    Report run(const Callback &on_event) {
        footml_report *report = nullptr;
        // The callback runs on a footml thread; footml never calls it after run returns.
        auto trampoline = [](const char *event_json, void *userdata) {
            (*static_cast<const Callback *>(userdata))(event_json);
        };
        footml_result rc =
            footml_pipeline_run(pipeline_.get(), trampoline, const_cast<Callback *>(&on_event), &report);
        if (rc != FOOTML_OK) {
            const char *detail = footml_pipeline_last_error(pipeline_.get());
            throw Error(rc, detail ? detail : "");
        }
        return Report(report);
    }

    // Thread-safe: stops a run in progress.
    void cancel() { footml_pipeline_cancel(pipeline_.get()); }

  private:
    std::unique_ptr<footml_pipeline, PipelineDeleter> pipeline_;
};

}  // namespace footml

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
