// footml.hpp: a small RAII C++ wrapper over footml's C API (include/footml.h), shared by the
// C++ examples. Handles are freed by unique_ptr deleters, error codes become exceptions,
// callbacks are any callable. Header-only: include it next to footml.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

struct LiveDeleter {
    void operator()(footml_live *l) const { footml_live_free(l); }
};

// One pushed frame's results, copied out of the session (the C API's rows are only valid
// until the next push).
struct LiveFrame {
    // Each row's `team` is the track's provisional live team (-1 while the classification
    // warms up, for referees, undecided tracks and sessions without kit colours), or with
    // pushed teams the majority of its detections' teams (-1 when none had one).
    std::vector<footml_track_row> tracks;
    std::optional<footml_ball_row> ball;
    // Not estimated (no calibration or no ball) when `estimated` is 0.
    footml_possession possession;

    // The provisional team (0 or 1) of a track of this frame; -1 when it has none or is not
    // in the frame.
    int32_t team_of(uint64_t track_id) const {
        for (const auto &t : tracks)
            if (t.track_id == track_id) return t.team;
        return -1;
    }
};

// A live session: push frames one at a time, read each frame's results at once, finish()
// into the report. Move-only; the destructor frees (and, unfinished, cancels) the session.
class LiveSession {
  public:
    using Callback = std::function<void(const char *event_json)>;

    explicit LiveSession(const std::string &config_json, Callback on_event = nullptr)
        : on_event_(std::make_unique<Callback>(std::move(on_event))) {
        footml_live *l = nullptr;
        char *error = nullptr;
        // The callback object lives on the heap so that moving the session keeps its address.
        auto trampoline = [](const char *event_json, void *userdata) {
            auto &cb = *static_cast<Callback *>(userdata);
            if (cb) cb(event_json);
        };
        footml_result rc = footml_live_new(config_json.c_str(), trampoline, on_event_.get(), &l, &error);
        if (rc != FOOTML_OK) {
            std::string detail = error ? error : "";
            footml_string_free(error);
            throw Error(rc, detail);
        }
        live_.reset(l);
    }

    // Pushes one frame of detections (and ball candidates, for `live.ball_candidates`
    // sessions; nullptr for none) taken at `timestamp_s`.
    LiveFrame push(const std::vector<footml_detection> &players, const std::vector<footml_detection> *ball,
                   double timestamp_s) {
        check(footml_live_push_detections(live_.get(), players.data(), players.size(),
                                          ball ? ball->data() : nullptr, ball ? ball->size() : 0, timestamp_s));
        return frame();
    }

    // Pushes one frame of detections with the team the caller knows for each player detection:
    // `teams[i]` is 0 or 1 for `players[i]`, -1 when unknown (one per player, else Error with
    // FOOTML_ERR_INVALID_ARGUMENT; empty gives no teams). Each track's `team` is the majority
    // of its detections'.
    LiveFrame push(const std::vector<footml_detection> &players, const std::vector<int32_t> &teams,
                   const std::vector<footml_detection> *ball, double timestamp_s) {
        check(footml_live_push_detections_teams(live_.get(), players.data(), players.size(),
                                                teams.empty() ? nullptr : teams.data(), teams.size(), ball ? ball->data() : nullptr, ball ? ball->size() : 0,
                                                timestamp_s));
        return frame();
    }

    // Pushes one packed RGB24 (or BGR24) frame.
    LiveFrame push_rgb(const uint8_t *data, size_t len, uint32_t width, uint32_t height, size_t stride,
                       uint32_t format, double timestamp_s) {
        check(footml_live_push_rgb(live_.get(), data, len, width, height, stride, format, timestamp_s));
        return frame();
    }

    // Ends the feed: the match stages run, the report comes back.
    Report finish() {
        footml_report *report = nullptr;
        check(footml_live_finish(live_.get(), &report));
        return Report(report);
    }

    // Thread-safe: a push waiting for its result throws Error with FOOTML_ERR_CANCELLED.
    void cancel() { footml_live_cancel(live_.get()); }

  private:
    LiveFrame frame() {
        LiveFrame f{};
        const footml_track_row *rows = nullptr;
        size_t len = 0;
        check(footml_live_frame_tracks(live_.get(), &rows, &len));
        f.tracks.assign(rows, rows + len);
        const footml_ball_row *ball = nullptr;
        check(footml_live_frame_ball(live_.get(), &ball));
        if (ball) f.ball = *ball;
        check(footml_live_frame_possession(live_.get(), &f.possession));
        return f;
    }
    void check(footml_result rc) const {
        if (rc != FOOTML_OK) {
            const char *detail = footml_live_last_error(live_.get());
            throw Error(rc, detail ? detail : "");
        }
    }
    std::unique_ptr<Callback> on_event_;
    std::unique_ptr<footml_live, LiveDeleter> live_;
};

}  // namespace footml
