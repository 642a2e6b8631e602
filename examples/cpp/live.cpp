// Live mode from C++: the RAII LiveSession of footml.hpp fed one frame of detections (players
// and ball candidates, as a broadcast tool's own detector would give them) at a time; each
// frame's tracks, ball and possession come back from the push, then finish() gives the report.
//
//   c++ -std=c++17 -I include examples/cpp/live.cpp -o live_cpp
//       -L target/release -lfootml -Wl,-rpath,"$PWD/target/release"   (one command line)
//   ./live_cpp DETS.txt BALL.txt HOMOGRAPHY.json
//
// DETS.txt and BALL.txt are MOTChallenge detection files (`frame,-1,x,y,w,h,score,team,...`,
// frames from 1) of 1920x1080 frames at 25 fps, e.g. tests/fixtures/skillcorner/{det,ball_det}.txt.
// DETS.txt's column 8, when present, is each player box's team as the caller knows it (0 or 1,
// -1 unknown): pushed with the boxes, it is the tracks' and possession's team.
// Prints per frame `frame,tracks,ball_x,ball_y,owner,team` (ball NaN when none, owner 0 and
// team -1 when nobody has the ball), then `report tracks: N` and `events: N`.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "footml.hpp"

// One frame's boxes and their teams (column 8; -1 when absent).
struct Boxes {
    std::vector<footml_detection> dets;
    std::vector<int32_t> teams;
};
using Frames = std::map<long, Boxes>;

// The detections of a MOTChallenge file by frame.
static Frames read_mot(const char *path) {
    FILE *f = std::fopen(path, "r");
    if (!f) throw std::runtime_error(std::string("cannot read ") + path);
    Frames frames;
    char line[512];
    long frame;
    float x, y, w, h, score;
    int team;
    while (std::fgets(line, sizeof line, f)) {
        int fields = std::sscanf(line, "%ld,%*f,%f,%f,%f,%f,%f,%d", &frame, &x, &y, &w, &h, &score, &team);
        if (fields < 6) continue;
        frames[frame].dets.push_back(footml_detection{x, y, w, h, score, 0});
        frames[frame].teams.push_back(fields == 7 ? team : -1);
    }
    std::fclose(f);
    return frames;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " DETS.txt BALL.txt HOMOGRAPHY.json\n";
        return 2;
    }
    try {
        Frames players = read_mot(argv[1]), ball = read_mot(argv[2]);
        long last = std::max(players.empty() ? 0 : players.rbegin()->first, ball.empty() ? 0 : ball.rbegin()->first);
        std::string config = std::string("{\"fps\": 25, \"frame_size\": [1920, 1080], \"homography_path\": \"") +
                             argv[3] +
                             "\", \"live\": {\"input\": \"detections\", \"ball_candidates\": true},"
                             " \"stage_configs\": {\"ball_tracking\": {\"min_ball_radius\": 0.5, \"max_ball_radius\": 10}}}";
        std::atomic<int> events{0};
        footml::LiveSession session(config, [&](const char *) { events++; });
        const Boxes none;
        std::cout << std::setprecision(9);
        // Every frame is pushed, with or without detections: the trackers must see time pass.
        for (long frame = 1; frame <= last; frame++) {
            auto p = players.find(frame);
            auto b = ball.find(frame);
            const Boxes &pf = p == players.end() ? none : p->second;
            footml::LiveFrame r =
                session.push(pf.dets, pf.teams, b == ball.end() ? &none.dets : &b->second.dets, (frame - 1) / 25.0);
            // Possession's team is its player's live team.
            if (r.possession.track_id != 0 && r.possession.team != r.team_of(r.possession.track_id)) {
                std::cerr << "frame " << frame - 1 << ": possession team " << r.possession.team << ", its player's "
                          << r.team_of(r.possession.track_id) << "\n";
                return 1;
            }
            double bx = r.ball ? r.ball->x : NAN, by = r.ball ? r.ball->y : NAN;
            std::cout << frame - 1 << "," << r.tracks.size() << "," << bx << "," << by << ","
                      << r.possession.track_id << "," << r.possession.team << "\n";
        }
        footml::Report report = session.finish();
        auto [rows, n] = report.tracks();
        std::set<uint64_t> ids;
        for (size_t i = 0; i < n; i++) ids.insert(rows[i].track_id);
        std::cout << "report tracks: " << ids.size() << "\n" << "events: " << events << "\n";
    } catch (const footml::Error &e) {
        std::cerr << "footml: " << e.what() << " (code " << e.code() << ")\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
