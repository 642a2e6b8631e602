/* The object API under test: pipelines (run, events, cancel from another thread, run twice),
 * reports (JSON, tables), live sessions (pixels and detections pushes, bad buffers, closed
 * sessions) and their NULL / invalid UTF-8 / bad enum arguments. Run under valgrind by
 * tests/c_example.rs with a short detections file as argv[1]; exits non-zero on failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "footml.h"
#include "check.h"


static int contains(const char *s, const char *needle) { return s && strstr(s, needle) != NULL; }

struct counts {
    int events, started, completed;
    footml_pipeline *cancel_me; /* cancel on the first event when set */
};

/* Runs on a footml thread. */
static void on_event(const char *json, void *userdata) {
    struct counts *c = userdata;
    c->events++;
    if (contains(json, "\"stage_started\"")) c->started++;
    if (contains(json, "\"pipeline_completed\"")) c->completed++;
    if (c->cancel_me) footml_pipeline_cancel(c->cancel_me);
}

static void pipelines(const char *dets) {
    char config[1024];
    snprintf(config, sizeof config, "{\"detections_path\": \"%s\", \"fps\": 25, \"frame_size\": [1920, 1080]}", dets);
    footml_pipeline *p = (footml_pipeline *)1;
    char *error = NULL;

    /* Construction errors come through error_out; NULL arguments are codes. */
    CHECK(footml_pipeline_new(NULL, &p, &error) == FOOTML_ERR_NULL_POINTER && p == NULL && contains(error, "config_json"));
    footml_string_free(error);
    CHECK(footml_pipeline_new(config, NULL, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_pipeline_new("{\"fps\": \xff}", &p, NULL) == FOOTML_ERR_INVALID_UTF8 && p == NULL);
    CHECK(footml_pipeline_new("{\"bogus\": 1}", &p, &error) == FOOTML_ERR_CONFIG && contains(error, "bogus"));
    footml_string_free(error);
    CHECK(footml_pipeline_new("{\"detections_path\": \"/nonexistent/d.txt\", \"fps\": 25, \"frame_size\": [8, 8]}", &p,
                              NULL) == FOOTML_ERR_NOT_FOUND);

    /* A run with events, then the tables. */
    CHECK(footml_pipeline_new(config, &p, &error) == FOOTML_OK && p != NULL && error == NULL);
    CHECK(footml_pipeline_last_error(p) == NULL);
    struct counts c = {0, 0, 0, NULL};
    footml_report *report = (footml_report *)1;
    CHECK(footml_pipeline_run(p, on_event, &c, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(contains(footml_pipeline_last_error(p), "report_out"));
    CHECK(footml_pipeline_run(p, on_event, &c, &report) == FOOTML_OK && report != NULL);
    CHECK(c.started >= 2 && c.completed == 1);
    CHECK(footml_report_last_error(report) == NULL); /* no failed call on it yet */
    const footml_track_row *rows = NULL;
    size_t len = 0;
    CHECK(footml_report_tracks(report, &rows, &len) == FOOTML_OK && len > 0 && rows != NULL);
    for (size_t i = 1; i < len; i++)
        CHECK(rows[i - 1].frame < rows[i].frame || (rows[i - 1].frame == rows[i].frame && rows[i - 1].track_id < rows[i].track_id));
    CHECK(rows[0].team == -1 && isnan(rows[0].pitch_x) && rows[0].w > 0);
    const footml_ball_row *ball = (const footml_ball_row *)1;
    CHECK(footml_report_ball(report, &ball, &len) == FOOTML_OK && len == 0 && ball == NULL);
    const footml_calibration_row *cal = (const footml_calibration_row *)1;
    CHECK(footml_report_calibration(report, &cal, &len) == FOOTML_OK && len == 0 && cal == NULL);
    CHECK(footml_report_calibration(report, NULL, &len) == FOOTML_ERR_NULL_POINTER);
    CHECK(contains(footml_report_last_error(report), "rows_out"));
    CHECK(footml_report_calibration(NULL, &cal, &len) == FOOTML_ERR_NULL_POINTER);
    const char *json = NULL;
    CHECK(footml_report_json(report, &json) == FOOTML_OK && contains(json, "\"schema_version\""));
    CHECK(footml_report_json(report, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(contains(footml_report_last_error(report), "json_out"));
    CHECK(footml_report_json(NULL, &json) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_report_tracks(report, &rows, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(contains(footml_report_last_error(report), "len_out"));
    CHECK(footml_report_last_error(NULL) == NULL);
    footml_report_free(report);
    /* A pipeline runs once. */
    CHECK(footml_pipeline_run(p, NULL, NULL, &report) == FOOTML_ERR_CLOSED && report == NULL);
    CHECK(contains(footml_pipeline_last_error(p), "already run"));
    footml_pipeline_free(p);

    /* With a static homography every frame (50 in the file) has a calibration row: the matrix
     * as given, row-major, and its source. */
    char calibrated[1280];
    snprintf(calibrated, sizeof calibrated,
             "{\"detections_path\": \"%s\", \"fps\": 25, \"frame_size\": [1920, 1080], \"stage_configs\": "
             "{\"pitch_calibration\": {\"image_to_pitch\": [[0.1, 0, -50], [0, 0.1, -30], [0, 0, 1]]}}}",
             dets);
    CHECK(footml_pipeline_new(calibrated, &p, NULL) == FOOTML_OK);
    CHECK(footml_pipeline_run(p, NULL, NULL, &report) == FOOTML_OK);
    CHECK(footml_report_calibration(report, &cal, &len) == FOOTML_OK && len == 50 && cal != NULL);
    const double given[9] = {0.1, 0, -50, 0, 0.1, -30, 0, 0, 1};
    for (size_t i = 0; i < len; i++) {
        CHECK(cal[i].frame == i && cal[i].source == FOOTML_CALIBRATION_GIVEN && cal[i].from_frame == -1);
        CHECK(cal[i].keypoints == 0 && cal[i].inliers == 0 && isnan(cal[i].rms_error_m));
        CHECK(memcmp(cal[i].image_to_pitch, given, sizeof given) == 0);
    }
    footml_report_free(report);
    footml_pipeline_free(p);

    /* Cancelled from another thread (the event callback's) while it runs. */
    CHECK(footml_pipeline_new(config, &p, NULL) == FOOTML_OK);
    struct counts k = {0, 0, 0, p};
    CHECK(footml_pipeline_run(p, on_event, &k, &report) == FOOTML_ERR_CANCELLED && report == NULL);
    CHECK(contains(footml_pipeline_last_error(p), "cancelled"));
    footml_pipeline_free(p);

    /* An output directory that cannot be made (the detections file is in the way): an I/O
     * error from the run, with the path in the message. */
    char unwritable[1280];
    snprintf(unwritable, sizeof unwritable,
             "{\"detections_path\": \"%s\", \"fps\": 25, \"frame_size\": [1920, 1080], \"output_dir\": \"%s/out\"}",
             dets, dets);
    CHECK(footml_pipeline_new(unwritable, &p, NULL) == FOOTML_OK);
    CHECK(footml_pipeline_run(p, NULL, NULL, &report) == FOOTML_ERR_IO && report == NULL);
    CHECK(contains(footml_pipeline_last_error(p), "/out"));
    footml_pipeline_free(p);

    CHECK(footml_pipeline_cancel(NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_pipeline_run(NULL, NULL, NULL, &report) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_pipeline_last_error(NULL) == NULL);
    footml_pipeline_free(NULL);
    footml_report_free(NULL);
}

static void live_pixels(void) {
    footml_live *live = NULL;
    char *error = NULL;
    CHECK(footml_live_new("{\"fps\": 25}", NULL, NULL, &live, &error) == FOOTML_ERR_CONFIG && live == NULL &&
          contains(error, "frame_size"));
    footml_string_free(error);
    /* A missing homography file is a missing input, like a missing detections file. */
    CHECK(footml_live_new("{\"fps\": 25, \"frame_size\": [64, 48], \"homography_path\": \"/nonexistent/h.json\"}",
                          NULL, NULL, &live, &error) == FOOTML_ERR_NOT_FOUND &&
          contains(error, "homography file not found: /nonexistent/h.json"));
    footml_string_free(error);
    CHECK(footml_live_new("{\"fps\": 25, \"frame_size\": [64, 48], \"live\": {\"input\": \"pixels\"}}", NULL, NULL, &live, NULL) ==
          FOOTML_OK);
    uint64_t next = 99;
    CHECK(footml_live_next_index(live, &next) == FOOTML_OK && next == 0);

    /* A grass-green 64x48 RGB frame with 2 bytes of row padding. */
    size_t stride = 64 * 3 + 2;
    unsigned char *rgb = calloc(stride * 48, 1);
    for (size_t i = 0; i < stride * 48; i += 3) rgb[i + 1] = 140;
    CHECK(footml_live_push_rgb(live, rgb, stride * 48, 64, 48, stride, FOOTML_PIXEL_RGB24, 0.0) == FOOTML_OK);
    const footml_track_row *rows = (const footml_track_row *)1;
    size_t len = 7;
    CHECK(footml_live_frame_tracks(live, &rows, &len) == FOOTML_OK && len == 0 && rows == NULL);
    const footml_ball_row *ball = (const footml_ball_row *)1;
    CHECK(footml_live_frame_ball(live, &ball) == FOOTML_OK && ball == NULL);
    /* Not calibrated: no event detection, so possession is not estimated. */
    footml_possession possession = {7, 7, 7};
    CHECK(footml_live_frame_possession(live, &possession) == FOOTML_OK && possession.estimated == 0 &&
          possession.team == -1 && possession.track_id == 0);
    CHECK(footml_live_frame_possession(live, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_frame_possession(NULL, &possession) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_next_index(live, &next) == FOOTML_OK && next == 1);

    /* Bad buffers: typed codes and messages, and the session goes on. */
    CHECK(footml_live_push_rgb(live, rgb, stride * 48, 64, 48, 100, FOOTML_PIXEL_RGB24, 0.1) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "stride"));
    CHECK(footml_live_push_rgb(live, rgb, stride * 47, 64, 48, stride, FOOTML_PIXEL_BGR24, 0.1) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "buffer"));
    CHECK(footml_live_push_rgb(live, rgb, stride * 48, 32, 48, stride, FOOTML_PIXEL_RGB24, 0.1) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "frame size"));
    CHECK(footml_live_push_rgb(live, rgb, stride * 48, 64, 48, stride, 7, 0.1) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(footml_live_push_rgb(live, rgb, stride * 48, 64, 48, stride, FOOTML_PIXEL_RGB24, 0.0) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "timestamp"));
    CHECK(footml_live_push_rgb(live, NULL, stride * 48, 64, 48, stride, FOOTML_PIXEL_RGB24, 0.1) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_push_detections(live, NULL, 0, NULL, 0, 0.1) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "takes pixels"));

    /* YUV 4:2:0 with tight planes (swscale must not read past them). */
    unsigned char y[64 * 48], u[32 * 24], v[32 * 24];
    memset(y, 120, sizeof y);
    memset(u, 90, sizeof u);
    memset(v, 100, sizeof v);
    footml_yuv420_frame frame = {{y, u, v}, {sizeof y, sizeof u, sizeof v}, {64, 32, 32}, 64, 48,
                                 FOOTML_YUV_BT709, 0, 0.04};
    CHECK(footml_live_push_yuv420(live, &frame) == FOOTML_OK);
    frame.timestamp_s = 0.08;
    frame.matrix = 5;
    CHECK(footml_live_push_yuv420(live, &frame) == FOOTML_ERR_INVALID_ARGUMENT);
    frame.matrix = FOOTML_YUV_BT601;
    frame.planes[2] = NULL;
    CHECK(footml_live_push_yuv420(live, &frame) == FOOTML_ERR_NULL_POINTER);
    frame.planes[2] = v;
    frame.lens[1] = 10;
    CHECK(footml_live_push_yuv420(live, &frame) == FOOTML_ERR_INVALID_ARGUMENT && contains(footml_live_last_error(live), "u buffer"));
    CHECK(footml_live_push_yuv420(live, NULL) == FOOTML_ERR_NULL_POINTER);
    free(rgb);

    footml_report *report = NULL;
    CHECK(footml_live_finish(live, &report) == FOOTML_OK && report != NULL);
    const char *json = NULL;
    CHECK(footml_report_json(report, &json) == FOOTML_OK && contains(json, "\"frame_count\":2"));
    footml_report_free(report);
    /* Finished: pushes and a second finish are CLOSED. */
    CHECK(footml_live_push_detections(live, NULL, 0, NULL, 0, 1.0) == FOOTML_ERR_CLOSED);
    CHECK(footml_live_finish(live, &report) == FOOTML_ERR_CLOSED && report == NULL);
    footml_live_free(live);
}

static void live_detections(void) {
    struct counts events = {0, 0, 0, NULL};
    footml_live *live = NULL;
    CHECK(footml_live_new("{\"fps\": 25, \"frame_size\": [1920, 1080], \"live\": {\"input\": \"detections\", "
                          "\"ball_candidates\": true}}",
                          on_event, &events, &live, NULL) == FOOTML_OK);
    footml_detection players[2] = {{100, 200, 30, 80, 0.9f, 0}, {500, 300, 30, 80, 0.8f, 0}};
    footml_detection ball = {700, 400, 12, 12, 0.7f, 0};
    const footml_track_row *rows = NULL;
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        players[0].x += 2;
        ball.x += 5;
        CHECK(footml_live_push_detections(live, players, 2, &ball, 1, i / 25.0) == FOOTML_OK);
    }
    CHECK(footml_live_frame_tracks(live, &rows, &len) == FOOTML_OK && len == 2);
    CHECK(rows[0].frame == 2 && rows[0].track_id == 1 && rows[1].track_id == 2 && rows[0].team == -1);
    const footml_ball_row *b = NULL;
    CHECK(footml_live_frame_ball(live, &b) == FOOTML_OK && b != NULL && b->state == FOOTML_BALL_TRACKED);
    CHECK(b && fabsf(b->x - 721.0f) < 3.0f && b->frame == 2 && isnan(b->pitch_x));
    /* NULL with a count, a box without area. */
    CHECK(footml_live_push_detections(live, NULL, 2, NULL, 0, 1.0) == FOOTML_ERR_NULL_POINTER);
    footml_detection flat = {1, 1, 0, 10, 0.9f, 0};
    CHECK(footml_live_push_detections(live, &flat, 1, NULL, 0, 1.0) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "player detection 0"));
    /* Teams: one per player, each 0, 1 or -1; NULL only without a count. The session goes on. */
    const int32_t teams[2] = {1, -1}, two[2] = {1, 2};
    CHECK(footml_live_push_detections_teams(live, players, 2, teams, 1, NULL, 0, 1.0) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "one per player detection (2), found 1"));
    CHECK(footml_live_push_detections_teams(live, players, 2, two, 2, NULL, 0, 1.0) == FOOTML_ERR_INVALID_ARGUMENT);
    CHECK(contains(footml_live_last_error(live), "teams[1]: expected 0, 1 or -1 (unknown), found 2"));
    CHECK(footml_live_push_detections_teams(live, players, 2, NULL, 2, NULL, 0, 1.0) == FOOTML_ERR_NULL_POINTER);
    CHECK(contains(footml_live_last_error(live), "`teams` is NULL"));
    CHECK(footml_live_push_detections_teams(NULL, players, 2, teams, 2, NULL, 0, 1.0) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_push_detections_teams(live, players, 2, teams, 2, &ball, 1, 1.0) == FOOTML_OK);
    /* Track 1's detection is team 1 (its only vote), track 2's unknown. */
    CHECK(footml_live_frame_tracks(live, &rows, &len) == FOOTML_OK && len == 2);
    CHECK(rows[0].track_id == 1 && rows[0].team == 1 && rows[1].track_id == 2 && rows[1].team == -1);

    /* Cancelled: later pushes are refused, finish too; free still cleans up. */
    CHECK(footml_live_cancel(live) == FOOTML_OK);
    footml_result rc = footml_live_push_detections(live, players, 2, NULL, 0, 2.0);
    CHECK(rc == FOOTML_ERR_CANCELLED || rc == FOOTML_ERR_CLOSED);
    CHECK(footml_live_push_detections(live, players, 2, NULL, 0, 3.0) == FOOTML_ERR_CLOSED);
    footml_live_free(live);
    /* Events came as in file mode (each streaming stage started); none after free. */
    CHECK(events.started >= 3);

    /* Freed without finish: cancelled and joined, nothing leaks. */
    CHECK(footml_live_new("{\"fps\": 25, \"frame_size\": [1920, 1080]}", NULL, NULL, &live, NULL) == FOOTML_OK);
    CHECK(footml_live_push_detections(live, players, 2, NULL, 0, 0.0) == FOOTML_OK);
    footml_live_free(live);

    CHECK(footml_live_new("{\"fps\": 25, \"frame_size\": [1920, 1080]}", NULL, NULL, NULL, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_new("\xc3\x28", NULL, NULL, &live, NULL) == FOOTML_ERR_INVALID_UTF8);
    CHECK(footml_live_push_detections(NULL, NULL, 0, NULL, 0, 0.0) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_frame_tracks(NULL, &rows, &len) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_cancel(NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_live_last_error(NULL) == NULL);
    footml_live_free(NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DETS.txt\n", argv[0]);
        return 2;
    }
    pipelines(argv[1]);
    live_pixels();
    live_detections();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("objects: all checks passed\n");
    return 0;
}
