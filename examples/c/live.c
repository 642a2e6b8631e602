/* Live mode from C: push one frame of detections at a time and print each frame's tracks as
 * soon as footml returns them, then finish the match into a report.
 *
 *   cc -std=c11 -I include examples/c/live.c -L target/release -lfootml \
 *      -Wl,-rpath,"$PWD/target/release" -o live
 *   ./live DETS.txt [HOMOGRAPHY.json]
 *
 * DETS.txt is a MOTChallenge detections file (`frame,-1,x,y,w,h,score,team,...`, frames from
 * 1, 1920x1080 pixels, 25 fps), e.g. tests/fixtures/skillcorner/det.txt. Column 8, when
 * present, is the team the caller knows for the box (0 or 1, -1 unknown, as in footml's
 * detections files): each track takes the majority of its boxes' teams. Prints one line per
 * track and frame: `frame,track_id,x,y,w,h,pitch_x,pitch_y,team`, then `report tracks: N`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "footml.h"

#define MAX_DETS 256

static int fail(const footml_live *live, footml_result rc, const char *what) {
    const char *detail = footml_live_last_error(live);
    fprintf(stderr, "%s: %s (code %u): %s\n", what, footml_result_message(rc), (unsigned)rc, detail ? detail : "");
    return 1;
}

/* Pushes one frame's detections and prints its tracks. */
static int push_frame(footml_live *live, long frame, const footml_detection *dets, const int32_t *teams, size_t n) {
    footml_result rc =
        footml_live_push_detections_teams(live, dets, n, teams, n, NULL, 0, (double)(frame - 1) / 25.0);
    if (rc != FOOTML_OK) return fail(live, rc, "push");
    const footml_track_row *rows = NULL;
    size_t len = 0;
    rc = footml_live_frame_tracks(live, &rows, &len);
    if (rc != FOOTML_OK) return fail(live, rc, "frame_tracks");
    for (size_t i = 0; i < len; i++)
        printf("%llu,%llu,%.9g,%.9g,%.9g,%.9g,%.17g,%.17g,%d\n", (unsigned long long)rows[i].frame,
               (unsigned long long)rows[i].track_id, rows[i].x, rows[i].y, rows[i].w, rows[i].h, rows[i].pitch_x,
               rows[i].pitch_y, (int)rows[i].team);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s DETS.txt [HOMOGRAPHY.json]\n", argv[0]);
        return 2;
    }
    char config[4096];
    int n = snprintf(config, sizeof config,
                     "{\"fps\": 25, \"frame_size\": [1920, 1080], \"live\": {\"input\": \"detections\"}%s%s%s}",
                     argc == 3 ? ", \"homography_path\": \"" : "", argc == 3 ? argv[2] : "", argc == 3 ? "\"" : "");
    if (n < 0 || (size_t)n >= sizeof config) return 2;

    footml_live *live = NULL;
    char *error = NULL;
    footml_result rc = footml_live_new(config, NULL, NULL, &live, &error);
    if (rc != FOOTML_OK) {
        fprintf(stderr, "footml_live_new: %s: %s\n", footml_result_message(rc), error ? error : "");
        footml_string_free(error);
        return 1;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        footml_live_free(live);
        return 1;
    }

    footml_detection dets[MAX_DETS];
    int32_t teams[MAX_DETS];
    size_t count = 0;
    long frame = 1, line_frame;
    float x, y, w, h, score;
    int team, status = 0;
    char line[512];
    while (status == 0 && fgets(line, sizeof line, f)) {
        int fields = sscanf(line, "%ld,%*f,%f,%f,%f,%f,%f,%d", &line_frame, &x, &y, &w, &h, &score, &team);
        if (fields < 6) continue;
        if (fields == 6) team = -1; /* no column 8: unknown */
        /* Frames without detections are pushed too: the tracker must see time pass. */
        while (status == 0 && frame < line_frame) {
            status = push_frame(live, frame++, dets, teams, count);
            count = 0;
        }
        if (count < MAX_DETS) {
            teams[count] = team;
            dets[count++] = (footml_detection){x, y, w, h, score, 0};
        }
    }
    if (status == 0 && count > 0) status = push_frame(live, frame, dets, teams, count);
    fclose(f);

    footml_report *report = NULL;
    if (status == 0) {
        rc = footml_live_finish(live, &report);
        if (rc != FOOTML_OK) status = fail(live, rc, "finish");
    }
    if (status == 0) {
        const footml_track_row *rows = NULL;
        size_t len = 0;
        footml_report_tracks(report, &rows, &len);
        size_t tracks = 0; /* distinct ids: rows are sorted by frame, ids start at 1 */
        for (size_t i = 0; i < len; i++)
            if (rows[i].track_id > tracks) tracks = rows[i].track_id;
        printf("report tracks: %zu\n", tracks);
    }
    footml_report_free(report);
    footml_live_free(live);
    return status;
}
