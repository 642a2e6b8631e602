/* footml_report_read and footml_report_track_role. Run under valgrind by tests/c_example.rs:
 *
 *   report_read INLINE.json PARQUET.json MISSING.json NOT_JSON.json BAD_TABLE.json NO_TABLE.json
 *
 * Reads the same report written inline and with Parquet tables and prints, for each, one line
 * per track row ("row,<format>,frame,track_id,x,y,w,h,score,team,pitch_x,pitch_y") and one per
 * track ("role,<format>,track_id,role"), exactly enough to parse back; the test compares them
 * with the report it wrote. The other files must fail with their codes, each with a message
 * naming the file. Exits non-zero when a check fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "footml.h"
#include "check.h"

static int contains(const char *s, const char *needle) { return s && strstr(s, needle) != NULL; }

static void print_report(const char *format, const char *path) {
    footml_report *report = (footml_report *)1;
    char *error = (char *)1;
    footml_result rc = footml_report_read(path, &report, &error);
    CHECK(rc == FOOTML_OK && report != NULL && error == NULL);
    if (rc != FOOTML_OK) {
        fprintf(stderr, "%s: %s\n", format, error ? error : footml_result_message(rc));
        footml_string_free(error);
        return;
    }
    const footml_track_row *rows = NULL;
    size_t len = 0;
    CHECK(footml_report_tracks(report, &rows, &len) == FOOTML_OK && len > 0);
    uint64_t max_id = 0;
    for (size_t i = 0; i < len; i++) {
        const footml_track_row *r = &rows[i];
        /* %.9g and %.17g: the shortest decimal widths that give every f32 / f64 back exactly. */
        printf("row,%s,%llu,%llu,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%.17g,%.17g\n", format, (unsigned long long)r->frame,
               (unsigned long long)r->track_id, r->x, r->y, r->w, r->h, r->score, r->team, r->pitch_x, r->pitch_y);
        if (r->track_id > max_id) max_id = r->track_id;
    }
    /* Every track id has a role (or FOOTML_ROLE_NONE); ids the report lacks are errors. */
    for (uint64_t id = 1; id <= max_id; id++) {
        int32_t role = 99;
        footml_result r = footml_report_track_role(report, id, &role);
        if (r == FOOTML_OK) {
            CHECK(role >= FOOTML_ROLE_NONE && role <= FOOTML_ROLE_UNDECIDED);
            printf("role,%s,%llu,%d\n", format, (unsigned long long)id, role);
        } else {
            CHECK(r == FOOTML_ERR_INVALID_ARGUMENT && role == 99);
        }
    }
    int32_t role = 99;
    CHECK(footml_report_track_role(report, max_id + 1, &role) == FOOTML_ERR_INVALID_ARGUMENT && role == 99);
    CHECK(contains(footml_report_last_error(report), "no track"));
    CHECK(footml_report_track_role(report, 1, NULL) == FOOTML_ERR_NULL_POINTER);
    footml_report_free(report);
}

/* `path` must fail with `want`, leave *report_out NULL and name the file in the message. */
static void read_fails(const char *path, footml_result want, const char *named) {
    footml_report *report = (footml_report *)1;
    char *error = NULL;
    footml_result rc = footml_report_read(path, &report, &error);
    CHECK(rc == want && report == NULL);
    CHECK(contains(error, named));
    if (rc != want || !contains(error, named)) {
        fprintf(stderr, "%s: code %d (want %d): %s\n", path, (int)rc, (int)want, error ? error : "(no message)");
    }
    footml_string_free(error);
    /* Without error_out the code is the same. */
    CHECK(footml_report_read(path, &report, NULL) == want && report == NULL);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s INLINE PARQUET MISSING NOT_JSON BAD_TABLE NO_TABLE\n", argv[0]);
        return 2;
    }
    print_report("inline", argv[1]);
    print_report("parquet", argv[2]);

    read_fails(argv[3], FOOTML_ERR_NOT_FOUND, argv[3]);
    read_fails(argv[4], FOOTML_ERR_INPUT, argv[4]);
    /* A table that is not its table, or is gone: the message names the table file. */
    read_fails(argv[5], FOOTML_ERR_INPUT, ".parquet");
    read_fails(argv[6], FOOTML_ERR_NOT_FOUND, ".parquet");

    footml_report *report = (footml_report *)1;
    char *error = NULL;
    CHECK(footml_report_read(NULL, &report, &error) == FOOTML_ERR_NULL_POINTER && report == NULL);
    CHECK(contains(error, "path"));
    footml_string_free(error);
    CHECK(footml_report_read(argv[1], NULL, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(footml_report_read("/tmp/\xff.json", &report, NULL) == FOOTML_ERR_INVALID_UTF8 && report == NULL);
    CHECK(footml_report_track_role(NULL, 1, NULL) == FOOTML_ERR_NULL_POINTER);
    CHECK(strcmp(footml_result_message(FOOTML_ERR_BUSY), "another worker is running this pipeline; retry later") == 0);
    return failures ? 1 : 0;
}
